"""Message → Discord embeds, with no network: escaping, links, colours, limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.discord_render import (
    COLOURS,
    DESCRIPTION_MAX,
    EMBEDS_MAX,
    FIELD_VALUE_MAX,
    TITLE_MAX,
    TOTAL_MAX,
    embed_chars,
    render_line,
    render_message,
    split_lines,
)
from bot.delivery.wording import render_entered
from bot.domain.events import Entered, EnteredModel
from bot.domain.messages import Field, Image, Message, Span, line

AT = datetime(2025, 7, 21, 9, 0, tzinfo=UTC)


def test_spans_become_escaped_markdown_with_links_and_bold() -> None:
    text = render_line(line("#1 ", Span("unsloth/Qwen3_8B*GGUF", url="https://huggingface.co/unsloth/Qwen3_8B*GGUF",
                                        bold=True), " — 2*3 [sic]"))
    assert text == ("\\#1 **[unsloth/Qwen3\\_8B\\*GGUF](https://huggingface.co/unsloth/Qwen3_8B*GGUF)**"
                    " — 2\\*3 [sic]")


def test_link_text_cannot_break_out_of_the_link() -> None:
    assert render_line(line(Span("a]b(c)", url="https://x.test/a)b"))) == "[a\\]b(c)](https://x.test/a%29b)"


def test_entered_alert_is_one_embed_with_colour_footer_time_and_model_links() -> None:
    event = Entered(taken_at=AT, top_n=10, models=(
        EnteredModel(id="Qwen/Qwen3_8B", rank=3, previous_rank=None, country="CN",
                     country_method="namespace", country_via="Qwen"),
        EnteredModel(id="bartowski/x-GGUF", rank=9, previous_rank=14, country="CN",
                     country_method="base_model", country_via="Qwen/Qwen3-8B"),
    ))
    rendered = render_message(render_entered(event))
    assert rendered.file is None
    [embed] = rendered.embeds
    assert embed.colour is not None and embed.colour.value == COLOURS["entered"]
    assert embed.title == "2 models entered the trending top 10"
    assert embed.description is not None
    first, second = embed.description.split("\n")
    assert "[Qwen/Qwen3\\_8B](https://huggingface.co/Qwen/Qwen3_8B)" in first and "🇨🇳" in first
    assert "climbed from #14" in second and "via base model Qwen/Qwen3-8B" in second
    assert embed.footer.text == "Hub trending snapshot of 2025-07-21 09:00 UTC"
    assert embed.timestamp == AT


def test_every_kind_has_its_own_colour_and_unknown_kinds_still_render() -> None:
    assert len(set(COLOURS.values())) == len(COLOURS)
    [embed] = render_message(Message(kind="something-new", title="t")).embeds
    assert embed.colour is not None and embed.description is None


@pytest.mark.parametrize("count", [10, 100, 1000, 5000])
def test_long_lists_stay_within_every_limit_and_say_how_many_were_cut(count: int) -> None:
    lines = tuple(line(f"#{i} ", Span(f"org/model-{i}-" + "x" * 60, url=f"https://huggingface.co/org/m{i}",
                                      bold=True), " — new in the list; CN") for i in range(count))
    message = Message(kind="trending", title="T" * 300, lines=lines, footer="f", timestamp=AT,
                      fields=(Field("Based on", (line("7 snapshots"),)),))
    embeds = render_message(message).embeds
    assert 1 <= len(embeds) <= EMBEDS_MAX
    assert embed_chars(embeds) <= TOTAL_MAX
    assert all(len(e.description or "") <= DESCRIPTION_MAX for e in embeds)
    assert embeds[0].title is not None and len(embeds[0].title) == TITLE_MAX
    shown = sum((e.description or "").count("\\#") for e in embeds)
    tail = (embeds[-1].description or "").split("\n")[-1]
    if shown < count:
        assert tail == f"… and {count - shown} more"
    else:
        assert count == 10 and tail.startswith("\\#9 ")
    assert embeds[-1].fields[0].name == "Based on" and embeds[-1].footer.text == "f"
    assert all(e.colour == embeds[0].colour for e in embeds)


def test_split_lines_uses_several_embeds_before_cutting() -> None:
    texts = ["y" * 1000] * 9
    chunks = split_lines(texts, budget=20_000, chunk_max=DESCRIPTION_MAX)
    assert [c.count("y") for c in chunks] == [4000, 4000, 1000]
    cut = split_lines(["z" * 1000] * 7, budget=TOTAL_MAX)
    assert sum(c.count("z") for c in cut) == 5000 and cut[-1].endswith("… and 2 more")


def test_a_single_huge_line_and_a_huge_field_are_clipped_not_rejected() -> None:
    message = Message(kind="info", title="t", lines=(line("a" * 10_000),),
                      fields=(Field("F", tuple(line("b" * 100) for _ in range(50))),))
    [embed] = render_message(message).embeds
    assert embed.fields[0].value is not None and len(embed.fields[0].value) <= FIELD_VALUE_MAX
    assert embed.fields[0].value.endswith("more")
    assert embed_chars([embed]) <= TOTAL_MAX


def test_image_is_attached_and_shown_in_the_last_embed() -> None:
    png = b"\x89PNG\r\n\x1a\n0000"
    rendered = render_message(Message(kind="digest", title="Week", image=Image("chart.png", png, "share chart")))
    assert rendered.file is not None and rendered.file.filename == "chart.png"
    assert rendered.file.fp.read() == png
    assert rendered.embeds[-1].image.url == "attachment://chart.png"
