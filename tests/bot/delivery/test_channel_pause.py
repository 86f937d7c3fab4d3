"""A dead channel pauses every subscription of it, and a resume (command or CLI) resumes them all.

The platform says a channel is gone or closed to the bot: that is about the channel, not one subscription,
so the first failed send pauses all of the channel's subscriptions with one reason, and the rest of that
delivery pass sends nothing more to it (no second request to a channel known gone). `/alerts subscribe` and
`python -m bot resume PLATFORM CHANNEL` resume the whole channel, each subscription from a fresh baseline.
"""

from __future__ import annotations

import json
from pathlib import Path

from bot.commands.caller import Caller
from bot.commands.channel_settings import ChannelSettings
from bot.domain.messages import plain
from store import outbox
from store.destinations import channel_destinations
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.hub import FakeHub, ranked
from tests.support.app import CN, US, settings_for
from tests.support.cli import bot, write_config
from tests.support.discord import open_discord_app, poll_baseline_then_change


async def test_a_gone_channel_pauses_every_subscription_with_one_request_and_subscribe_resumes_all(
    fake_hub: FakeHub, db_path: Path
) -> None:
    async with FakeDiscord() as fake:
        channel = str(fake.channel_id)
        settings = settings_for(fake_hub, db_path, discord={"enabled": True, "api_base": fake.api_base},
                                console={"enabled": False}, routes=[
            {"platform": "discord", "channel": channel},
            {"platform": "discord", "channel": channel, "name": "china", "kinds": ["entered"], "countries": ["CN"]},
        ])
        app = await open_discord_app(settings)
        try:
            fake.fail_channel(fake.channel_id, 404)
            await poll_baseline_then_change(app, fake_hub)
            report = await app.deliver()
            assert (report.paused, report.sent) == ([f"discord:{channel}"], 0)
            assert len(fake.requests_to("POST", f"/channels/{channel}/messages")) == 1  # the other waits, paused
            found = await channel_destinations(app.db.conn, "discord", channel)
            assert [d.name for d in found] == ["default", "china"]
            assert all(d.paused_at is not None for d in found)
            assert len({d.paused_reason for d in found}) == 1 and "404" in str(found[0].paused_reason)
            assert (await outbox.counts(app.db.conn))["pending"] == 5  # kept: three for default, two for china

            caller = Caller("discord", channel, "1", is_admin=True)
            status = await ChannelSettings(app.db, app.settings).status(caller)
            assert sum(plain(text).startswith("⏸ Paused") for text in status.lines) == 1  # said once, per channel

            fake.heal_channel(fake.channel_id)
            answer = await ChannelSettings(app.db, app.settings).subscribe(caller, "entered", "china")
            assert answer.title == "Resumed"
            found = await channel_destinations(app.db.conn, "discord", channel)
            assert all(d.paused_at is None for d in found)
            assert (await app.deliver()).sent == 0  # what piled up while paused is dropped, for both
        finally:
            await app.close()


async def test_the_command_line_lists_each_subscription_and_resumes_the_whole_channel(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    async with FakeDiscord() as fake:
        channel = str(fake.channel_id)
        extra = (f'[discord]\nenabled = true\napi_base = "{fake.api_base}"\n\n'
                 f'[[routes]]\nplatform = "discord"\nchannel = "{channel}"\n\n'
                 f'[[routes]]\nplatform = "discord"\nchannel = "{channel}"\nname = "china"\nkinds = ["entered"]\n'
                 f'countries = ["CN"]\n')
        config = write_config(tmp_path / "c.toml", fake_hub, tmp_path / "t.db", extra=extra)
        env = {"DISCORD_TOKEN": "fake-token"}
        fake_hub.models = ranked(US[:8] + CN[:2])
        assert (await bot("once", "--config", str(config), env=env)).code == 0
        fake.fail_channel(fake.channel_id, 403)
        fake_hub.models = ranked(CN[:5] + US[:5])
        assert (await bot("once", "--config", str(config), env=env)).code == 0

        listed = await bot("channels", "--config", str(config), env=env)
        lines = [text for text in listed.out.splitlines() if text.startswith(f"discord:{channel}")]
        assert [text.split("  ")[1] for text in lines] == ["subscription default", "subscription china"]
        assert all("PAUSED: Discord answered 403" in text for text in lines), lines
        as_json = json.loads((await bot("channels", "--json", "--config", str(config), env=env)).out)
        assert [(row["subscription"], row["paused"]) for row in as_json if row["platform"] == "discord"] == [
            ("default", True), ("china", True)]

        fake.heal_channel(fake.channel_id)
        resumed = await bot("resume", "discord", channel, "--config", str(config))
        assert resumed.code == 0 and "resumed (2 subscriptions; was: Discord answered 403" in resumed.out, resumed
        as_json = json.loads((await bot("channels", "--json", "--config", str(config), env=env)).out)
        assert not any(row["paused"] for row in as_json)
