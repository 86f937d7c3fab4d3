"""Slack Block Kit from the platform-neutral `Message`. Pure: no I/O, no slack imports.

Slack parses `&`, `<` and `>` in mrkdwn as control characters (`<!channel>`
pings everyone), so every piece of text that came from the Hub is escaped
before it is placed in a block; only links and the channel's configured
mention are written as `<…>` on purpose. Limits follow Block Kit: 50 blocks a
message, 3,000 characters a section text, 150 a header, 10 fields a section.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.messages import Field, Line, Message, Span

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_FIELD = 2000
MAX_FIELDS = 10
MAX_CONTEXT_ELEMENTS = 10
MAX_TEXT = 3000  # the notification fallback; Slack takes 40,000 but nobody reads that much in a toast
ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class SlackPost:
    """What `chat.postMessage` (or a response_url) receives: a fallback `text` and the blocks."""

    text: str
    blocks: list[Block]


def escape(text: str) -> str:
    """Slack's three control characters; nothing else needs escaping (Slack has no backslash escapes)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _url(url: str) -> str:
    """A URL inside `<url|text>`: its own `|`, `<`, `>` would end the link early."""
    return url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")


def link(url: str, text: str) -> str:
    # A `|` in the label is harmless to Slack after the first one, but `<`/`>` are not.
    return f"<{_url(url)}|{escape(text)}>"


def span_mrkdwn(span: Span) -> str:
    if not span.text:
        return ""
    body = link(span.url, span.text) if span.url else escape(span.text)
    return f"*{body}*" if span.bold else body


def line_mrkdwn(text_line: Line) -> str:
    return "".join(span_mrkdwn(span) for span in text_line)


def mention_mrkdwn(mention: str | None) -> str:
    """A channel's configured ping: a user group id (`S…`) or `here`/`channel`; anything else pings nobody."""
    if not mention:
        return ""
    if mention in ("here", "channel", "everyone"):
        return f"<!{mention}>"
    if mention.startswith("S") and mention.isalnum():
        return f"<!subteam^{mention}>"
    return ""


def date_token(when: datetime) -> str:
    """Shown in each reader's own time zone; the fallback (old clients) is UTC."""
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} {{time}}|{when:%Y-%m-%d %H:%M} UTC>"


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _cut_mrkdwn(text: str, limit: int) -> str:
    """Cut without leaving half a `<url|label>` or a half-escaped `&amp;`: drop back to a safe point."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    opened, closed = head.rfind("<"), head.rfind(">")
    if opened > closed:
        head = head[:opened]
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    return head + ELLIPSIS


def chunk_lines(lines: list[str], limit: int = MAX_SECTION) -> list[str]:
    """Join lines with newlines into texts of at most `limit` characters; an overlong line is cut."""
    chunks: list[str] = []
    current = ""
    for text in lines:
        text = _cut_mrkdwn(text, limit)
        if current and len(current) + 1 + len(text) > limit:
            chunks.append(current)
            current = text
        else:
            current = f"{current}\n{text}" if current else text
    if current:
        chunks.append(current)
    return chunks


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _field_blocks(fields: tuple[Field, ...]) -> list[Block]:
    """Inline fields share sections (10 a section, Slack lays them out in two columns); others get their own."""
    blocks: list[Block] = []
    inline: list[dict[str, str]] = []

    def flush() -> None:
        for start in range(0, len(inline), MAX_FIELDS):
            blocks.append({"type": "section", "fields": inline[start : start + MAX_FIELDS]})
        inline.clear()

    for fld in fields:
        value = "\n".join(line_mrkdwn(text_line) for text_line in fld.value)
        if fld.inline:
            inline.append({"type": "mrkdwn", "text": _cut_mrkdwn(f"*{escape(fld.name)}*\n{value}", MAX_FIELD)})
            continue
        flush()
        lines = [f"*{escape(fld.name)}*", *(line_mrkdwn(text_line) for text_line in fld.value)]
        blocks.extend(_section(text) for text in chunk_lines(lines))
    flush()
    return blocks


def _context(message: Message) -> Block | None:
    elements = []
    if message.footer:
        elements.append(escape(message.footer))
    if message.timestamp is not None:
        elements.append(date_token(message.timestamp))
    if message.url:
        elements.append(link(message.url, "open on huggingface.co" if "huggingface.co" in message.url else "open"))
    if not elements:
        return None
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": cut(text, MAX_SECTION)} for text in elements[:MAX_CONTEXT_ELEMENTS]],
    }


def fallback_text(message: Message, mention: str | None = None) -> str:
    """The notification text: the title and the lines in plain words, escaped, mention first."""
    ping = mention_mrkdwn(mention)
    body = escape(message.plain_text())
    return cut(f"{ping} {body}" if ping else body, MAX_TEXT)


def render_compact(message: Message, mention: str | None = None) -> SlackPost:
    """A compact message: one section, the ping and the title in bold on its first line, then the lines;
    no header block (large type) and no context block (footer, time, link): a short post per poll."""
    ping = mention_mrkdwn(mention)
    head = f"*{escape(cut(message.title, MAX_HEADER))}*"
    lines = [f"{ping} {head}" if ping else head, *(line_mrkdwn(text_line) for text_line in message.lines)]
    for fld in message.fields:
        lines.extend(f"{escape(fld.name)}: {line_mrkdwn(value)}" for value in fld.value)
    body = [_section(text) for text in chunk_lines(lines)]
    if len(body) > MAX_BLOCKS:
        hidden = sum(_lines_in(block) for block in body[MAX_BLOCKS - 1 :])
        body = [*body[: MAX_BLOCKS - 1], _section(f"{ELLIPSIS} and {hidden} more line{'s' if hidden != 1 else ''}")]
    return SlackPost(text=fallback_text(message, mention), blocks=body)


def render(message: Message, mention: str | None = None) -> SlackPost:
    """Message → fallback text + at most 50 blocks (header, optional ping, sections, fields, context).
    A compact one (`Message.compact`) → a single section of plain lines (`render_compact`)."""
    if message.compact:
        return render_compact(message, mention)
    head: list[Block] = [{"type": "header", "text": {"type": "plain_text", "text": cut(message.title or " ",
                                                                                        MAX_HEADER)}}]
    if ping := mention_mrkdwn(mention):
        head.append(_section(ping))
    body = [_section(text) for text in chunk_lines([line_mrkdwn(text_line) for text_line in message.lines])]
    body.extend(_field_blocks(message.fields))
    tail = [block for block in (_context(message),) if block is not None]
    room = MAX_BLOCKS - len(head) - len(tail)
    if len(body) > room:
        dropped = body[room - 1 :]
        hidden = sum(_lines_in(block) for block in dropped)
        body = [*body[: room - 1], _section(f"{ELLIPSIS} and {hidden} more line{'s' if hidden != 1 else ''}")]
    return SlackPost(text=fallback_text(message, mention), blocks=[*head, *body, *tail])


def _lines_in(block: Block) -> int:
    if "fields" in block:
        return len(block["fields"])
    return int(str(block["text"]["text"]).count("\n")) + 1
