"""`/alerts silence`, `/alerts silences`, `/alerts unsilence` (issue 20) through the real discord.py and slack_bolt
against the fakes: set, listed, held back at the next poll while the rest is posted, counted in status, ended."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.console import ConsoleAdapter
from adapters.discord_commands import DiscordGateway
from adapters.discord_out import DiscordAdapter, make_client
from adapters.slack_app import SlackSocketService, build_slack_service
from bot.app import Trendwatch
from bot.config import Secrets, parse_settings
from store.db import Database, open_database
from tests.fakes.discord_api import DEFAULT_MEMBER_PERMISSIONS, FakeDiscord
from tests.fakes.hub import FakeHub, ranked
from tests.fakes.slack_api import FakeSlack
from tests.support.app import CN, US, settings_for
from tests.support.discord import MANAGE_CHANNELS, embed, ephemeral
from tests.support.slack import SECRETS, body_text, command, title
from tests.support.stores import store_env, store_of

# ---------------------------------------------------------------- Discord


@dataclass
class Bot:
    fake: FakeDiscord
    hub: FakeHub
    app: Trendwatch
    gateway: DiscordGateway

    async def alerts(self, subcommand: str, options: dict[str, Any] | None = None,
                     admin: bool = True) -> dict[str, Any]:
        payload = self.fake.slash_command_payload(
            "alerts", options, subcommand=subcommand, username="alice",
            permissions=MANAGE_CHANNELS if admin else DEFAULT_MEMBER_PERMISSIONS)
        await self.fake.dispatch_interaction(payload)
        body: dict[str, Any] = await self.fake.wait_for_callback(int(payload["id"]))
        assert ephemeral(body)
        return body

    async def text(self, subcommand: str, options: dict[str, Any] | None = None, admin: bool = True) -> str:
        shown = embed(await self.alerts(subcommand, options, admin))
        return f"{shown['title']}: {shown.get('description', '')}".replace("\\#", "#")  # Discord's escaped "#"


@pytest.fixture
async def bot(fake_hub: FakeHub, db_path: Path) -> AsyncIterator[Bot]:
    async with FakeDiscord() as fake:
        with fake.patch_discord():
            settings = settings_for(fake_hub, db_path, discord={"enabled": True, "api_base": fake.api_base})
            adapter = DiscordAdapter("fake-token", fake.api_base, client=make_client(guild_ready_timeout=0.05))
            app = await Trendwatch.open(settings, Secrets.from_env({}),
                                        {"console": ConsoleAdapter("jsonl", io.StringIO()), "discord": adapter})
            assert await app.acquire_lease() is None
            gateway = DiscordGateway(adapter, app.db, app.settings, is_active=lambda: app.has_lease, ready_timeout=3)
            await gateway.start()
            try:
                yield Bot(fake, fake_hub, app, gateway)
            finally:
                await gateway.close()
                await app.close()


async def test_a_silenced_model_and_kind_are_held_back_at_the_poll_and_the_rest_is_posted(bot: Bot) -> None:
    assert (await bot.text("subscribe")).startswith("Subscribed")
    bot.hub.models = ranked(US[:8] + CN[:2])
    await bot.app.poll()  # the channel's baseline
    model = await bot.text("silence", {"matcher": "model:qwen/Q3", "duration": "7d"})
    assert model.startswith("Silenced: #1 model:qwen/Q3: alerts here that it catches are held back until"), model
    share = await bot.text("silence", {"matcher": "kind:share", "duration": "2h"})
    assert share.startswith("Silenced: #2 kind:share")

    bot.hub.models = ranked(CN[:5] + US[:5])  # Qwen/q2..q4 enter, Qwen/q0 leads, CN reaches 50%
    await bot.app.poll()
    await bot.app.deliver()
    posted = [message["embeds"][0] for message in bot.fake.messages(bot.fake.channel_id)]
    titles = [shown["title"] for shown in posted]
    assert titles == ["2 models entered the trending top 10", "New #1 on the Hub's trending list: Qwen/q0"], titles
    assert "Qwen/q2" in posted[0]["description"] and "Qwen/q4" in posted[0]["description"]
    assert "Qwen/q3" not in posted[0]["description"]

    listed = await bot.text("silences", admin=False)  # a read, like status
    assert re.search(r"#1 model:qwen/Q3: ends in 6d 23h \(.* UTC\), set by Alice \(\d+\); 1 alert held back",
                     listed), listed
    assert "#2 kind:share: ends in 1h 59m" in listed and "set by Alice" in listed
    status = await bot.text("status", admin=False)
    assert "🔕 Silence #1 model:qwen/Q3" in status and "1 alert held back" in status, status

    assert (await bot.text("unsilence", {"id": "#2"})).startswith("Silence ended: #2 kind:share no longer holds")
    assert (await bot.text("unsilence", {"id": "2"})).startswith("Already ended")
    listed = await bot.text("silences")
    assert "#2 kind:share: ended" in listed and "by Alice" in listed  # recently ended: still shown, marked
    assert "#2" not in await bot.text("status")


@pytest.mark.parametrize(("subcommand", "options", "expected"), [
    ("silence", {"matcher": "deepseek-ai", "duration": "7d"}, "is not a matcher: give author:NAME"),
    ("silence", {"matcher": "colour:red", "duration": "7d"}, "is not a matcher"),
    ("silence", {"matcher": "author:org/name", "duration": "7d"}, "is not an author like deepseek-ai"),
    ("silence", {"matcher": "model:deepseek-ai", "duration": "7d"}, "is not a model id like org/name"),
    ("silence", {"matcher": "kind:everything", "duration": "7d"}, "is not a kind: choose one of entered, share"),
    ("silence", {"matcher": "country:China", "duration": "7d"}, "not a two-letter country code"),
    ("silence", {"matcher": "author:deepseek-ai", "duration": "forever"}, "is not a duration like 30m, 2h or 7d"),
    ("silence", {"matcher": "author:deepseek-ai", "duration": "91d"}, "(at most 90 days)"),
    ("silence", {"matcher": "author:deepseek-ai", "duration": "7"}, "is not a duration"),
    ("unsilence", {"id": "three"}, "is not a silence id"),
    ("unsilence", {"id": "42"}, "This channel has no silence #42"),
])
async def test_bad_input_gets_one_clear_line(bot: Bot, subcommand: str, options: dict[str, Any],
                                             expected: str) -> None:
    await bot.alerts("subscribe")
    shown = embed(await bot.alerts(subcommand, options))
    assert shown["title"] == "That did not work" and expected in shown["description"], shown
    assert "\n" not in shown["description"]


async def test_setting_and_ending_need_a_channel_manager_and_a_subscription(bot: Bot) -> None:
    refused = await bot.text("silence", {"matcher": "kind:share", "duration": "1d"}, admin=False)
    assert "channel-manager" in refused
    assert "not subscribed" in await bot.text("silence", {"matcher": "kind:share", "duration": "1d"})
    await bot.alerts("subscribe")
    assert (await bot.text("silence", {"matcher": "author:DeepSeek-AI", "duration": "30m"})).startswith("Silenced")
    assert "channel-manager" in await bot.text("unsilence", {"id": "1"}, admin=False)
    assert "author:DeepSeek-AI" in await bot.text("silences", admin=False)


# ---------------------------------------------------------------- Slack


@pytest.fixture
async def slack(db_path: Path) -> AsyncIterator[tuple[FakeSlack, Database]]:
    async with FakeSlack() as fake:
        fake.add_user("UADMIN", is_admin=True)
        fake.add_user("UPLAIN")
        settings = parse_settings({"store": {"path": str(db_path)}, "console": {"enabled": False},
                                   "slack": {"enabled": True, "api_url": fake.api_url}}, env=store_env())
        db = await open_database(store_of(db_path))
        service = build_slack_service(settings, SECRETS, db)
        assert isinstance(service, SlackSocketService)
        await service.start()
        try:
            yield fake, db
        finally:
            await service.close()
            await db.close()


async def test_slack_silence_silences_and_unsilence(slack: tuple[FakeSlack, Database]) -> None:
    fake, db = slack

    async def say(text: str, user: str = "UADMIN") -> str:
        _, acked, body, _ = await command(fake, f"alerts {text}", user=user)
        assert acked < 3 and body["response_type"] == "ephemeral"
        return f"{title(body)}: {body_text(body)}"

    assert (await say("subscribe entered,share")).startswith("Subscribed")
    assert (await say("silence author:deepseek-ai 7d")).startswith("Silenced: #1 author:deepseek-ai")
    assert (await say("silence country:us 12h")).startswith("Silenced: #2 country:US")
    assert "channel-manager" in await say("silence kind:digest 1d", user="UPLAIN")
    assert "Use: alerts silence author:NAME" in await say("silence author:deepseek-ai")
    assert "is not a duration" in await say("silence author:deepseek-ai soon")
    listed = await say("silences", user="UPLAIN")
    assert "#1 author:deepseek-ai: ends in 6d 23h" in listed and "set by alice (UADMIN)" in listed, listed
    assert "#2 country:US: ends in 11h 59m" in listed and "0 alerts held back" in listed
    assert "🔕 Silence #2 country:US" in await say("status", user="UPLAIN")
    assert "channel-manager" in await say("unsilence 1", user="UPLAIN")
    assert "Use: alerts unsilence ID" in await say("unsilence")
    assert (await say("unsilence 1")).startswith("Silence ended: #1 author:deepseek-ai")
    assert "This channel has no silence #7" in await say("unsilence 7")
    async with db.conn.execute("SELECT ended_by FROM silences WHERE id = 1") as cursor:
        assert await cursor.fetchone() == ("alice (UADMIN)",)
    help_text = await say("help")
    assert "alerts silence author:NAME|model:org/name|kind:KIND|country:CC" in help_text
