"""Alerts to Discord through the real discord.py and the fake Discord REST API: routes, faults, retries, nonces."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.discord_out import NONCE_MAX, DiscordAdapter, Pacer, make_client, nonce_for
from bot.app import Trendwatch
from bot.commands.caller import Caller
from bot.commands.channel_settings import ChannelSettings
from bot.config import Secrets
from bot.delivery.adapter import Adapter
from bot.delivery.threading import Thread
from bot.domain.messages import Alert, plain
from store import outbox
from store.db import utc_iso
from store.destinations import get_destination, set_mention
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.hub import FakeHub, ranked
from tests.support.app import CN, US, dead_pid
from tests.support.cli import bot, write_config
from tests.support.discord import discord_settings, open_discord_app, poll_baseline_then_change


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        with server.patch_discord():  # restores discord.py's process-wide Route.BASE afterwards
            yield server


async def test_once_posts_embeds_to_a_routed_channel_through_rest_alone(fake_hub: FakeHub, tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        extra = (f'[discord]\nenabled = true\napi_base = "{fake.api_base}"\n\n'
                 f'[[routes]]\nplatform = "discord"\nchannel = "{fake.channel_id}"\n')
        config = write_config(tmp_path / "c.toml", fake_hub, tmp_path / "t.db", extra=extra)
        env = {"DISCORD_TOKEN": "fake-token"}
        fake_hub.models = ranked(US[:8] + CN[:2])
        first = await bot("once", "--config", str(config), env=env)
        assert first.code == 0, first.err
        assert fake.messages(fake.channel_id) == []  # the baseline says nothing
        fake_hub.models = ranked(CN[:5] + US[:5])
        second = await bot("once", "--config", str(config), env=env)
        assert second.code == 0, second.err

        entered, leader, share = fake.messages(fake.channel_id)
        assert entered["embeds"][0]["title"] == "3 models entered the trending top 10"
        assert "[Qwen/q2](https://huggingface.co/Qwen/q2)" in entered["embeds"][0]["description"]
        assert share["embeds"][0]["title"].startswith("🇨🇳 China's share of the trending top 10 reached 50%")
        assert entered["embeds"][0]["color"] != share["embeds"][0]["color"]
        assert leader["embeds"][0]["title"] == "New #1 on the Hub's trending list: Qwen/q0"
        for payload in (entered, leader, share):
            assert payload["allowed_mentions"] == {"parse": []}
            assert payload.get("content") is None
            assert payload["enforce_nonce"] is True and payload["nonce"].startswith("tw-")
        assert fake.identifies == []  # REST only: no gateway for `once`
        assert "fake-token" not in first.err + second.err


async def test_missing_token_skips_discord_with_a_warning(fake_hub: FakeHub, tmp_path: Path) -> None:
    extra = '[discord]\nenabled = true\n\n[[routes]]\nplatform = "discord"\nchannel = "1"\n'
    config = write_config(tmp_path / "c.toml", fake_hub, tmp_path / "t.db", extra=extra)
    fake_hub.models = ranked(US)
    run = await bot("once", "--config", str(config))
    assert run.code == 0, run.err
    assert "DISCORD_TOKEN is not set" in run.err


async def test_a_refused_token_is_one_config_error(fake_hub: FakeHub, fake: FakeDiscord, db_path: Path) -> None:
    from bot.config import ConfigError

    adapter = DiscordAdapter("fake-token", api_base=fake.api_base)
    adapter._token = ""  # the fake refuses a login without "Bot <token>"
    with pytest.raises(ConfigError, match="DISCORD_TOKEN was refused"):
        await Trendwatch.open(discord_settings(fake_hub, fake, db_path), Secrets.from_env({}), {"discord": adapter})


@pytest.mark.parametrize(("status", "reason"), [(403, "403 Missing Access"), (404, "404 Unknown Channel")])
async def test_403_and_404_pause_the_channel_and_status_says_why(
    fake_hub: FakeHub, fake: FakeDiscord, db_path: Path, status: int, reason: str
) -> None:
    app = await open_discord_app(discord_settings(fake_hub, fake, db_path))
    try:
        fake.fail_channel(fake.channel_id, status)
        await poll_baseline_then_change(app, fake_hub)
        report = await app.deliver()
        assert report.paused == [f"discord:{fake.channel_id}"] and report.sent == 0
        posts = len(fake.requests_to("POST", f"/channels/{fake.channel_id}/messages"))
        assert posts == 1  # stopped at the first refusal, not once per alert

        fake_hub.models = ranked(CN[:6] + US[:4])
        await app.poll()
        await app.deliver()
        assert len(fake.requests_to("POST", f"/channels/{fake.channel_id}/messages")) == posts  # no more tries

        caller = Caller("discord", str(fake.channel_id), "1", is_admin=False)
        status_message = await ChannelSettings(app.db, app.settings).status(caller)
        paused = [plain(text) for text in status_message.lines if plain(text).startswith("⏸")]
        assert paused and f"Discord answered {reason}" in paused[0]
    finally:
        await app.close()


@pytest.mark.parametrize(("code", "reason"), [
    (50008, "400 Cannot send messages in a non-text channel"),
    (50083, "400 Thread is archived"),
    (160005, "400 Thread is locked"),
], ids=["non-text-channel", "archived-thread", "locked-thread"])
async def test_a_channel_that_cannot_take_messages_is_paused_not_each_alert_set_aside(
    fake_hub: FakeHub, fake: FakeDiscord, db_path: Path, code: int, reason: str
) -> None:
    """These come as 400s like a malformed message, but they are about the channel: every alert would
    be refused the same way until someone changes the channel, so it is paused with the reason."""
    app = await open_discord_app(discord_settings(fake_hub, fake, db_path))
    try:
        fake.fail_channel(fake.channel_id, code=code)
        await poll_baseline_then_change(app, fake_hub)
        report = await app.deliver()
        assert (report.paused, report.sent, report.rejected) == ([f"discord:{fake.channel_id}"], 0, 0)
        assert len(fake.requests_to("POST", f"/channels/{fake.channel_id}/messages")) == 1
        assert await outbox.counts(app.db.conn) == {"pending": 3}  # kept for when the channel is fixed

        caller = Caller("discord", str(fake.channel_id), "1", is_admin=False)
        status_message = await ChannelSettings(app.db, app.settings).status(caller)
        paused = [plain(text) for text in status_message.lines if plain(text).startswith("⏸")]
        assert paused and f"Discord answered {reason} (code {code})" in paused[0], paused
    finally:
        await app.close()


async def test_a_paused_routed_channel_is_listed_and_resumed_from_the_command_line(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    async with FakeDiscord() as fake:
        channel = str(fake.channel_id)
        extra = (f'[discord]\nenabled = true\napi_base = "{fake.api_base}"\n\n'
                 f'[[routes]]\nplatform = "discord"\nchannel = "{channel}"\n')
        config = write_config(tmp_path / "c.toml", fake_hub, tmp_path / "t.db", extra=extra)
        env = {"DISCORD_TOKEN": "fake-token"}
        fake_hub.models = ranked(US[:8] + CN[:2])
        assert (await bot("once", "--config", str(config), env=env)).code == 0
        fake.fail_channel(fake.channel_id, 404)
        fake_hub.models = ranked(CN[:5] + US[:5])
        assert (await bot("once", "--config", str(config), env=env)).code == 0

        listed = await bot("channels", "--json", "--config", str(config), env=env)
        routed = [row for row in json.loads(listed.out) if row["platform"] == "discord"]
        assert routed == [{"platform": "discord", "channel": channel, "subscription": "default", "origin": "config",
                           "kinds": ["entered", "new_leader", "share", "digest"], "paused": True,
                           "paused_reason": routed[0]["paused_reason"], "not_sent": None, "silences": []}]
        assert "404" in routed[0]["paused_reason"]

        fake.heal_channel(fake.channel_id)
        resumed = await bot("resume", "discord", channel, "--config", str(config))
        assert resumed.code == 0 and "resumed" in resumed.out, resumed.err
        again = await bot("resume", "discord", channel, "--config", str(config))
        assert again.code == 0 and "is not paused" in again.out
        unknown = await bot("resume", "discord", "1", "--config", str(config))
        assert unknown.code == 1 and "gets no alerts" in unknown.err

        assert (await bot("once", "--config", str(config), env=env)).code == 0  # its new baseline: silent
        fake_hub.models = ranked(CN[:6] + US[:4])  # Qwen/q5 enters
        assert (await bot("once", "--config", str(config), env=env)).code == 0
        titles = [m["embeds"][0]["title"] for m in fake.messages(fake.channel_id)]
        assert titles == ["Qwen/q5 entered the trending top 10"]  # the alerts from while it was paused are dropped


async def test_a_message_discord_rejects_is_set_aside_and_the_next_ones_go_on(
    fake_hub: FakeHub, fake: FakeDiscord, db_path: Path
) -> None:
    app = await open_discord_app(discord_settings(fake_hub, fake, db_path))
    try:
        fake.fail_channel(fake.channel_id, 400, times=1)
        await poll_baseline_then_change(app, fake_hub)
        report = await app.deliver()
        assert (report.sent, report.rejected, report.retried, report.paused) == (2, 1, 0, [])
        async with app.db.conn.execute("SELECT status, last_error FROM outbox ORDER BY id") as cur:
            rows = list(await cur.fetchall())
        assert rows[0][0] == "dropped" and rows[0][1].startswith("rejected: Discord answered 400"), rows
        assert [row[0] for row in rows[1:]] == ["delivered", "delivered"]
        assert (await app.deliver()).sent == 0  # the rejected one is not tried again
        assert len(fake.requests_to("POST", f"/channels/{fake.channel_id}/messages")) == 3
    finally:
        await app.close()


async def test_a_token_refused_mid_run_pauses_nothing_and_keeps_the_alerts(
    fake_hub: FakeHub, fake: FakeDiscord, db_path: Path
) -> None:
    app = await open_discord_app(discord_settings(fake_hub, fake, db_path))
    try:
        fake.fail_channel(fake.channel_id, 401, times=1)
        await poll_baseline_then_change(app, fake_hub)
        report = await app.deliver()
        assert (report.sent, report.paused, list(report.refused)) == (0, [], ["discord"])
        assert (await outbox.counts(app.db.conn)) == {"pending": 3}
        await app.db.conn.execute("UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00.000000Z'")
        assert (await app.deliver()).sent == 3
    finally:
        await app.close()


async def test_5xx_is_retried_later_with_backoff_and_then_delivered_in_order(
    fake_hub: FakeHub, fake: FakeDiscord, db_path: Path
) -> None:
    app = await open_discord_app(discord_settings(fake_hub, fake, db_path))
    try:
        fake.fail_channel(fake.channel_id, 503, times=1)
        await poll_baseline_then_change(app, fake_hub)
        report = await app.deliver()
        assert (report.sent, report.retried, report.paused) == (0, 1, [])
        async with app.db.conn.execute("SELECT attempts, last_error, next_attempt_at FROM outbox ORDER BY id") as cur:
            rows = list(await cur.fetchall())
        assert rows[0][0] == 1, rows
        assert "503" in rows[0][1], rows
        assert rows[0][2] > utc_iso(datetime.now(UTC)), rows
        assert (await app.deliver()).sent == 0  # waits for its backoff

        await app.db.conn.execute("UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00.000000Z'")
        assert (await app.deliver()).sent == 3
        titles = [m["embeds"][0]["title"] for m in fake.messages(fake.channel_id)]
        assert titles[0].startswith("3 models entered") and "#1" in titles[1] and "share" in titles[2]
    finally:
        await app.close()


async def test_429_retry_after_is_honoured_by_discord_py(fake_hub: FakeHub, fake: FakeDiscord, db_path: Path) -> None:
    app = await open_discord_app(discord_settings(fake_hub, fake, db_path))
    try:
        await poll_baseline_then_change(app, fake_hub)
        fake.rate_limit_next(fake.channel_id, retry_after=0.6)
        started = time.monotonic()
        report = await app.deliver()
        assert time.monotonic() - started >= 0.6
        assert report.sent == 3 and report.retried == 0
        posts = fake.requests_to("POST", f"/channels/{fake.channel_id}/messages")
        assert [p.status for p in posts] == [429, 200, 200, 200]
        assert posts[1].at - posts[0].at >= 0.6
        assert len(fake.messages(fake.channel_id)) == 3
    finally:
        await app.close()


async def test_a_configured_role_is_the_only_mention_allowed(fake_hub: FakeHub, fake: FakeDiscord, db_path: Path):
    app = await open_discord_app(discord_settings(fake_hub, fake, db_path))
    try:
        destination = await get_destination(app.db.conn, "discord", str(fake.channel_id))
        assert destination is not None
        async with app.db.transaction() as conn:
            await set_mention(conn, destination.id, "1500000000000000001")
        await poll_baseline_then_change(app, fake_hub)
        await app.deliver()
        payload = fake.messages(fake.channel_id)[0]
        assert payload["content"] == "<@&1500000000000000001>"
        assert payload["allowed_mentions"] == {"parse": [], "roles": [1500000000000000001]}
    finally:
        await app.close()


class Crash(BaseException):
    """The process dies right after Discord accepted the message, before the outbox row is marked."""


class CrashAfterSend(Adapter):
    platform = "discord"

    def __init__(self, inner: DiscordAdapter) -> None:
        self.inner = inner

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def send(self, channel: str, alert: Alert, mention: str | None = None,
                   thread: Thread | None = None) -> None:
        await self.inner.send(channel, alert, mention, thread)
        raise Crash


async def test_a_resend_after_a_crash_does_not_post_twice(fake_hub: FakeHub, fake: FakeDiscord, db_path: Path):
    settings = discord_settings(fake_hub, fake, db_path, share_rules=[])
    first = await Trendwatch.open(settings, Secrets.from_env({}),
                                  {"discord": CrashAfterSend(DiscordAdapter("fake-token", fake.api_base))})
    assert await first.acquire_lease() is None
    await poll_baseline_then_change(first, fake_hub)
    with pytest.raises(Crash):
        await first.deliver()
    assert len(fake.messages(fake.channel_id)) == 1
    await first.db.conn.execute("UPDATE lease SET pid = ?", (dead_pid(),))
    await first.db.close()
    await first.adapters["discord"].close()

    second = await open_discord_app(settings)  # a new process: new client, same outbox row, same nonce
    try:
        report = await second.deliver()
        assert report.sent == 2  # the crashed entry alert again, then the new #1
        assert len(fake.messages(fake.channel_id)) == 2
        assert fake.deduplicated == 1
        assert await outbox.counts(second.db.conn) == {"delivered": 2}
    finally:
        await second.close()


def test_nonces_fit_discord_and_stay_stable() -> None:
    assert nonce_for("tw-12-3") == "tw-12-3"
    long_key = "tw-123456789012-123456789012"
    assert len(nonce_for(long_key)) == NONCE_MAX and nonce_for(long_key) == nonce_for(long_key)
    assert nonce_for(long_key) != nonce_for(long_key + "0")


def test_the_client_asks_for_guild_events_only() -> None:
    client = make_client()
    assert client.intents.value == client.intents.__class__(guilds=True).value
    assert not client.intents.message_content and not client.intents.members


async def test_the_pacer_spaces_sends_under_the_global_limit() -> None:
    pacer = Pacer(rate=50)
    started = time.monotonic()
    for _ in range(11):
        await pacer.wait()
    assert time.monotonic() - started >= 10 / 50 - 0.01
    await Pacer(rate=0).wait()  # 0 turns pacing off


async def test_a_digest_chart_travels_as_an_attachment_shown_in_the_embed(fake: FakeDiscord) -> None:
    from bot.domain.messages import Image, Message

    png = b"\x89PNG\r\n\x1a\n" + b"1" * 64
    adapter = DiscordAdapter("fake-token", api_base=fake.api_base)
    await adapter.start()
    try:
        message = Message(kind="digest", title="Week 29", image=Image("shares.png", png, "country shares"))
        await adapter.send(str(fake.channel_id), Alert(key="tw-7-1", message=message))
    finally:
        await adapter.close()
    record = fake.message_records[0]
    assert record.files[0].filename == "shares.png" and record.files[0].data == png
    assert record.payload["embeds"][0]["image"]["url"] == "attachment://shares.png"
    assert record.payload["attachments"][0]["description"] == "country shares"


async def test_an_alert_this_version_cannot_render_is_set_aside_and_the_channel_goes_on(
    fake_hub: FakeHub, fake: FakeDiscord, db_path: Path
) -> None:
    app = await open_discord_app(discord_settings(fake_hub, fake, db_path))
    try:
        await poll_baseline_then_change(app, fake_hub)
        await app.db.conn.execute(
            "UPDATE events SET payload = '{\"kind\": \"entered\", \"models\": \"not a list\"}'"
            " WHERE id = (SELECT MIN(event_id) FROM outbox)")
        report = await app.deliver()  # no exception out of the pass
        assert (report.sent, report.rejected) == (2, 1)
        async with app.db.conn.execute("SELECT status, last_error FROM outbox ORDER BY id") as cur:
            rows = list(await cur.fetchall())
        assert rows[0][0] == "dropped" and rows[0][1].startswith("rejected: cannot render"), rows
        assert [row[0] for row in rows[1:]] == ["delivered", "delivered"]
    finally:
        await app.close()
