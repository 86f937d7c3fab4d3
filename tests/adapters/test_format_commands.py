"""`/alerts format` (Slack: `/trending alerts format`) and `[[routes]] template`, through the real client
libraries against the fakes, on both stores (issue 20, message templates).

An admin sets a subscription's look: a bad template is one line naming what is wrong and the known fields, and
changes nothing; a good one is stored, shown by `alerts status`, previewed in the answer, and the next real
alerts (and `alerts test`) arrive in it at the fake platform. A config route's template reaches its channel.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import discord
import pytest

from adapters.console import ConsoleAdapter
from adapters.discord_commands import DiscordGateway
from adapters.discord_out import DiscordAdapter, make_client
from adapters.slack_app import build_slack_service, parse_format
from adapters.slack_out import SlackAdapter
from bot.app import Trendwatch
from bot.config import Secrets
from bot.delivery.wording import render
from bot.domain.events import Entered, EnteredModel
from bot.domain.messages import Alert
from store.destinations import get_destination, set_template
from tests.fakes.discord_api import FakeDiscord, FakeGuild
from tests.fakes.hub import FakeHub, ranked
from tests.fakes.slack_api import FakeSlack
from tests.support.app import CN, US, Kicks
from tests.support.app import settings_for as app_settings
from tests.support.discord import embed, ephemeral, slash_alerts
from tests.support.slack import SECRETS, body_text, command, title
from tests.support.slack import settings_for as slack_settings

GUILD = 1_200_000_000_000_000_001
CHANNEL = 1_300_000_000_000_000_001
TEMPLATE = "{rank}. {country_flag} {id} ({likes} likes)"



def unescaped(text: str) -> str:
    """An embed's text as a reader sees it: Discord markdown escapes removed."""
    return text.replace("\\_", "_").replace("\\*", "*").replace("\\#", "#")


# ---------------------------------------------------------------- Discord


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(guilds=[FakeGuild(GUILD, (CHANNEL,), "Alpha")]) as server:
        with server.patch_discord():
            yield server


async def alerts(fake: FakeDiscord, subcommand: str, options: Any = None, *, admin: bool = True) -> dict[str, Any]:
    return await slash_alerts(fake, subcommand, options, guild=GUILD, channel=CHANNEL, admin=admin)


async def test_discord_format_is_checked_when_set_shown_in_status_and_the_next_alerts_come_in_it(
    discord_fake: FakeDiscord, fake_hub: FakeHub, db_path: Path
) -> None:
    settings = app_settings(fake_hub, db_path, discord={"enabled": True, "api_base": discord_fake.api_base})
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
        fake_hub.models = ranked(US[:8] + CN[:2], likes=77)
        await app.poll()  # the baseline
        assert embed(await alerts(discord_fake, "subscribe", {"kinds": "entered"}))["title"] == "Subscribed"
        await app.poll()  # the subscription's own baseline

        bad = await alerts(discord_fake, "format", {"style": "custom", "template": "{rank}. {likez} {id}"})
        said = unescaped(embed(bad)["description"])
        assert ephemeral(bad) and embed(bad)["title"] == "That did not work" and "\n" not in said
        assert "unknown field {likez}; fields: id, rank, previous_rank, movement" in said
        attribute = unescaped(embed(await alerts(discord_fake, "format",
                                                 {"style": "custom", "template": "{id.__class__}"}))["description"])
        assert "{id.__class__} is not a field" in attribute
        refused = await alerts(discord_fake, "format", {"style": "compact"}, admin=False)
        assert "admin" in embed(refused)["description"]
        other = await alerts(discord_fake, "format", {"style": "compact", "subscription": "china"})
        assert "no subscription named 'china'" in embed(other)["description"]
        async with app.db.transaction() as conn:
            stored = await get_destination(conn, "discord", str(CHANNEL))
        assert stored is not None and stored.template is None  # nothing refused was stored

        ok = await alerts(discord_fake, "format", {"style": "custom", "template": TEMPLATE})
        assert ephemeral(ok) and embed(ok)["title"] == "Format set"
        shown = unescaped(embed(ok)["description"])
        assert f"look: custom: {TEMPLATE}." in shown and "Example: 3. 🇨🇳 Qwen/Qwen3-8B (1,520 likes)" in shown
        status = unescaped(embed(await alerts(discord_fake, "status"))["description"])
        assert f"Format: custom: {TEMPLATE}" in status

        fake_hub.models = ranked(CN[:5] + US[:5], likes=77)  # Qwen/q2, q3, q4 enter; q0 is the new #1 too
        await app.poll()
        await app.deliver()
        posts = discord_fake.messages(CHANNEL)
        assert len(posts) == 2 and not any(post.get("embeds") for post in posts)  # plain content, no embed
        lines = posts[0]["content"].splitlines()
        assert lines[0] == "**3 models entered the trending top 10**"
        assert lines[1:] == [f"{n}. 🇨🇳 **[Qwen/q{n - 1}](<https://huggingface.co/Qwen/q{n - 1}>)** (77 likes)"
                             for n in (3, 4, 5)]
        assert posts[1]["content"].splitlines() == [  # the new #1 was already in the top 10: its own alert
            "**New #1 on the Hub's trending list: Qwen/q0**",
            "1. 🇨🇳 **[Qwen/q0](<https://huggingface.co/Qwen/q0>)** (77 likes)"]

        # `/alerts test` shows the chosen look, with the stored snapshot's real likes.
        assert embed(await alerts(discord_fake, "test"))["title"] == "Test alerts queued"
        await kicks.settle()
        samples = (await discord_fake.wait_for_messages(CHANNEL, 4))[2:]
        assert [post["content"].splitlines()[0] for post in samples] == [
            "**Test: meta-llama/l4 entered the trending top 10**",
            "**Test: New #1 on the Hub's trending list: Qwen/q0**"]
        assert [post["content"].splitlines()[1] for post in samples] == [
            "10. 🇺🇸 **[meta-llama/l4](<https://huggingface.co/meta-llama/l4>)** (77 likes)",
            "1. 🇨🇳 **[Qwen/q0](<https://huggingface.co/Qwen/q0>)** (77 likes)"]

        assert "look: full" in embed(await alerts(discord_fake, "format", {"style": "full"}))["description"]
        async with app.db.transaction() as conn:
            stored = await get_destination(conn, "discord", str(CHANNEL))
        assert stored is not None and stored.template is None
    finally:
        await gateway.close()
        await app.close()


# ---------------------------------------------------------------- Slack


@pytest.fixture
async def slack_fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_user("UADMIN", is_admin=True)
        yield fake


def test_slack_format_words_keep_the_template_whole() -> None:
    assert parse_format("alerts format compact") == ("compact", None, None)
    assert parse_format("alerts  FORMAT custom {rank}.  {id} subscription:china") == (
        "custom", "{rank}.  {id}", "china")
    assert parse_format("alerts format {rank} {id} &amp; &lt;b&gt;") == (None, "{rank} {id} & <b>", None)
    assert parse_format("alerts format") == (None, None, None)


async def test_slack_format_is_checked_when_set_shown_in_status_and_alerts_test_shows_the_look(
    slack_fake: FakeSlack, db_path: Path
) -> None:
    settings = slack_settings(None, slack_fake, db_path)
    app = await Trendwatch.open(settings, Secrets.from_env({}),
                                {"slack": SlackAdapter("xoxb-test", slack_fake.api_url)})
    assert await app.acquire_lease() is None
    kicks = Kicks()
    kicks.app = app
    service = build_slack_service(settings, SECRETS, app.db, kick_delivery=kicks)
    assert service is not None
    await service.start()
    try:
        _, _, bad, _ = await command(slack_fake, "alerts format custom {rank}. {likez} {id}", user="UADMIN")
        assert bad["response_type"] == "ephemeral"
        assert "unknown field {likez}; fields: id, rank, previous_rank" in body_text(bad)
        _, _, spec, _ = await command(slack_fake, "alerts format custom {rank:>5} {id}", user="UADMIN")
        assert "{rank:&gt;5}: conversions and format specs are not supported" in body_text(spec)
        _, _, plain_user, _ = await command(slack_fake, "alerts format compact", user="UPLAIN")
        assert "admin" in body_text(plain_user)

        # Slack sends `&`, `<`, `>` of a command's text escaped: the stored template has them as typed.
        _, _, ok, _ = await command(slack_fake, "alerts format custom {rank}. {country_flag} {id} &amp; co",
                                   user="UADMIN")
        assert title(ok) == "Format set"
        async with app.db.transaction() as conn:
            stored = await get_destination(conn, "slack", "C1")
        assert stored is not None and stored.template == "{rank}. {country_flag} {id} & co"
        _, _, status, _ = await command(slack_fake, "alerts status", user="UADMIN")
        assert "Format: custom: {rank}. {country_flag} {id} &amp; co" in body_text(status)

        _, _, compact, _ = await command(slack_fake, "alerts format compact subscription:default", user="UADMIN")
        assert "look: compact." in body_text(compact)
        _, _, test, _ = await command(slack_fake, "alerts test", user="UADMIN")
        assert title(test) == "Test alerts queued"
        await kicks.settle()
        await slack_fake.wait_until(lambda: len(slack_fake.posts("C1")) == 4, timeout=5)
        looks = {post["text"].split("\n")[0]: [block["type"] for block in post["blocks"]]
                 for post in slack_fake.posts("C1")}
        about_models = [kinds for first, kinds in looks.items() if "entered" in first or "New #1" in first]
        assert about_models == [["section"], ["section"]], looks  # compact: no header, no context
        assert sum(kinds[0] == "header" for kinds in looks.values()) == 2  # share and digest keep their look
    finally:
        await service.close()
        await app.close()


async def test_a_config_route_template_reaches_its_channel_and_the_other_keeps_the_default(
    slack_fake: FakeSlack, fake_hub: FakeHub, db_path: Path
) -> None:
    settings = slack_settings(fake_hub, slack_fake, db_path, channels=("C1", "C2"))
    routes = [settings.routes[0].model_copy(update={"template": "{rank}) {id} [{list}]"}), settings.routes[1]]
    settings = settings.model_copy(update={"routes": tuple(routes)})
    app = await Trendwatch.open(settings, Secrets.from_env({}),
                                {"slack": SlackAdapter("xoxb-test", slack_fake.api_url)})
    try:
        fake_hub.models = ranked(US[:8] + CN[:2])
        await app.poll()
        fake_hub.models = ranked([*US[:7], "Qwen/q9", *CN[:2]])
        await app.poll()
        await app.deliver()
        custom, default = slack_fake.posts("C1"), slack_fake.posts("C2")
        assert len(custom) == len(default) == 1
        assert custom[0]["blocks"] == [{"type": "section", "text": {"type": "mrkdwn", "text": (
            "*Qwen/q9 entered the trending top 10*\n8) *<https://huggingface.co/Qwen/q9|Qwen/q9>* [models]")}}]
        assert [block["type"] for block in default[0]["blocks"]] == ["header", "section", "context"]
    finally:
        await app.close()


async def test_a_route_template_is_written_at_start_and_a_route_without_one_keeps_what_the_command_set(
    slack_fake: FakeSlack, db_path: Path
) -> None:
    async def started_with(template: str | None) -> str | None:
        settings = slack_settings(None, slack_fake, db_path)
        settings = settings.model_copy(update={"routes": (settings.routes[0].model_copy(
            update={"template": template}),)})
        app = await Trendwatch.open(settings, Secrets.from_env({}),
                                    {"slack": SlackAdapter("xoxb-test", slack_fake.api_url)})
        try:
            async with app.db.transaction() as conn:
                found = await get_destination(conn, "slack", "C1")
                assert found is not None
                if template is None and found.template is None:  # as `/alerts format` would, between starts
                    await set_template(conn, found.id, "{id} by command")
                    found = await get_destination(conn, "slack", "C1")
                    assert found is not None
            return found.template
        finally:
            await app.close()

    assert await started_with("compact") == "compact"
    assert await started_with("{rank}. {id}") == "{rank}. {id}"
    assert await started_with("full") is None
    assert await started_with(None) == "{id} by command"
    assert await started_with(None) == "{id} by command"  # kept at the next start too
    assert await started_with("compact") == "compact"


async def test_discord_a_compact_post_of_a_crowded_poll_fits_discords_content_limit_with_the_ping(
    discord_fake: FakeDiscord
) -> None:
    ids = [f"org/{'m' * 90}{n}" for n in range(60)]
    event = Entered(taken_at=datetime(2025, 7, 28, tzinfo=UTC), top_n=100, models=tuple(
        EnteredModel(id=model_id, rank=n, country="US") for n, model_id in enumerate(ids, 1)))
    adapter = DiscordAdapter("fake-token", discord_fake.api_base, client=make_client(guild_ready_timeout=0.05))
    await adapter.start()
    try:
        role = "1400000000000000001"
        await adapter.send(str(CHANNEL), Alert(key="crowded", message=render(event, "compact")), mention=role)
        [post] = discord_fake.messages(CHANNEL)
        assert post["content"].startswith(f"<@&{role}>\n**60 models entered") and len(post["content"]) <= 2000
        assert post["content"].splitlines()[-1].startswith("… and ")
        assert post["allowed_mentions"]["roles"] == [int(role)]
        with pytest.raises(discord.HTTPException) as refused:  # the fake refuses more, as Discord does
            await adapter.client.get_partial_messageable(CHANNEL).send("z" * 2001)
        assert (refused.value.status, refused.value.code) == (400, 50035)
    finally:
        await adapter.close()
