"""Block Kit rendering, pure: escaping, links, mentions, limits, truncation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.slack_render import (
    MAX_BLOCKS,
    MAX_HEADER,
    MAX_SECTION,
    chunk_lines,
    escape,
    fallback_text,
    line_mrkdwn,
    link,
    mention_mrkdwn,
    render,
)
from bot.domain.messages import Field, Message, Span, line

AT = datetime(2025, 7, 21, 9, 30, tzinfo=UTC)


def texts(blocks: list[dict[str, Any]]) -> str:
    out = []
    for block in blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        out.extend(f["text"] for f in block.get("fields", []))
        out.extend(e["text"] for e in block.get("elements", []))
    return "\n".join(out)


def test_escapes_control_characters_so_hub_text_cannot_ping():
    assert escape("a & b <!channel> c>") == "a &amp; b &lt;!channel&gt; c&gt;"
    post = render(Message(kind="info", title="t", lines=(line("evil/<!here>&co"),)))
    assert "<!here>" not in texts(post.blocks) and "<!here>" not in post.text
    assert "evil/&lt;!here&gt;&amp;co" in texts(post.blocks)


def test_links_bold_and_link_text_escaped():
    assert link("https://huggingface.co/a/b", "a/b") == "<https://huggingface.co/a/b|a/b>"
    assert link("https://x.test/?a=1&b=2|3", "x <y>") == "<https://x.test/?a=1&amp;b=2%7C3|x &lt;y&gt;>"
    rendered = line_mrkdwn(line("#1 ", Span("Qwen/Qwen3", url="https://huggingface.co/Qwen/Qwen3", bold=True), " ok"))
    assert rendered == "#1 *<https://huggingface.co/Qwen/Qwen3|Qwen/Qwen3>* ok"


def test_mentions_only_for_known_shapes():
    assert mention_mrkdwn("S012AB3CD") == "<!subteam^S012AB3CD>"
    assert mention_mrkdwn("here") == "<!here>"
    assert mention_mrkdwn(None) == "" and mention_mrkdwn("12345") == "" and mention_mrkdwn("S<x>") == ""
    message = Message(kind="entered", title="New")
    assert render(message, "here").text.startswith("<!here> New")
    assert render(message, "here").blocks[1] == {"type": "section", "text": {"type": "mrkdwn", "text": "<!here>"}}
    assert "<!" not in texts(render(message).blocks)


def test_shape_header_sections_fields_context_with_date_token():
    message = Message(
        kind="share", title="CN share reached 60%", lines=(line("6 of 10"), line("second")),
        fields=(Field("Based on", (line("12 snapshots"),)), Field("A", (line("1"),), inline=True)),
        footer="Hub trending snapshot of 2025-07-21 09:30 UTC", timestamp=AT, url="https://huggingface.co/m",
    )
    post = render(message)
    kinds = [block["type"] for block in post.blocks]
    assert kinds == ["header", "section", "section", "section", "context"]
    assert post.blocks[0]["text"] == {"type": "plain_text", "text": "CN share reached 60%"}
    assert post.blocks[1]["text"]["text"] == "6 of 10\nsecond"
    assert post.blocks[2]["text"]["text"] == "*Based on*\n12 snapshots"
    assert post.blocks[3]["fields"] == [{"type": "mrkdwn", "text": "*A*\n1"}]
    context = [e["text"] for e in post.blocks[4]["elements"]]
    assert context[0] == "Hub trending snapshot of 2025-07-21 09:30 UTC"
    assert context[1] == f"<!date^{int(AT.timestamp())}^{{date_short_pretty}} {{time}}|2025-07-21 09:30 UTC>"
    assert context[2] == "<https://huggingface.co/m|open on huggingface.co>"
    assert post.text.startswith("CN share reached 60%\n6 of 10\nsecond")


def test_long_header_and_long_lines_are_cut_within_limits():
    post = render(Message(kind="info", title="x" * 400, lines=tuple(line("y" * 200) for _ in range(40))))
    assert len(post.blocks[0]["text"]["text"]) == MAX_HEADER
    sections = [b["text"]["text"] for b in post.blocks if b["type"] == "section"]
    assert len(sections) == 3 and all(len(s) <= MAX_SECTION for s in sections)
    assert sum(s.count("y" * 200) for s in sections) == 40  # nothing lost, just split
    [single] = chunk_lines(["z" * 5000])
    assert len(single) == MAX_SECTION and single.endswith("…")


def test_cut_never_leaves_half_a_link_or_entity():
    long_link = "a" * 2990 + "<https://huggingface.co/x|x>"
    [cut] = chunk_lines([long_link])
    assert cut == "a" * 2990 + "…"
    [cut] = chunk_lines(["b" * 2997 + "&amp;"])
    assert cut == "b" * 2997 + "…"


def test_more_than_50_blocks_truncated_with_a_count():
    fields = tuple(Field(f"f{i}", (line("v" * 2900),)) for i in range(70))
    post = render(Message(kind="digest", title="t", fields=fields, footer="foot"))
    assert len(post.blocks) == MAX_BLOCKS
    assert post.blocks[-1]["type"] == "context"
    assert post.blocks[-2]["text"]["text"] == "… and 46 more lines"  # 47 of 70 shown; 23 fields of 2 lines hidden


def test_fallback_text_is_plain_escaped_and_bounded():
    message = Message(kind="info", title="A & B", lines=tuple(line("w" * 100) for _ in range(100)))
    text = fallback_text(message)
    assert text.startswith("A &amp; B\n") and len(text) <= 3000 and text.endswith("…")
