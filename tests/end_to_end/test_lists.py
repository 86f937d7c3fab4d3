"""Issue 12's "Done when": two more lists, a CN-only channel and an author watch, end to end.

Through `python -m bot once` against the fake Hub and fake Discord (config routes), then the same
set up by slash commands on Discord (gateway) and Slack (Socket Mode).
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.console import ConsoleAdapter
from adapters.discord_commands import DiscordGateway
from adapters.discord_out import DiscordAdapter, make_client
from adapters.slack_app import SlackSocketService, build_slack_service
from bot.app import Trendwatch
from bot.config import Secrets, parse_settings
from tests.fakes.discord_api import FakeDiscord, FakeGuild
from tests.fakes.hub import FakeHub, hub_model, hub_space, ranked
from tests.fakes.slack_api import FakeSlack
from tests.support.cli import bot
from tests.support.discord import MANAGE_CHANNELS, embed, ephemeral
from tests.support.slack import SECRETS, body_text, command, title

CN = [f"Qwen/q{i}" for i in range(10)]
US = [f"meta-llama/l{i}" for i in range(10)]
FILL = [f"jane/m{i}" for i in range(40)]
SPACES = [f"org{i}/space{i}" for i in range(14)]
IMAGES = [f"black-forest-labs/img{i}" for i in range(13)]
WATCHED = "deepseek-ai/DeepSeek-V4"
CN_CHANNEL, ALL_CHANNEL = 111111111111111111, 222222222222222222


def serve(hub: FakeHub, poll: int) -> None:
    """Poll 1: the baseline. Poll 2: Qwen/q2 (CN) and meta-llama/l9 (US) enter the top 10, DeepSeek-V4
    appears at #30, a Space and a text-to-image model enter their lists' top 10."""
    if poll == 1:
        regular = [*US[:8], *CN[:2], *FILL[:30]]
        space_ids, image_ids = SPACES[:12], IMAGES[:12]
    else:
        regular = [*US[:6], *CN[:3], US[9], *FILL[:19], WATCHED, *FILL[19:29]]
        space_ids, image_ids = [SPACES[13], *SPACES[:11]], [IMAGES[12], *IMAGES[:11]]
    assert len(regular) == 40 and (poll == 1 or regular.index(WATCHED) == 29)
    images = [hub_model(m, score=100 - i, pipeline_tag="text-to-image", library_name="diffusers")
              for i, m in enumerate(image_ids)]
    hub.models = ranked(regular) + images  # the default list reads 40; the images only match its filter
    hub.spaces = [hub_space(s, score=1000 - 10 * i) for i, s in enumerate(space_ids)]


LISTS_TOML = """
[[lists]]
name = "spaces"
kind = "spaces"
top_n = 10

[[lists]]
name = "text-to-image"
kind = "models"
pipeline_tag = "text-to-image"

[[watch]]
author = "deepseek-ai"
"""


def config_text(hub: FakeHub, db: Path, extra: str = "") -> str:
    return f"""
[hub]
endpoint = "{hub.endpoint}"
top_n = 10
depth = 40
retry_budget = "2s"
lineage_lookups = 0

[store]
path = "{db}"

[console]
enabled = true
format = "jsonl"
{LISTS_TOML}
{extra}
"""


async def test_done_when_through_once_with_config_routes(fake_hub: FakeHub, tmp_path: Path) -> None:
    guild = FakeGuild(channel_ids=(CN_CHANNEL, ALL_CHANNEL))
    async with FakeDiscord(guilds=[guild]) as fake:
        routes = f"""
[discord]
enabled = true
api_base = "{fake.api_base}"

[[routes]]
platform = "discord"
channel = "{CN_CHANNEL}"
countries = ["CN"]

[[routes]]
platform = "discord"
channel = "{ALL_CHANNEL}"
lists = ["models", "spaces"]
kinds = ["entered", "new_leader", "share", "digest", "watched"]
"""
        config = tmp_path / "c.toml"
        config.write_text(config_text(fake_hub, tmp_path / "t.db", routes), encoding="utf-8")
        env = {"DISCORD_TOKEN": "fake-token"}
        serve(fake_hub, 1)
        first = await bot("once", "--config", str(config), env=env)
        assert first.code == 0 and first.lines() == [], first.err
        serve(fake_hub, 2)
        second = await bot("once", "--config", str(config), env=env)
        assert second.code == 0, second.err

        printed = second.lines()
        assert printed and all("list" in alert for alert in printed)
        entered = {a["list"]: [m["id"] for m in a["models"]] for a in printed if a["kind"] == "entered"}
        assert entered == {"models": ["Qwen/q2", "meta-llama/l9"], "spaces": [SPACES[13]],
                           "text-to-image": [IMAGES[12]]}
        watched = [a for a in printed if a["kind"] == "watched"]
        assert [(a["id"], a["rank"], a["watch"], a["list"], a["country"]) for a in watched] == [
            (WATCHED, 30, "author deepseek-ai", "models", "CN")]
        assert any(r.query.get("pipeline_tag") == "text-to-image" for r in fake_hub.requests_to("/api/models"))

        only_cn = fake.messages(CN_CHANNEL)
        assert [m["embeds"][0]["title"] for m in only_cn] == ["Qwen/q2 entered the trending top 10"]
        assert "meta-llama" not in json.dumps(only_cn)
        everything = [m["embeds"][0]["title"] for m in fake.messages(ALL_CHANNEL)]
        assert everything == [
            "2 models entered the trending top 10",
            f"Watched: {WATCHED} appeared at #30 of the trending models",
            f"[spaces] {SPACES[13]} entered the trending top 10",
        ]

        listed = await bot("trending", "--config", str(config), "--list", "spaces", "--json")
        rows = json.loads(listed.out)
        assert [row["id"] for row in rows[:2]] == [SPACES[13], SPACES[0]]
        assert rows[0]["url"] == f"https://huggingface.co/spaces/{SPACES[13]}" and rows[0]["movement"] is None
        share = await bot("share", "--config", str(config), "--list", "text-to-image")
        assert share.code == 0 and "[text-to-image] Who holds the trending top 10" in share.out
        chart = await bot("share", "--config", str(config), "--list", "text-to-image", "--chart",
                          str(tmp_path / "c.png"))
        assert chart.code == 2 and "models list only" in chart.err and not (tmp_path / "c.png").exists()
        unknown = await bot("trending", "--config", str(config), "--list", "nope")
        assert unknown.code == 1 and "no list named 'nope'" in unknown.err and "Traceback" not in unknown.err


def lists_settings(hub: FakeHub, db: Path, **extra: Any) -> Any:
    return parse_settings({
        "hub": {"endpoint": hub.endpoint, "top_n": 10, "depth": 40, "retry_budget": "2s", "lineage_lookups": 0},
        "store": {"path": str(db)},
        "console": {"enabled": False},
        "lists": [{"name": "spaces", "kind": "spaces", "top_n": 10},
                  {"name": "text-to-image", "kind": "models", "pipeline_tag": "text-to-image"}],
        **extra,
    }, env={})


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        with server.patch_discord():
            yield server


async def test_done_when_through_discord_slash_commands(discord_fake: FakeDiscord, fake_hub: FakeHub,
                                                        db_path: Path) -> None:
    fake = discord_fake
    settings = lists_settings(fake_hub, db_path, discord={"enabled": True, "api_base": fake.api_base})
    adapter = DiscordAdapter("fake-token", fake.api_base, client=make_client(guild_ready_timeout=0.05))
    app = await Trendwatch.open(settings, Secrets.from_env({}),
                                {"console": ConsoleAdapter("jsonl", io.StringIO()), "discord": adapter})
    assert await app.acquire_lease() is None
    gateway = DiscordGateway(adapter, app.db, app.settings, is_active=lambda: app.has_lease, ready_timeout=3)
    await gateway.start()

    async def alerts(subcommand: str, options: dict[str, Any] | None = None, admin: bool = True) -> dict[str, Any]:
        payload = fake.slash_command_payload("alerts", options, subcommand=subcommand,
                                             permissions=MANAGE_CHANNELS if admin else "0")
        await fake.dispatch_interaction(payload)
        body: dict[str, Any] = await fake.wait_for_callback(int(payload["id"]))
        return body

    try:
        assert embed(await alerts("subscribe"))["title"] == "Subscribed"
        refused = await alerts("filter", {"countries": "CN"}, admin=False)
        assert ephemeral(refused) and "channel-manager" in embed(refused)["description"]
        bad = await alerts("filter", {"countries": "Atlantis"})
        assert "not a two-letter country code" in embed(bad)["description"]
        set_filter = await alerts("filter", {"countries": "cn"})
        assert ephemeral(set_filter) and embed(set_filter)["title"] == "Filters set"
        watch = await alerts("watch", {"target": "deepseek-ai"})
        assert ephemeral(watch) and embed(watch)["title"] == "Watching"
        assert "neither an author" in embed(await alerts("watch", {"target": "a b"}))["description"]
        status = embed(await alerts("status", admin=False))["description"]
        assert "Lists: models" in status and "Only countries: CN" in status
        assert "Watching: author deepseek-ai on models" in status

        for poll in (1, 2):
            serve(fake_hub, poll)
            assert (await app.poll()).error is None
        await app.deliver()
        titles = [m["embeds"][0]["title"] for m in fake.messages(fake.channel_id)]
        assert titles == ["Qwen/q2 entered the trending top 10",
                          f"Watched: {WATCHED} appeared at #30 of the trending models"]

        payload = fake.slash_command_payload("trending", {"list": "spaces", "count": 5})
        await fake.dispatch_interaction(payload)
        answer = embed(await fake.wait_for_callback(int(payload["id"])))
        assert answer["title"] == "[spaces] Hugging Face trending Spaces"
        assert answer["description"].count("\n") == 4 and f"/spaces/{SPACES[13]})" in answer["description"]
        payload = fake.autocomplete_payload("trending", {"list": "t"}, focused="list")
        await fake.dispatch_interaction(payload)
        choices = (await fake.wait_for_callback(int(payload["id"])))["data"]["choices"]
        assert [c["value"] for c in choices] == ["text-to-image"]
        payload = fake.slash_command_payload("share", {"list": "text-to-image"})
        await fake.dispatch_interaction(payload)
        assert embed(await fake.wait_for_callback(int(payload["id"])))["title"] == (
            "[text-to-image] Who holds the trending top 10")
        payload = fake.slash_command_payload("trending", {"list": "nope"})
        await fake.dispatch_interaction(payload)
        assert "No list named 'nope'" in embed(await fake.wait_for_callback(int(payload["id"])))["description"]

        unwatch = await alerts("unwatch", {"target": "deepseek-ai"})
        assert embed(unwatch)["title"] == "Unwatched"
        cleared = await alerts("filter", {"clear": True})
        assert embed(cleared)["title"] == "Filters cleared"
    finally:
        await gateway.close()
        await app.close()


@pytest.fixture
async def slack_fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        server.add_user("UADMIN", is_admin=True)
        server.add_user("UPLAIN")
        yield server


async def test_done_when_through_slack_slash_commands(slack_fake: FakeSlack, fake_hub: FakeHub,
                                                      db_path: Path) -> None:
    fake = slack_fake
    settings = lists_settings(fake_hub, db_path, slack={"enabled": True, "api_url": fake.api_url})
    app = await Trendwatch.open(settings, SECRETS)
    assert await app.acquire_lease() is None
    service = build_slack_service(settings, SECRETS, app.db)
    assert isinstance(service, SlackSocketService)
    await service.start()
    try:
        _, _, body, _ = await command(fake, "alerts subscribe", user="UADMIN")
        assert title(body) == "Subscribed"
        _, _, body, _ = await command(fake, "alerts filter countries=CN", user="UPLAIN")
        assert body["response_type"] == "ephemeral" and "admin" in body_text(body)
        _, _, body, _ = await command(fake, "alerts filter bogus=1", user="UADMIN")
        assert "Unknown filter 'bogus'" in body_text(body)
        _, _, body, _ = await command(fake, "alerts filter countries=CN lists=models,spaces", user="UADMIN")
        assert body["response_type"] == "ephemeral" and title(body) == "Filters set"
        assert "Lists: models, spaces" in body_text(body) and "Only countries: CN" in body_text(body)
        _, _, body, _ = await command(fake, "alerts watch deepseek-ai", user="UADMIN")
        assert title(body) == "Watching"
        _, _, body, _ = await command(fake, "alerts status")
        assert "Only countries: CN" in body_text(body) and "Watching: author deepseek-ai on models" in body_text(body)

        for poll in (1, 2):
            serve(fake_hub, poll)
            assert (await app.poll()).error is None
        await app.deliver()
        posted = [post["text"] for post in fake.posts("C1")]
        # CN only: the model entry and the watch; the new Space is from no known country.
        assert len(posted) == 2, posted
        assert "Qwen/q2 entered the trending top 10" in posted[0]
        assert f"Watched: {WATCHED} appeared at #30" in posted[1]

        _, _, body, _ = await command(fake, "spaces 5")
        assert title(body) == "[spaces] Hugging Face trending Spaces" and body_text(body).count("\n") == 4
        _, _, body, _ = await command(fake, "share text-to-image")
        assert title(body) == "[text-to-image] Who holds the trending top 10"
        _, _, body, _ = await command(fake, "alerts unwatch deepseek-ai", user="UADMIN")
        assert title(body) == "Unwatched"
    finally:
        await service.close()
        await app.close()
