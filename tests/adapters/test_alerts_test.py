"""`/alerts test` (Slack: `/trending alerts test`) through the real client libraries, on both stores.

An admin runs it: the channel receives one real post per alert kind it takes, each marked as a test,
through the outbox and the channel's adapter (delivery kicked by the command). A non-admin is refused
and nothing is posted; a channel that takes no alerts is told to subscribe first. The samples never
reach the public web page's `/api/alerts` or the feeds, while a real alert after them does.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.console import ConsoleAdapter
from adapters.discord_commands import DiscordGateway
from adapters.discord_out import DiscordAdapter, make_client
from adapters.slack_app import build_slack_service
from adapters.slack_out import SlackAdapter
from bot.app import Trendwatch
from bot.commands.samples import FAKE_MODEL
from bot.config import Secrets, Settings
from bot.delivery.wording import TEST_NOTE
from bot.web.site import Site
from store.db import Database
from tests.fakes.discord_api import FakeDiscord, FakeGuild
from tests.fakes.hub import FakeHub, ranked
from tests.fakes.slack_api import FakeSlack
from tests.support.app import CN, US, Kicks
from tests.support.app import settings_for as app_settings
from tests.support.discord import embed, ephemeral, slash_alerts
from tests.support.slack import SECRETS, body_text, command, title
from tests.support.slack import settings_for as slack_settings

GUILD = 1_200_000_000_000_000_001
CHANNEL, QUIET = 1_300_000_000_000_000_001, 1_300_000_000_000_000_002



async def public_alerts(db: Database, settings: Settings) -> tuple[list[dict[str, Any]], list[Any], str]:
    """What the web page shows: /api/alerts, the JSON feed's items and the Atom feed, over a real server."""
    site = web.Application()
    site.add_routes(Site(db, settings).routes())
    client = TestClient(TestServer(site, host="127.0.0.1"))
    await client.start_server()
    try:
        api = (await (await client.get("/api/alerts")).json())["alerts"]
        feed = json.loads(await (await client.get("/feeds/alerts.json")).text())["items"]
        atom = await (await client.get("/feeds/alerts.atom")).text()
    finally:
        await client.close()
    return api, feed, atom


async def outbox_rows(db: Database) -> int:
    async with db.conn.execute("SELECT COUNT(*) FROM outbox") as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


# ---------------------------------------------------------------- Discord


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(guilds=[FakeGuild(GUILD, (CHANNEL, QUIET), "Alpha")]) as server:
        with server.patch_discord():
            yield server


async def alerts(fake: FakeDiscord, subcommand: str, options: Any = None, *, channel: int = CHANNEL,
                 admin: bool = True) -> dict[str, Any]:
    return await slash_alerts(fake, subcommand, options, guild=GUILD, channel=channel, admin=admin)


async def test_discord_admin_gets_one_marked_post_per_subscribed_kind_and_the_web_never_lists_them(
    discord_fake: FakeDiscord, fake_hub: FakeHub, db_path: Path
) -> None:
    settings = app_settings(fake_hub, db_path, discord={"enabled": True, "api_base": discord_fake.api_base},
                            web={"enabled": True})
    adapter = DiscordAdapter("fake-token", discord_fake.api_base, client=make_client(guild_ready_timeout=0.05))
    app = await Trendwatch.open(settings, Secrets.from_env({}),
                                {"console": ConsoleAdapter("jsonl", io.StringIO()), "discord": adapter})
    assert await app.acquire_lease() is None
    kicks = Kicks()
    kicks.app = app
    gateway = DiscordGateway(adapter, app.db, app.settings, is_active=lambda: app.has_lease, ready_timeout=3,
                             kick_delivery=kicks)
    await gateway.start()
    try:
        fake_hub.models = ranked(US[:8] + CN[:2])
        await app.poll()  # the baseline: the samples name its real models
        assert embed(await alerts(discord_fake, "subscribe", {"kinds": "all"}))["title"] == "Subscribed"

        refused = await alerts(discord_fake, "test", admin=False)
        assert ephemeral(refused) and "admin" in embed(refused)["description"]
        quiet = embed(await alerts(discord_fake, "test", channel=QUIET))["description"]
        assert "not subscribed" in quiet and "alerts subscribe" in quiet
        await kicks.settle()
        assert discord_fake.messages(CHANNEL) == [] and discord_fake.messages(QUIET) == []

        answer = await alerts(discord_fake, "test")
        assert ephemeral(answer)
        assert embed(answer)["description"].splitlines()[0].replace("\\_", "_") == \
            "Sent 7 test alerts to this channel: entered, new_leader, share, digest, left, climber, digest-daily."
        await kicks.settle()
        posts = await discord_fake.wait_for_messages(CHANNEL, 7)
        assert len(posts) == 7 and discord_fake.messages(QUIET) == []
        titles = [post["embeds"][0]["title"] for post in posts]
        assert all(t.startswith("Test: ") for t in titles), titles
        assert titles[-1].startswith("Test: Daily trending digest for ")
        assert all(TEST_NOTE in post["embeds"][0]["description"] for post in posts)
        shown = json.dumps(posts)
        assert "meta-llama/l0" in shown and FAKE_MODEL not in shown  # built from the stored snapshot

        api, feed, atom = await public_alerts(app.db, app.settings)
        assert api == [] and feed == [] and "Test:" not in atom

        fake_hub.models = ranked(CN[:5] + US[:5])  # a real change after the test: the page lists it, alone
        await app.poll()
        await app.deliver()
        api, feed, atom = await public_alerts(app.db, app.settings)
        assert api and all(not a["title"].startswith("Test:") for a in api)
        assert len(feed) == len(api) and "Test:" not in atom
    finally:
        await gateway.close()
        await app.close()


# ---------------------------------------------------------------- Slack


@pytest.fixture
async def slack_fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_user("UADMIN", is_admin=True)
        yield fake


async def test_slack_admin_gets_one_marked_post_per_kind_of_the_channel_and_a_plain_user_is_refused(
    slack_fake: FakeSlack, db_path: Path
) -> None:
    """A channel of a config route (entered, new_leader, share, digest), before any poll: plainly fake samples."""
    settings = slack_settings(None, slack_fake, db_path)
    adapter = SlackAdapter("xoxb-test", slack_fake.api_url)
    app = await Trendwatch.open(settings, Secrets.from_env({}), {"slack": adapter})
    assert await app.acquire_lease() is None
    kicks = Kicks()
    kicks.app = app
    service = build_slack_service(settings, SECRETS, app.db, kick_delivery=kicks)
    assert service is not None
    await service.start()
    try:
        _, _, refused, _ = await command(slack_fake, "alerts test", user="UPLAIN")
        assert refused["response_type"] == "ephemeral" and "admin" in body_text(refused)
        _, _, quiet, _ = await command(slack_fake, "alerts test", user="UADMIN", channel="C2")
        assert "not subscribed" in body_text(quiet)
        await kicks.settle()
        assert slack_fake.posts() == []

        _, _, answer, _ = await command(slack_fake, "alerts test", user="UADMIN")
        assert title(answer) == "Test alerts queued"
        assert "Sent 4 test alerts to this channel: entered, new_leader, share, digest." in body_text(answer)
        await kicks.settle()
        await slack_fake.wait_until(lambda: len(slack_fake.posts("C1")) == 4, timeout=5)
        posts = slack_fake.posts("C1")
        assert len(posts) == 4 and slack_fake.posts("C2") == []
        assert all(post["text"].startswith("Test: ") for post in posts), [post["text"] for post in posts]
        shown = json.dumps(posts)
        assert shown.count(TEST_NOTE) >= 4 and FAKE_MODEL in shown

        api, feed, atom = await public_alerts(app.db, app.settings)
        assert api == [] and feed == [] and "Test:" not in atom
    finally:
        await service.close()
        await app.close()


async def test_discord_a_channel_the_bot_may_not_post_in_is_paused_as_delivery_pauses_it(
    discord_fake: FakeDiscord, fake_hub: FakeHub, db_path: Path
) -> None:
    """The point of the command: a missing permission shows now, the way a real alert would find it."""
    settings = app_settings(fake_hub, db_path, discord={"enabled": True, "api_base": discord_fake.api_base})
    adapter = DiscordAdapter("fake-token", discord_fake.api_base, client=make_client(guild_ready_timeout=0.05))
    app = await Trendwatch.open(settings, Secrets.from_env({}), {"discord": adapter})
    assert await app.acquire_lease() is None
    kicks = Kicks()
    kicks.app = app
    gateway = DiscordGateway(adapter, app.db, app.settings, is_active=lambda: app.has_lease, ready_timeout=3,
                             kick_delivery=kicks)
    await gateway.start()
    try:
        assert embed(await alerts(discord_fake, "subscribe", {"kinds": "share"}))["title"] == "Subscribed"
        discord_fake.fail_channel(CHANNEL, 403)
        answer = embed(await alerts(discord_fake, "test"))["description"]
        assert answer.splitlines()[0] == "Sent 1 test alert to this channel: share."
        await kicks.settle()
        assert discord_fake.messages(CHANNEL) == []
        status = embed(await alerts(discord_fake, "status"))["description"]
        assert "Paused" in status and "Missing Access" in status
        queued = await outbox_rows(app.db)
        again = embed(await alerts(discord_fake, "test"))["description"].replace("\\`", "`")
        assert again.startswith("This channel is paused (Discord answered 403 Missing Access")
        assert "`alerts subscribe` resumes it" in again and "\n" not in again
        assert await outbox_rows(app.db) == queued  # nothing queued that a resume would drop
    finally:
        await gateway.close()
        await app.close()
