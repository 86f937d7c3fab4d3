"""`/alerts subscribe digest-daily`, then the day's digest posted once, through the real discord.py and slack_sdk
against the fakes; the public page and feeds list it like the weekly digest."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.console import ConsoleAdapter
from adapters.discord_commands import DiscordGateway
from adapters.discord_out import DiscordAdapter, make_client
from adapters.discord_render import colour_for
from adapters.slack_app import SlackSocketService, build_slack_service
from adapters.slack_out import SlackAdapter
from bot.app import Trendwatch
from bot.config import Secrets, parse_settings
from bot.web.alerts import AlertFilter, public_alerts
from store.db import open_database
from store.destinations import get_destination
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.hub import FakeHub
from tests.fakes.slack_api import FakeSlack
from tests.support.app import settings_for
from tests.support.daily import DAY, DUE, store_days
from tests.support.discord import MANAGE_CHANNELS, embed
from tests.support.slack import SECRETS, body_text, command, title
from tests.support.stores import store_env, store_of

DAILY_TITLE = "Daily trending digest for Tue 22 Jul 2025"


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        with server.patch_discord():
            yield server


async def test_discord_channel_subscribes_and_gets_the_day_once(discord_fake: FakeDiscord, fake_hub: FakeHub,
                                                                 db_path: Path) -> None:
    await store_days(db_path)
    settings = settings_for(fake_hub, db_path, discord={"enabled": True, "api_base": discord_fake.api_base},
                            hub_settings={"poll_interval": "3h"}, console={"enabled": False})
    adapter = DiscordAdapter("fake-token", discord_fake.api_base, client=make_client(guild_ready_timeout=0.05))
    app = await Trendwatch.open(settings, Secrets.from_env({}), {"discord": adapter})
    assert await app.acquire_lease() is None
    gateway = DiscordGateway(adapter, app.db, app.settings, is_active=lambda: app.has_lease, ready_timeout=3)
    await gateway.start()
    channel = discord_fake.channel_id
    try:
        [alerts] = [c for c in discord_fake.synced_commands() if c["name"] == "alerts"]
        [subscribe] = [o for o in alerts["options"] if o["name"] == "subscribe"]
        [kinds] = [o for o in subscribe["options"] if o["name"] == "kinds"]
        # Discord takes at most 100 characters; discord.py would cut a longer one to "…" without a word.
        assert "digest-daily" in kinds["description"] and len(kinds["description"]) <= 100
        assert not kinds["description"].endswith("…")

        nobody = await app.daily_digest_due(DUE)
        assert not nobody.created and "no channel takes the daily digest" in nobody.reason

        payload = discord_fake.slash_command_payload("alerts", {"kinds": "digest-daily"}, subcommand="subscribe",
                                                     permissions=MANAGE_CHANNELS)
        await discord_fake.dispatch_interaction(payload)
        answer = embed(await discord_fake.wait_for_callback(int(payload["id"])))
        assert answer["title"] == "Subscribed", answer
        found = await get_destination(app.db.conn, "discord", str(channel))
        assert found is not None and found.kinds == ("digest-daily",)

        made = await app.daily_digest_due(DUE + timedelta(minutes=2))  # the same morning, the job's next firing
        assert made.created and made.day == DAY and made.recipients == 1
        assert (await app.deliver()).sent == 1
        assert not (await app.daily_digest_due(DUE + timedelta(minutes=3))).created
        assert (await app.deliver()).sent == 0

        [post] = discord_fake.messages(channel)
        shown = post["embeds"][0]
        assert shown["title"] == DAILY_TITLE and shown["color"] == colour_for("digest-daily") != colour_for("digest")
        fields = {field["name"]: field["value"] for field in shown["fields"]}
        assert "[meta-llama/l0](https://huggingface.co/meta-llama/l0)** — from 12:00, 12 h" in fields[
            "\\#1 (changed once)"]  # escaped: a line starting with '#' is a heading in Discord's markdown
        assert "China: 70% — 7 of 10; 65% on average (+5 pts)" in "\n".join(fields.values())
        assert shown["footer"]["text"] == "Day 2025-07-22, times in UTC"

        [listed] = await public_alerts(app.db.conn, AlertFilter(kind="digest-daily"))
        assert (listed.kind, listed.title) == ("digest-daily", "Daily digest 2025-07-22 on models")
        assert listed.text == "8 snapshots of the top 10; average shares: CN 65%, US 35%."
    finally:
        await gateway.close()
        await app.close()


@pytest.fixture
async def slack_fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_user("UADMIN", is_admin=True)
        yield fake


async def test_slack_channel_subscribes_with_the_slash_command_and_gets_the_day_once(slack_fake: FakeSlack,
                                                                                      db_path: Path) -> None:
    await store_days(db_path)
    settings = parse_settings({"store": {"path": str(db_path)}, "console": {"enabled": False},
                               "hub": {"poll_interval": "3h"},
                               "slack": {"enabled": True, "api_url": slack_fake.api_url}}, env=store_env())
    db = await open_database(store_of(db_path))
    service = build_slack_service(settings, SECRETS, db)
    assert isinstance(service, SlackSocketService)
    await service.start()
    try:
        _, _, body, _ = await command(slack_fake, "alerts subscribe digest-daily", user="UADMIN")
        assert title(body) == "Subscribed", body_text(body)
        _, _, status, _ = await command(slack_fake, "alerts status", user="UADMIN")
        assert "Subscribed to: digest-daily" in body_text(status)
        _, _, usage, _ = await command(slack_fake, "help", user="UADMIN")
        assert "alerts subscribe [entered,share,digest,left,climber,digest-daily]" in body_text(usage)
    finally:
        await service.close()
        await db.close()

    app = await Trendwatch.open(settings, Secrets.from_env({"SLACK_BOT_TOKEN": "xoxb-test"}),
                                {"console": ConsoleAdapter("text", io.StringIO()),
                                 "slack": SlackAdapter("xoxb-test", api_url=settings.slack.api_url)})
    assert await app.acquire_lease() is None
    try:
        made = await app.daily_digest_due(DUE + timedelta(hours=2))  # back from a restart at 11:00: caught up
        assert made.created and made.reason == "catch-up" and made.recipients == 1
        assert (await app.deliver()).sent == 1
        assert not (await app.daily_digest_due(DUE + timedelta(hours=2, minutes=1))).created
    finally:
        await app.close()
    [post] = slack_fake.posts("C1")
    assert post["blocks"][0]["text"]["text"] == DAILY_TITLE
    assert post["text"].startswith(DAILY_TITLE)
    text = "\n".join(block["text"]["text"] for block in post["blocks"] if "text" in block)
    assert "*<https://huggingface.co/Qwen/q6|Qwen/q6>* — entered 12:00, 12 h in the top 10" in text
    assert "#7 → #1" in text
    assert slack_fake.uploads == []  # the daily digest is text only
