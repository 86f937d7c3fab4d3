"""Tenants that cannot reach each other, through every command, through the real client libraries.

One server (or workspace) sets up a channel: subscribed, a rule, a watch, a filter, a mention, a mute.
Then another tenant's admin sends every command of the command set naming that channel (a Slack
Connect channel shared by two workspaces; a forged or misrouted Discord interaction): each answers one
line saying the channel was set up elsewhere, and not one row of the first tenant changes. The command
sets are read from the adapters, so a command added later without an entry here fails these tests.
Per-tenant caps answer one line naming the key, and count each tenant on its own.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from discord import app_commands

from adapters.console import ConsoleAdapter
from adapters.discord_commands import DiscordGateway
from adapters.discord_out import DiscordAdapter, make_client
from adapters.slack_app import CHANNEL_READS, SETTING_CHANGES, SlackSocketService, build_slack_service
from bot.app import Trendwatch
from bot.config import Secrets, parse_settings
from store import tenants
from store.db import Conn, Database, open_database
from tests.fakes.discord_api import DEFAULT_MEMBER_PERMISSIONS, FakeDiscord, FakeGuild
from tests.fakes.hub import FakeHub, ranked
from tests.fakes.slack_api import FakeSlack
from tests.support.app import CN, US, settings_for
from tests.support.discord import MANAGE_CHANNELS, embed, ephemeral
from tests.support.slack import SECRETS, body_text, command, title
from tests.support.stores import store_env, store_of

GUILD_A, GUILD_B = 1_200_000_000_000_000_001, 1_200_000_000_000_000_002
CHANNEL_A, CHANNEL_B, CHANNEL_A2 = 1_300_000_000_000_000_001, 1_300_000_000_000_000_002, 1_300_000_000_000_000_003
ROLE = "1500000000000000001"
REFUSED = "were set up from another"


async def everything(conn: Conn) -> dict[str, list[tuple[Any, ...]]]:
    """Every row a command could change, of every tenant: compared before and after the other tenant tries."""
    found = {}
    for table in ("tenants", "destinations", "channel_rules", "channel_watches", "channel_filters", "outbox",
                  "silences"):
        async with conn.execute(f"SELECT * FROM {table} ORDER BY 1") as cursor:
            found[table] = [tuple(row) for row in await cursor.fetchall()]
    return found


# ---------------------------------------------------------------- Discord: two servers on one gateway


@dataclass
class DiscordBot:
    fake: FakeDiscord
    app: Trendwatch
    gateway: DiscordGateway

    async def alerts(self, subcommand: str, options: Any = None, *, guild: int, channel: int,
                     admin: bool = True) -> dict[str, Any]:
        payload = self.fake.slash_command_payload(
            "alerts", options, guild_id=guild, channel_id=channel, subcommand=subcommand,
            permissions=MANAGE_CHANNELS if admin else DEFAULT_MEMBER_PERMISSIONS)
        if subcommand == "mention" and options:  # a role option arrives with the role itself resolved
            payload["data"]["resolved"] = {"roles": {ROLE: {
                "id": ROLE, "name": "watchers", "color": 0, "hoist": False, "position": 1, "permissions": "0",
                "managed": False, "mentionable": True, "flags": 0}}}
        await self.fake.dispatch_interaction(payload)
        body: dict[str, Any] = await self.fake.wait_for_callback(int(payload["id"]))
        return body


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    guilds = [FakeGuild(GUILD_A, (CHANNEL_A, CHANNEL_A2), "Alpha"), FakeGuild(GUILD_B, (CHANNEL_B,), "Beta")]
    async with FakeDiscord(guilds=guilds) as server:
        with server.patch_discord():
            yield server


async def start_discord(fake: FakeDiscord, hub: FakeHub, db_path: Path, **extra: Any) -> DiscordBot:
    settings = settings_for(hub, db_path, discord={"enabled": True, "api_base": fake.api_base}, **extra)
    adapter = DiscordAdapter("fake-token", fake.api_base, client=make_client(guild_ready_timeout=0.05))
    app = await Trendwatch.open(settings, Secrets.from_env({}),
                                {"console": ConsoleAdapter("jsonl", io.StringIO()), "discord": adapter})
    assert await app.acquire_lease() is None
    gateway = DiscordGateway(adapter, app.db, app.settings, is_active=lambda: app.has_lease, ready_timeout=3)
    await gateway.start()
    return DiscordBot(fake, app, gateway)


@pytest.fixture
async def discord_bot(discord_fake: FakeDiscord, fake_hub: FakeHub, db_path: Path) -> AsyncIterator[DiscordBot]:
    fake_hub.models = ranked(US[:8] + CN[:2])
    running = await start_discord(discord_fake, fake_hub, db_path)
    try:
        await running.app.poll()
        yield running
    finally:
        await running.gateway.close()
        await running.app.close()


#: Every /alerts subcommand, each tried with the options that read or change the most. `{}` reads.
DISCORD_TRIES: dict[str, list[Any]] = {
    "subscribe": [{}, {"kinds": "digest"}],
    "unsubscribe": [{}],
    "rule": [{"country": "US", "direction": "above", "percent": 10},
             {"country": "CN", "direction": "above", "percent": 60, "remove": True}],
    "mention": [{}, [{"name": "role", "type": 8, "value": ROLE}]],
    "mute": [{"duration": "off"}, {"duration": "1d"}],
    "filter": [{}, {"clear": True}, {"countries": "US", "derivatives": True}],
    "watch": [{"target": "meta-llama"}, {"target": "deepseek-ai"}],
    "unwatch": [{"target": "deepseek-ai"}],
    "status": [{}],
    "test": [{}],
    "format": [{}, {"style": "compact"}, {"style": "custom", "template": "{rank}. {id}"}],
    "silence": [{"matcher": "author:Qwen", "duration": "1d"}],
    "silences": [{}],
    "unsilence": [{"id": "1"}],
    "threads": [{"mode": "on"}, {"mode": "off", "subscription": "default"}],
}
#: Commands that take no channel and read no channel's settings: the same public lists for everyone.
NOT_CHANNEL_SCOPED = {"trending", "share", "model"}


async def set_up_alpha(bot: DiscordBot) -> None:
    for subcommand, options in [
        ("subscribe", {"kinds": "entered,share"}),
        ("rule", {"country": "CN", "direction": "above", "percent": 60}),
        ("watch", {"target": "deepseek-ai"}),
        ("filter", {"countries": "CN"}),
        ("mention", [{"name": "role", "type": 8, "value": ROLE}]),
        ("mute", {"duration": "2h"}),
        ("silence", {"matcher": "author:deepseek-ai", "duration": "7d"}),
    ]:
        body = await bot.alerts(subcommand, options, guild=GUILD_A, channel=CHANNEL_A)
        assert embed(body)["title"] != "That did not work", embed(body)


def test_the_discord_tries_cover_every_command(discord_bot: DiscordBot) -> None:
    tree = discord_bot.gateway.tree
    group = tree.get_command("alerts")
    assert isinstance(group, app_commands.Group)
    assert {command.name for command in group.commands} == set(DISCORD_TRIES)
    assert {command.name for command in tree.get_commands()} == NOT_CHANNEL_SCOPED | {"alerts"}


async def test_another_server_can_neither_read_nor_change_a_channel_through_any_command(
    discord_bot: DiscordBot
) -> None:
    await set_up_alpha(discord_bot)
    before = await everything(discord_bot.app.db.conn)
    assert [row[3] for row in before["tenants"]] == ["Alpha"]  # recorded from the interaction, by name
    for subcommand, variants in DISCORD_TRIES.items():
        for options in variants:
            body = await discord_bot.alerts(subcommand, options, guild=GUILD_B, channel=CHANNEL_A)
            text = embed(body)["description"]
            assert ephemeral(body) and REFUSED in text and "another server" in text, (subcommand, options, text)
            assert "CN" not in text and "deepseek" not in text
            # Not one row: not even Beta's tenant row (a refused command writes nothing at all).
            assert await everything(discord_bot.app.db.conn) == before, (subcommand, options)

    # The owner still reads and changes its channel; the other server has its own channels, with nothing of Alpha's.
    status = embed(await discord_bot.alerts("status", guild=GUILD_A, channel=CHANNEL_A))["description"]
    assert "Rule: 🇨🇳 CN above 60%" in status and "deepseek-ai" in status
    assert embed(await discord_bot.alerts("subscribe", guild=GUILD_B, channel=CHANNEL_B))["title"] == "Subscribed"
    beta = embed(await discord_bot.alerts("status", guild=GUILD_B, channel=CHANNEL_B))["description"]
    assert "Rule:" not in beta and "deepseek-ai" not in beta
    # Alpha's silence is #1: from its own channel, Beta neither sees it nor ends it by its number.
    beta_silences = embed(await discord_bot.alerts("silences", guild=GUILD_B, channel=CHANNEL_B))["description"]
    assert "No silence in this channel" in beta_silences
    ending = embed(await discord_bot.alerts("unsilence", {"id": "1"}, guild=GUILD_B, channel=CHANNEL_B))
    assert "This channel has no silence #1" in ending["description"]
    assert "author:deepseek-ai: ends in" in embed(
        await discord_bot.alerts("silences", guild=GUILD_A, channel=CHANNEL_A))["description"]
    beta_tenant = await tenants.get_tenant(discord_bot.app.db.conn, "discord", str(GUILD_B))
    assert beta_tenant is not None and beta_tenant.name == "Beta"
    exported = await tenants.export_tenant(discord_bot.app.db.conn, beta_tenant.id)
    assert [channel["channel"] for channel in exported["channels"]] == [str(CHANNEL_B)]


async def test_a_channel_of_no_tenant_stays_open_to_commands_in_it_and_a_subscribe_claims_it(
    discord_bot: DiscordBot
) -> None:
    """A self-hosted bot's channel subscribed before tenants existed (tenant NULL) works as it always did."""
    async with discord_bot.app.db.transaction() as conn:
        await conn.execute("INSERT INTO destinations (platform, channel, kinds, origin, active, subscribed_at)"
                           " VALUES ('discord', ?, '[\"entered\"]', 'command', 1, '2025-07-20T00:00:00.000000Z')",
                           (str(CHANNEL_A2),))
    added = await discord_bot.alerts("rule", {"country": "CN", "direction": "above", "percent": 50},
                                     guild=GUILD_A, channel=CHANNEL_A2)
    assert embed(added)["title"] == "Rule added"
    assert embed(await discord_bot.alerts("subscribe", guild=GUILD_A, channel=CHANNEL_A2))["title"] == \
        "Subscription updated"
    refused = await discord_bot.alerts("status", guild=GUILD_B, channel=CHANNEL_A2)
    assert REFUSED in embed(refused)["description"]


# ---------------------------------------------------------------- Slack: two workspaces, one shared channel

TEAM_A, TEAM_B = "T0ALPHA", "T0BETA"

#: Every `/trending alerts …` action, each tried with the arguments that read or change the most.
SLACK_TRIES: dict[str, list[str]] = {
    "subscribe": ["alerts subscribe", "alerts subscribe digest"],
    "unsubscribe": ["alerts unsubscribe"],
    "rule": ["alerts rule add US above 10", "alerts rule remove CN above 60", "alerts rule add CN above 60 known"],
    "mention": ["alerts mention off", "alerts mention here"],
    "mute": ["alerts mute 1d", "alerts mute off"],
    "filter": ["alerts filter", "alerts filter clear", "alerts filter countries=US derivatives=true"],
    "watch": ["alerts watch meta-llama", "alerts watch deepseek-ai"],
    "unwatch": ["alerts unwatch deepseek-ai"],
    "status": ["alerts status"],
    "test": ["alerts test"],
    "format": ["alerts format", "alerts format compact", "alerts format custom {rank}. {id}"],
    "silence": ["alerts silence author:Qwen 1d"],
    "silences": ["alerts silences"],
    "unsilence": ["alerts unsilence 1"],
    "threads": ["alerts threads on", "alerts threads off subscription:default"],
}


@pytest.fixture
async def slack_fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(team_id=TEAM_A) as fake:
        fake.add_user("UADMIN", is_admin=True)
        yield fake


@dataclass
class SlackBot:
    fake: FakeSlack
    db: Database
    service: SlackSocketService

    async def send(self, text: str, team: str, channel: str = "C1") -> dict[str, Any]:
        _, _, body, _ = await command(self.fake, text, user="UADMIN", channel=channel, team=team)
        return body


async def start_slack(fake: FakeSlack, db_path: Path, **extra: Any) -> SlackBot:
    settings = parse_settings({"store": {"path": str(db_path)}, "console": {"enabled": False},
                               "slack": {"enabled": True, "api_url": fake.api_url}, **extra}, env=store_env())
    db = await open_database(store_of(db_path))
    service = build_slack_service(settings, SECRETS, db)
    assert isinstance(service, SlackSocketService)
    await service.start()
    return SlackBot(fake, db, service)


@pytest.fixture
async def slack_bot(slack_fake: FakeSlack, db_path: Path) -> AsyncIterator[SlackBot]:
    running = await start_slack(slack_fake, db_path)
    try:
        yield running
    finally:
        await running.service.close()
        await running.db.close()


def test_the_slack_tries_cover_every_command() -> None:
    assert set(SLACK_TRIES) == SETTING_CHANGES | CHANNEL_READS


async def test_another_workspace_can_neither_read_nor_change_a_shared_channel_through_any_command(
    slack_bot: SlackBot
) -> None:
    for text in ("alerts subscribe entered,share", "alerts rule add CN above 60", "alerts watch deepseek-ai",
                 "alerts filter countries=CN", "alerts mention here", "alerts mute 2h",
                 "alerts silence author:deepseek-ai 7d"):
        body = await slack_bot.send(text, TEAM_A)
        assert title(body) != "That did not work", body_text(body)
    before = await everything(slack_bot.db.conn)
    for action, texts in SLACK_TRIES.items():
        for text in texts:
            body = await slack_bot.send(text, TEAM_B)
            shown = body_text(body)
            assert body["response_type"] == "ephemeral", (action, text)
            assert REFUSED in shown and "another workspace" in shown, (action, text, shown)
            assert "deepseek" not in shown and "CN above" not in shown
            assert await everything(slack_bot.db.conn) == before, (action, text)
    status = body_text(await slack_bot.send("alerts status", TEAM_A))
    assert "CN above 60%" in status and "deepseek-ai" in status
    assert title(await slack_bot.send("alerts subscribe", TEAM_B, channel="C2")) == "Subscribed"
    summaries = {s.tenant.external_id: (s.channels, s.rules, s.watches, s.filters)
                 for s in await tenants.tenant_summaries(slack_bot.db.conn)}
    assert summaries == {TEAM_A: (1, 1, 1, 1), TEAM_B: (1, 0, 0, 0)}


async def test_per_workspace_caps_answer_one_line_naming_the_key_and_count_each_workspace_alone(
    slack_fake: FakeSlack, db_path: Path
) -> None:
    bot = await start_slack(slack_fake, db_path,
                            tenants={"max_subscriptions": 1, "max_rules": 2, "max_watches": 1})
    try:
        assert title(await bot.send("alerts subscribe", TEAM_A)) == "Subscribed"
        refused = await bot.send("alerts subscribe", TEAM_A, channel="C2")
        assert body_text(refused) == ("This workspace has 1 subscription, the most this bot allows"
                                      " ([tenants] max_subscriptions = 1): unsubscribe one (every subscription"
                                      " of a channel counts) first.")
        assert title(await bot.send("alerts subscribe digest", TEAM_A)) == "Subscription updated"  # not a new one
        assert title(await bot.send("alerts subscribe", TEAM_B, channel="C2")) == "Subscribed"  # its own count

        assert title(await bot.send("alerts rule add CN above 60", TEAM_A)) == "Rule added"
        assert title(await bot.send("alerts rule add US below 20", TEAM_A)) == "Rule added"
        third = body_text(await bot.send("alerts rule add FR above 5", TEAM_A))
        assert "[tenants] max_rules = 2" in third and "\n" not in third
        assert title(await bot.send("alerts rule add CN above 60 known", TEAM_A)) == "Rule added"  # re-based
        assert title(await bot.send("alerts rule add CN above 60", TEAM_B, channel="C2")) == "Rule added"

        assert title(await bot.send("alerts watch deepseek-ai", TEAM_A)) == "Watching"
        assert title(await bot.send("alerts watch deepseek-ai", TEAM_A)) == "Already watching"
        assert "[tenants] max_watches = 1" in body_text(await bot.send("alerts watch Qwen", TEAM_A))
        assert title(await bot.send("alerts unwatch deepseek-ai", TEAM_A)) == "Unwatched"
        assert title(await bot.send("alerts watch Qwen", TEAM_A)) == "Watching"
    finally:
        await bot.service.close()
        await bot.db.close()
