"""Slash commands end to end: an interaction arrives over the fake gateway, discord.py's own
CommandTree runs our handler, and the test reads the callback the bot posted."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.console import ConsoleAdapter
from adapters.discord_commands import DiscordGateway, commands_changed, same_definition, sync_if_changed
from adapters.discord_out import DiscordAdapter, make_client
from bot.app import Trendwatch
from bot.config import Secrets
from store.destinations import get_destination
from tests.fakes.discord_api import DEFAULT_MEMBER_PERMISSIONS, FakeDiscord
from tests.fakes.hub import FakeHub, ranked
from tests.support.app import CN, US, settings_for
from tests.support.discord import MANAGE_CHANNELS, embed, ephemeral

NEXT_POLL = datetime(2025, 7, 21, 12, 15, tzinfo=UTC)


@dataclass
class Bot:
    fake: FakeDiscord
    hub: FakeHub
    app: Trendwatch
    gateway: DiscordGateway

    async def call(self, name: str, options: dict[str, Any] | None = None, *, subcommand: str | None = None,
                   admin: bool = False, edit: Any = None) -> dict[str, Any]:
        """Run a slash command; the callback body the bot posted: {"type", "data"}."""
        payload = self.fake.slash_command_payload(
            name, options, subcommand=subcommand,
            permissions=MANAGE_CHANNELS if admin else DEFAULT_MEMBER_PERMISSIONS)
        if edit is not None:
            edit(payload)
        await self.fake.dispatch_interaction(payload)
        body: dict[str, Any] = await self.fake.wait_for_callback(int(payload["id"]))
        return body

    async def alerts(self, subcommand: str, options: dict[str, Any] | None = None, admin: bool = True,
                     **kwargs: Any) -> dict[str, Any]:
        return await self.call("alerts", options, subcommand=subcommand, admin=admin, **kwargs)


async def start_bot(fake: FakeDiscord, hub: FakeHub, db: Path, defer_after: float = 1.5) -> Bot:
    settings = settings_for(hub, db, discord={"enabled": True, "api_base": fake.api_base})
    adapter = DiscordAdapter("fake-token", fake.api_base, client=make_client(guild_ready_timeout=0.05))
    app = await Trendwatch.open(settings, Secrets.from_env({}),
                                {"console": ConsoleAdapter("jsonl", io.StringIO()), "discord": adapter})
    assert await app.acquire_lease() is None
    gateway = DiscordGateway(adapter, app.db, app.settings, next_poll=lambda: NEXT_POLL, defer_after=defer_after,
                             is_active=lambda: app.has_lease,
                             ready_timeout=3)
    await gateway.start()
    return Bot(fake, hub, app, gateway)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        with server.patch_discord():
            yield server


@pytest.fixture
async def bot(fake: FakeDiscord, fake_hub: FakeHub, db_path: Path) -> AsyncIterator[Bot]:
    fake_hub.models = ranked(US[:8] + CN[:2])
    running = await start_bot(fake, fake_hub, db_path)
    try:
        await running.app.poll()
        fake_hub.models = ranked(CN[:3] + US[:7])
        await running.app.poll()
        yield running
    finally:
        await running.gateway.close()
        await running.app.close()


async def test_trending_answers_with_ranked_linked_lines(bot: Bot) -> None:
    body = await bot.call("trending", {"count": 3})
    assert body["type"] == 4 and not ephemeral(body)
    lines = embed(body)["description"].split("\n")
    assert len(lines) == 3
    assert lines[0].startswith("\\#1 ▲8 🇨🇳 **[Qwen/q0](https://huggingface.co/Qwen/q0)** — CN")
    assert lines[2].startswith("\\#3 🆕 🇨🇳 **[Qwen/q2]")
    assert embed(body)["title"] == "Hugging Face trending models"
    assert body["data"]["allowed_mentions"] == {"parse": []}


async def test_trending_filters_by_country_and_rejects_a_bad_code(bot: Bot) -> None:
    us = await bot.call("trending", {"country": "us"})
    assert all("meta-llama" in text for text in embed(us)["description"].split("\n"))
    bad = await bot.call("trending", {"country": "China"})
    assert ephemeral(bad)
    assert embed(bad)["title"] == "That did not work"
    assert "not a two-letter country code" in embed(bad)["description"]


async def test_model_history_unknown_model_and_autocomplete(bot: Bot) -> None:
    known = await bot.call("model", {"id": "Qwen/q1"})
    assert embed(known)["title"] == "Qwen/q1" and "Now: #2" in embed(known)["description"]
    unknown = await bot.call("model", {"id": "nobody/nothing"})
    assert ephemeral(unknown) and "has not been seen" in embed(unknown)["description"]

    payload = bot.fake.autocomplete_payload("model", {"id": "qwen/q"}, focused="id")
    await bot.fake.dispatch_interaction(payload)
    choices = (await bot.fake.wait_for_callback(int(payload["id"])))["data"]["choices"]
    assert [c["value"] for c in choices] == ["Qwen/q0", "Qwen/q1", "Qwen/q2"]


async def test_share_is_deferred_when_the_answer_is_slow(fake: FakeDiscord, fake_hub: FakeHub, db_path: Path):
    fake_hub.models = ranked(CN[:6] + US[:4])
    slow = await start_bot(fake, fake_hub, db_path, defer_after=0)
    try:
        await slow.app.poll()
        payload = fake.slash_command_payload("share")
        await fake.dispatch_interaction(payload)
        assert (await fake.wait_for_callback(int(payload["id"])))["type"] == 5  # "thinking…"
        [followup] = await fake.wait_for_followups(payload["token"])
        assert followup.payload["embeds"][0]["title"] == "Who holds the trending top 10"
        assert "China: 60%" in followup.payload["embeds"][0]["description"]
    finally:
        await slow.gateway.close()
        await slow.app.close()


async def test_alerts_need_manage_channels_even_if_discord_let_the_command_through(bot: Bot) -> None:
    body = await bot.alerts("subscribe", admin=False)
    assert ephemeral(body) and "channel-manager" in embed(body)["description"]
    assert await get_destination(bot.app.db.conn, "discord", str(bot.fake.channel_id)) is None


async def test_subscribe_rule_mute_and_status(bot: Bot) -> None:
    channel = str(bot.fake.channel_id)
    body = await bot.alerts("subscribe", {"kinds": "entered,share"})
    assert ephemeral(body) and embed(body)["title"] == "Subscribed"
    destination = await get_destination(bot.app.db.conn, "discord", channel)
    assert destination is not None and destination.kinds == ("entered", "new_leader", "share")

    for options, expected in [
        ({"country": "CN", "direction": "above", "percent": 150}, "out of range"),
        ({"country": "CHN", "direction": "above", "percent": 50}, "not a two-letter country code"),
        ({"country": "ZZ", "direction": "above", "percent": 50}, "not a two-letter country code"),
    ]:
        bad = await bot.alerts("rule", options)
        assert ephemeral(bad) and expected in embed(bad)["description"], embed(bad)
    added = await bot.alerts("rule", {"country": "cn", "direction": "above", "percent": 60})
    assert embed(added)["title"] == "Rule added"
    known = await bot.alerts("rule", {"country": "us", "direction": "below", "percent": 20, "basis": "known"})
    assert embed(known)["title"] == "Rule added" and "(basis known)" in embed(known)["description"]
    assert embed(await bot.alerts("mute", {"duration": "forever"}))["title"] == "That did not work"
    assert embed(await bot.alerts("mute", {"duration": "2h"}))["title"] == "Muted"

    status = await bot.alerts("status", admin=False)
    assert ephemeral(status)
    text = embed(status)["description"]
    assert "Subscribed to: entered, share" in text and "Rule: 🇨🇳 CN above 60%" in text and "Muted until" in text
    health = embed(status)["fields"][0]
    assert health["name"] == "Bot health" and "Next poll: 2025-07-21 12:15 UTC" in health["value"]


async def test_mention_takes_a_role_and_empty_turns_it_off(bot: Bot) -> None:
    await bot.alerts("subscribe")
    role_id = "1500000000000000001"
    role = {"id": role_id, "name": "trend-watchers", "color": 0, "hoist": False, "position": 1,
            "permissions": "0", "managed": False, "mentionable": True, "flags": 0}

    def resolve(payload: dict[str, Any]) -> None:
        payload["data"]["resolved"] = {"roles": {role_id: role}}

    body = await bot.alerts("mention", [{"name": "role", "type": 8, "value": role_id}], edit=resolve)  # type: ignore[arg-type]
    assert embed(body)["title"] == "Mention set"
    destination = await get_destination(bot.app.db.conn, "discord", str(bot.fake.channel_id))
    assert destination is not None and destination.mention == role_id
    assert embed(await bot.alerts("mention"))["title"] == "Mentions off"


async def test_a_paused_channel_says_why_in_status(bot: Bot) -> None:
    await bot.alerts("subscribe")
    bot.fake.fail_channel(bot.fake.channel_id, 403)
    for batch in (CN[:4] + US[:6], CN[:5] + US[:5]):  # the first poll after subscribing is its baseline
        bot.hub.models = ranked(batch)
        await bot.app.poll()
    report = await bot.app.deliver()
    assert report.paused == [f"discord:{bot.fake.channel_id}"]
    text = embed(await bot.alerts("status"))["description"]
    assert "⏸ Paused: Discord answered 403 Missing Access" in text

    bot.fake.heal_channel(bot.fake.channel_id)  # an admin gave the bot access again
    assert embed(await bot.alerts("subscribe"))["title"] == "Resumed"
    assert "Paused" not in embed(await bot.alerts("status"))["description"]
    assert (await bot.app.deliver()).sent == 0  # the backlog from while it was paused is not flooded in
    for batch in (CN[:6] + US[:4], CN[:7] + US[:3]):  # a new baseline, then a change
        bot.hub.models = ranked(batch)
        await bot.app.poll()
    assert (await bot.app.deliver()).sent >= 1
    assert bot.fake.messages(bot.fake.channel_id)


async def test_commands_are_synced_once_and_again_only_when_they_change(bot: Bot) -> None:
    stored = {c["name"]: c for c in bot.fake.synced_commands()}
    assert set(stored) == {"trending", "share", "model", "alerts"}
    assert str(stored["alerts"]["default_member_permissions"]) == str(1 << 4)  # Manage Channels
    assert stored["alerts"]["contexts"] == [0]  # guild only
    assert len(bot.fake.requests_to("PUT", "/commands")) == 1

    tree = bot.gateway.tree
    assert await sync_if_changed(tree, ()) == []  # a restart with the same definitions
    assert len(bot.fake.requests_to("PUT", "/commands")) == 1
    guild = bot.fake.guild_id
    assert await sync_if_changed(tree, (guild,)) == [f"guild {guild}"]
    assert {c["name"] for c in bot.fake.synced_commands(guild)} == set(stored)
    assert await sync_if_changed(tree, (guild,)) == []

    @tree.command(name="extra", description="new")
    async def extra(interaction: Any) -> None: ...

    assert await sync_if_changed(tree, ()) == ["global"]


@pytest.mark.parametrize("install_types", [(0,), (0, 1)], ids=["guild-install", "guild-and-user-install"])
async def test_a_restart_with_the_same_commands_does_not_sync_them_again(
    fake_hub: FakeHub, db_path: Path, install_types: tuple[int, ...]
) -> None:
    """Discord fills in what the tree leaves unset (integration_types = the app's installation contexts):
    compared with those defaults applied, an unchanged tree is not overwritten at every start."""
    async with FakeDiscord(install_types=install_types) as fake:
        with fake.patch_discord():
            for _ in range(2):
                running = await start_bot(fake, fake_hub, db_path)
                await running.gateway.close()
                await running.app.close()
    assert len(fake.requests_to("PUT", "/commands")) == 1
    assert len(fake.requests_to("GET", "/commands")) == 2
    assert {tuple(c["integration_types"]) for c in fake.synced_commands()} == {install_types}


def test_definitions_compare_through_discord_defaults() -> None:
    local = {"name": "x", "type": 1, "options": [{"name": "n", "type": 4, "required": False}],
             "default_member_permissions": 16, "nsfw": False, "name_localizations": {}}
    remote = {"id": "9", "version": "1", "name": "x", "type": 1, "options": [{"name": "n", "type": 4}],
              "default_member_permissions": "16"}
    assert same_definition(local, remote)
    assert not same_definition(local, {**remote, "default_member_permissions": "8"})
    assert not same_definition(local, {**remote, "options": []})
    assert commands_changed([local], [remote, {"name": "old", "type": 1}])

    # What discord.py leaves null, Discord stores as its default: the app's installation contexts.
    sent = {**local, "integration_types": None, "contexts": None, "dm_permission": True}
    stored = {**remote, "integration_types": [0], "contexts": None, "dm_permission": True}
    assert not commands_changed([sent], [stored])
    assert commands_changed([sent], [{**stored, "integration_types": [0, 1]}])
    assert not commands_changed([sent], [{**stored, "integration_types": [1, 0]}], installs=[0, 1])
    assert commands_changed([{**sent, "contexts": [0]}], [stored])
    assert not commands_changed([sent], [{**stored, "contexts": [2, 1, 0]}])  # "all contexts", as documented


async def test_run_connects_the_gateway_named_by_api_base_and_answers(
    fake: FakeDiscord, fake_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.cli import write_config
    from tests.support.processes import start, stop

    fake_hub.models = ranked(US)
    config = write_config(tmp_path / "c.toml", fake_hub, tmp_path / "t.db",
                          extra=f'[discord]\nenabled = true\napi_base = "{fake.api_base}"\n')
    monkeypatch.setenv("DISCORD_TOKEN", "fake-token")
    process = await start(config)
    try:
        await fake.wait_until_connected(timeout=15)
        assert fake.identifies[0]["intents"] == 1  # GUILDS only: no message content, no members
        assert {c["name"] for c in fake.synced_commands()} == {"trending", "share", "model", "alerts"}
        body = await Bot(fake, fake_hub, None, None).alerts("subscribe")  # type: ignore[arg-type]
        assert embed(body)["title"] == "Subscribed" and ephemeral(body)
    finally:
        code, err = await stop(process)
    assert code == 0, err
    assert "invite the bot with https://discord.com/oauth2/authorize?client_id=" in err
    # View Channel, Send Messages, Embed Links, Attach Files (52224) + Create Public Threads + Send Messages in Threads
    assert f"permissions={52224 + (1 << 35) + (1 << 38)}" in err and "scope=bot+applications.commands" in err
    assert "fake-token" not in err


async def test_only_the_lease_holder_answers(bot: Bot) -> None:
    """A second `run` on the same database waits for the lease but is on the gateway too."""
    bot.app.has_lease = False
    payload = bot.fake.slash_command_payload("share")
    await bot.fake.dispatch_interaction(payload)
    with pytest.raises(TimeoutError):
        await bot.fake.wait_for_callback(int(payload["id"]), timeout=0.5)
    bot.app.has_lease = True
    assert embed(await bot.call("share"))["title"] == "Who holds the trending top 10"


async def test_share_shows_the_unknown_count_and_names_them(bot: Bot) -> None:
    bot.hub.models = ranked(["jane/mystery", *CN[:3], *US[:6]])
    await bot.app.poll()
    answer = embed(await bot.call("share"))
    assert "unknown: 1 of 10 (jane/mystery)" in answer["description"]


async def test_unusual_option_values_get_one_ephemeral_line(bot: Bot) -> None:
    await bot.alerts("subscribe")
    for body in (await bot.alerts("mute", {"duration": "9999999999d"}),
                 await bot.call("trending", {"country": "²"}),
                 await bot.alerts("rule", {"country": "C\nN", "direction": "above", "percent": 2**53}),
                 await bot.alerts("subscribe", {"kinds": "x" * 500})):
        assert ephemeral(body) and embed(body)["title"] == "That did not work"
        assert "\n" not in embed(body)["description"] and len(embed(body)["description"]) < 300


async def test_alerts_threads_sets_a_subscription_s_follow_ups_and_status_shows_it(bot: Bot) -> None:
    channel = str(bot.fake.channel_id)
    not_yet = await bot.alerts("threads", {"mode": "on"})
    assert embed(not_yet)["title"] == "That did not work" and "alerts subscribe" in embed(not_yet)["description"]
    await bot.alerts("subscribe", {"kinds": "entered,left"})
    refused = await bot.alerts("threads", {"mode": "on"}, admin=False)
    assert embed(refused)["title"] == "That did not work"
    body = await bot.alerts("threads", {"mode": "broadcast"})
    assert ephemeral(body) and embed(body)["title"] == "Threads broadcast"
    assert "forum" in embed(body)["description"]  # on Discord, what threads there is said
    found = await get_destination(bot.app.db.conn, "discord", channel)
    assert found is not None and found.threads == "broadcast"
    other = await bot.alerts("threads", {"mode": "on", "subscription": "china"})
    assert "no subscription named 'china'" in embed(other)["description"]
    status = embed(await bot.alerts("status", admin=False))["description"]
    assert "Threads: broadcast" in status
    synced = {c["name"]: c for c in bot.fake.synced_commands(None) + bot.fake.synced_commands(bot.fake.guild_id)}
    threads = next(o for o in synced["alerts"]["options"] if o["name"] == "threads")
    assert [c["value"] for c in threads["options"][0]["choices"]] == ["off", "on", "broadcast"]
