"""Several subscriptions in one channel, through real slash commands: discord.py's tree and slack_bolt.

A name creates a subscription beside the others; each keeps its own kinds, filters and mention; status lists
them all, most important first; unsubscribing one leaves the rest; a name the channel does not have is
answered with those it has; a name that does not fit is one line; another server or workspace can add no
subscription to a channel it does not own; a mute quiets every subscription of the channel.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.slack_app import SlackSocketService, build_slack_service
from bot.commands.subscriptions import MAX_PER_CHANNEL
from store import channel_filters, tenants
from store.db import Conn, Database, open_database
from store.destinations import channel_destinations
from tests.fakes.discord_api import FakeDiscord, FakeGuild
from tests.fakes.hub import FakeHub, ranked
from tests.fakes.slack_api import FakeSlack
from tests.support.app import CN, US
from tests.support.discord import embed, ephemeral
from tests.support.slack import SECRETS, body_text, command, title
from tests.support.stores import store_env, store_of
from tests.support.subscriptions import CHINA_ROLE, Desk, set_up_three_subscriptions, start_desk

GUILD_A, GUILD_B = 1_200_000_000_000_000_011, 1_200_000_000_000_000_012
CHANNEL_A, CHANNEL_B = 1_300_000_000_000_000_011, 1_300_000_000_000_000_012


async def subscriptions(conn: Conn, platform: str, channel: str) -> dict[str, tuple[tuple[str, ...], str | None, bool]]:
    """name → (kinds, mention, active) of every subscription of one channel."""
    return {d.name: (d.kinds, d.mention, d.active) for d in await channel_destinations(conn, platform, channel)}


async def everything(conn: Conn) -> dict[str, list[tuple[Any, ...]]]:
    found = {}
    for table in ("tenants", "destinations", "channel_rules", "channel_watches", "channel_filters"):
        async with conn.execute(f"SELECT * FROM {table} ORDER BY 1") as cursor:
            found[table] = [tuple(row) for row in await cursor.fetchall()]
    return found


# ---------------------------------------------------------------- Discord


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    guilds = [FakeGuild(GUILD_A, (CHANNEL_A,), "China desk"), FakeGuild(GUILD_B, (CHANNEL_B,), "Beta")]
    async with FakeDiscord(guilds=guilds) as server:
        with server.patch_discord():
            yield server


@pytest.fixture
async def desk(fake: FakeDiscord, fake_hub: FakeHub, db_path: Path) -> AsyncIterator[Desk]:
    fake_hub.models = ranked(US[:8] + CN[:2])
    running = await start_desk(fake, fake_hub, db_path)
    try:
        await running.app.poll()
        yield running
    finally:
        await running.close()


async def test_three_subscriptions_keep_their_own_settings_and_status_lists_them_most_important_first(
    desk: Desk
) -> None:
    await set_up_three_subscriptions(desk)
    conn = desk.app.db.conn
    assert await subscriptions(conn, "discord", str(CHANNEL_A)) == {
        "china": (("entered", "new_leader"), CHINA_ROLE, True),
        "weekly": (("digest",), None, True),
        "default": (("entered", "new_leader", "share"), None, True),
    }
    by_name = {d.name: d.id for d in await channel_destinations(conn, "discord", str(CHANNEL_A))}
    filters = await channel_filters.all_filters(conn)
    assert filters[by_name["china"]].countries == ("CN",) and by_name["default"] not in filters

    status = await desk.alerts("status", admin=False)
    text = embed(status)["description"]
    assert ephemeral(status)
    # default first (what a command without a name acts on), then the one that pings someone, then the rest
    assert text.index("Subscription default") < text.index("Subscription china") < text.index("Subscription weekly")
    china = text[text.index("Subscription china"):text.index("Subscription weekly")]
    assert "Subscribed to: entered" in china and "Mentions: a role is pinged" in china and "Only countries: CN" in china
    weekly = text[text.index("Subscription weekly"):]
    assert "Subscribed to: digest" in weekly and "Mentions: off" in weekly and "Only countries" not in weekly

    one = embed(await desk.alerts("status", {"subscription": "weekly"}, admin=False))["description"]
    assert "Subscription weekly" in one and "china" not in one and "Subscription default" not in one


async def test_unsubscribing_one_subscription_leaves_the_others(desk: Desk) -> None:
    await set_up_three_subscriptions(desk)
    body = await desk.alerts("unsubscribe", {"subscription": "china"})
    assert embed(body)["title"] == "Unsubscribed"
    assert "still gets alerts through: default, weekly" in embed(body)["description"]
    found = await subscriptions(desk.app.db.conn, "discord", str(CHANNEL_A))
    assert {name: active for name, (_, _, active) in found.items()} == {"china": False, "weekly": True,
                                                                         "default": True}
    assert "Subscription china" not in embed(await desk.alerts("status"))["description"]


async def test_a_name_the_channel_does_not_have_is_answered_with_those_it_has(desk: Desk) -> None:
    await set_up_three_subscriptions(desk)
    before = await everything(desk.app.db.conn)
    body = await desk.alerts("rule", {"country": "CN", "direction": "above", "percent": 50,
                                      "subscription": "korea"})
    assert embed(body)["title"] == "That did not work"
    assert embed(body)["description"] == ("This channel has no subscription named 'korea'; its subscriptions:"
                                          " default, china, weekly.")
    assert await everything(desk.app.db.conn) == before

    await desk.alerts("unsubscribe")  # only the named ones are left: a command without a name says so
    body = await desk.alerts("watch", {"target": "deepseek-ai"})
    assert "no subscription named 'default'; name one of its subscriptions: china, weekly" in \
        embed(body)["description"]


@pytest.mark.parametrize("name", ["China Desk", "ch!na", "x" * 33, "china\u0000"])
async def test_a_name_that_does_not_fit_is_one_line_and_changes_nothing(desk: Desk, name: str) -> None:
    body = await desk.alerts("subscribe", {"kinds": "entered", "subscription": name})
    text = embed(body)["description"]
    assert embed(body)["title"] == "That did not work" and "\n" not in text
    assert "is not a subscription name: use 1 to 32 lowercase letters, digits or dashes" in text
    assert await channel_destinations(desk.app.db.conn, "discord", str(CHANNEL_A)) == []


async def test_another_server_can_add_no_subscription_to_a_channel_it_does_not_own(desk: Desk) -> None:
    await set_up_three_subscriptions(desk)
    before = await everything(desk.app.db.conn)
    for subcommand, options in [("subscribe", {"subscription": "beta"}), ("status", {"subscription": "china"}),
                                ("unsubscribe", {"subscription": "weekly"}), ("status", {})]:
        body = await desk.alerts(subcommand, options, guild=GUILD_B, channel=CHANNEL_A)
        text = embed(body)["description"]
        assert "were set up from another server" in text and "china" not in text, (subcommand, text)
    assert await everything(desk.app.db.conn) == before

    async def suggested(guild: int, typed: str) -> list[str]:
        payload = desk.fake.autocomplete_payload("alerts", {"subscription": typed}, focused="subscription",
                                                 guild_id=guild, channel_id=CHANNEL_A, subcommand="status")
        await desk.fake.dispatch_interaction(payload)
        return [c["value"] for c in (await desk.fake.wait_for_callback(int(payload["id"])))["data"]["choices"]]

    assert await suggested(GUILD_A, "") == ["default", "china", "weekly"]
    assert await suggested(GUILD_A, "we") == ["weekly"]
    assert await suggested(GUILD_B, "") == []  # not even the names of another server's subscriptions


async def test_a_mute_quiets_every_subscription_of_the_channel_and_one_added_meanwhile(desk: Desk) -> None:
    await set_up_three_subscriptions(desk)
    assert embed(await desk.alerts("mute", {"duration": "2h"}))["title"] == "Muted"
    assert embed(await desk.alerts("subscribe", {"kinds": "share", "subscription": "late"}))["title"] == "Subscribed"
    found = await channel_destinations(desk.app.db.conn, "discord", str(CHANNEL_A))
    assert len({d.muted_until for d in found}) == 1 and found[0].muted_until is not None
    assert embed(await desk.alerts("mute", {"duration": "off"}))["title"] == "Unmuted"
    found = await channel_destinations(desk.app.db.conn, "discord", str(CHANNEL_A))
    assert all(d.muted_until is None for d in found)


# ---------------------------------------------------------------- Slack

TEAM_A, TEAM_B = "T0DESK", "T0OTHER"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        server.add_user("UADMIN", is_admin=True)
        yield server


@pytest.fixture
async def slack_db(db_path: Path, store_backend: str) -> AsyncIterator[Database]:
    database = await open_database(store_of(db_path))
    yield database
    await database.close()


@pytest.fixture
async def socket(slack: FakeSlack, slack_db: Database, db_path: Path) -> AsyncIterator[SlackSocketService]:
    from bot.config import parse_settings

    settings = parse_settings({"store": {"path": str(db_path)}, "console": {"enabled": False},
                               "slack": {"enabled": True, "api_url": slack.api_url}}, env=store_env())
    service = build_slack_service(settings, SECRETS, slack_db)
    assert isinstance(service, SlackSocketService)
    await service.start()
    yield service
    await service.close()


async def say(slack: FakeSlack, text: str, team: str = TEAM_A) -> dict[str, Any]:
    _, _, body, _ = await command(slack, text, user="UADMIN", team=team)
    return body


async def test_slack_takes_the_subscription_token_anywhere_in_the_text(
    slack: FakeSlack, socket: SlackSocketService, slack_db: Database
) -> None:
    assert title(await say(slack, "alerts subscribe entered subscription:china")) == "Subscribed"
    assert title(await say(slack, "alerts mention subscription:china <!subteam^S0CHINA|@china>")) == "Mention set"
    assert title(await say(slack, "alerts filter countries=CN subscription:China")) == "Filters set"  # any case
    assert title(await say(slack, "alerts subscribe digest subscription:weekly")) == "Subscribed"
    assert title(await say(slack, "alerts subscribe entered,share")) == "Subscribed"
    ruled = await say(slack, "alerts rule add subscription:china CN above 60")
    assert body_text(ruled).startswith("Subscription china in this channel will be told when 🇨🇳 China above 60%")
    watched = await say(slack, "alerts watch deepseek-ai subscription:weekly")
    assert body_text(watched).startswith("Subscription weekly in this channel will be told the first time")
    assert await subscriptions(slack_db.conn, "slack", "C1") == {
        "china": (("entered", "new_leader"), "S0CHINA", True),
        "weekly": (("digest",), None, True),
        "default": (("entered", "new_leader", "share"), None, True),
    }
    text = body_text(await say(slack, "alerts status"))
    assert text.index("Subscription default") < text.index("Subscription china") < text.index("Subscription weekly")
    china = text[text.index("Subscription china"):text.index("Subscription weekly")]
    assert "Rule: 🇨🇳 CN above 60%" in china and "Watching" not in china
    assert "Watching: author deepseek-ai" in text[text.index("Subscription weekly"):]

    body = await say(slack, "alerts unsubscribe subscription:weekly")
    assert title(body) == "Unsubscribed" and "still gets alerts through: default, china" in body_text(body)
    assert (await subscriptions(slack_db.conn, "slack", "C1"))["weekly"][2] is False


@pytest.mark.parametrize(("text", "error"), [
    ("alerts rule add CN above 50 subscription:korea",
     "This channel has no subscription named 'korea'; its subscriptions: default, china."),
    ("alerts subscribe subscription:Ch!na", "'ch!na' is not a subscription name"),
    ("alerts subscribe subscription:", "Give the subscription's name after `subscription:`"),
    ("alerts status subscription:a subscription:b", "Name one subscription"),
    ("alerts mute 2h subscription:china", "A mute quiets the whole channel"),
])
async def test_slack_answers_a_bad_or_unknown_name_in_one_line(
    slack: FakeSlack, socket: SlackSocketService, slack_db: Database, text: str, error: str
) -> None:
    await say(slack, "alerts subscribe")
    await say(slack, "alerts subscribe entered subscription:china")
    before = await everything(slack_db.conn)
    body = await say(slack, text)
    assert body["response_type"] == "ephemeral" and title(body) == "That did not work"
    assert error in body_text(body), body_text(body)
    assert await everything(slack_db.conn) == before


async def test_slack_another_workspace_can_add_no_subscription_to_a_shared_channel(
    slack: FakeSlack, socket: SlackSocketService, slack_db: Database
) -> None:
    await say(slack, "alerts subscribe entered subscription:china")
    before = await everything(slack_db.conn)
    for text in ("alerts subscribe share subscription:other", "alerts status", "alerts mute 1d",
                 "alerts unsubscribe subscription:china"):
        body = await say(slack, text, team=TEAM_B)
        assert "were set up from another workspace" in body_text(body) and "china" not in body_text(body), text
    assert await everything(slack_db.conn) == before
    desk = await tenants.get_tenant(slack_db.conn, "slack", TEAM_A)
    assert desk is not None and await tenants.count_subscriptions(slack_db.conn, desk.id) == 1


async def test_slack_a_channel_holds_a_bounded_number_of_subscriptions(
    slack: FakeSlack, socket: SlackSocketService, slack_db: Database
) -> None:
    for n in range(MAX_PER_CHANNEL):
        assert title(await say(slack, f"alerts subscribe share subscription:s{n}")) == "Subscribed"
    body = await say(slack, "alerts subscribe share subscription:one-more")
    assert f"This channel has {MAX_PER_CHANNEL} subscriptions, the most one channel may hold" in body_text(body)
    assert title(await say(slack, "alerts subscribe entered subscription:s3")) == "Subscription updated"
