"""A compact look on each platform (issue 20): plain lines instead of the embed or the blocks, still escaped.

Discord gets the title and lines as the message's content (no embed: no colour bar, footer or timestamp),
links as `[text](<url>)` so no preview card is added per model, mentions broken and markdown escaped. Slack
gets one section (no header, no context block), with `&`, `<` and `>` escaped as everywhere.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from adapters.console import render_text
from adapters.discord_render import CONTENT_MAX, MENTION_RESERVE, render_message
from adapters.slack_render import render as slack_render
from bot.delivery.templates import COMPACT
from bot.delivery.wording import render
from bot.domain.events import Entered, EnteredModel

NOW = datetime(2025, 7, 28, 12, 0, tzinfo=UTC)
HOSTILE = "evil/x_*y*_@everyone<!channel>[a](https://e.x)"


def entered(*ids: str) -> Entered:
    return Entered(taken_at=NOW, top_n=10, models=tuple(
        EnteredModel(id=model_id, rank=n, country="CN") for n, model_id in enumerate(ids, 1)))


def test_discord_compact_is_plain_content_without_an_embed() -> None:
    rendered = render_message(render(entered("Qwen/Qwen3_8B", "org/m2"), COMPACT))
    assert rendered.embeds == [] and rendered.file is None
    assert rendered.content == (
        "**2 models entered the trending top 10**\n"
        "\\#1 🇨🇳 **[Qwen/Qwen3\\_8B](<https://huggingface.co/Qwen/Qwen3_8B>)** · new\n"
        "\\#2 🇨🇳 **[org/m2](<https://huggingface.co/org/m2>)** · new")


def test_discord_the_default_look_is_still_an_embed() -> None:
    rendered = render_message(render(entered("Qwen/Qwen3_8B")))
    assert rendered.content is None and len(rendered.embeds) == 1


def test_discord_compact_content_cannot_ping_link_or_format_from_an_id_or_a_template() -> None:
    content = render_message(render(entered(HOSTILE), "<@&123456789012345678> @here {id} *{url}*")).content
    assert content is not None
    assert "@everyone" not in content and "@here" not in content and "<@&1234" not in content
    assert "@\u200beveryone" in content and "@\u200bhere" in content
    assert "\\*y\\*" in content and "\\[a\\](https://e.x)" in content  # escaped inside the link text
    assert len(re.findall(r"(?<!\\)\[", content)) == 2  # the links of {id} and {url}, none of the id's own


def test_discord_compact_stays_within_the_content_limit_with_room_for_the_ping() -> None:
    ids = [f"org/{'m' * 90}{n}" for n in range(60)]
    content = render_message(render(entered(*ids), COMPACT)).content
    assert content is not None and len(content) <= CONTENT_MAX - MENTION_RESERVE
    assert content.splitlines()[-1].startswith("… and ") and content.endswith(" more")


def test_slack_compact_is_one_section_with_the_title_in_bold() -> None:
    post = slack_render(render(entered("Qwen/Qwen3-8B"), COMPACT), mention="here")
    assert [block["type"] for block in post.blocks] == ["section"]
    assert post.blocks[0]["text"]["text"] == (
        "<!here> *Qwen/Qwen3-8B entered the trending top 10*\n"
        "#1 🇨🇳 *<https://huggingface.co/Qwen/Qwen3-8B|Qwen/Qwen3-8B>* · new")
    default = slack_render(render(entered("Qwen/Qwen3-8B")))
    assert [block["type"] for block in default.blocks] == ["header", "section", "context"]


def test_slack_compact_escapes_what_came_from_the_hub_and_the_template() -> None:
    post = slack_render(render(entered(HOSTILE), "<!channel> & {id}"))
    text = post.blocks[0]["text"]["text"]
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; " in text
    assert "<!channel>" not in post.text


def test_console_text_shows_the_compact_lines() -> None:
    assert render_text(render(entered("Qwen/Qwen3-8B"), "{rank}. {id}")).splitlines()[1] == "  1. Qwen/Qwen3-8B"
