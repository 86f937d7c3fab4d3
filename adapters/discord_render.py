"""`Message` → Discord embeds. Pure: no network, unit-tested on its own.

Discord rejects a whole message whose embeds break a limit (title 256,
description 4,096, 25 fields, field value 1,024, 6,000 characters over all
embeds, 10 embeds), so long lists are split across embeds and, past the
budget, cut with "… and N more" rather than failing to post.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import discord
from discord.utils import escape_markdown, escape_mentions

from bot.domain.messages import Line, Message

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FIELDS_MAX = 25
FOOTER_MAX = 2048
TOTAL_MAX = 6000
EMBEDS_MAX = 10
URL_SAFE = ":/?#&=%~+-._,"  # kept as they are in a content link; anything else (<>()[]@ space) percent-encoded
CONTENT_MAX = 2000  # a message's plain content
MENTION_RESERVE = 32  # `<@&` + a role id + `>` and a line break, put before the content at send time
_MORE_RESERVE = len("\n… and 100000 more")

COLOURS: dict[str, int] = {
    "entered": 0x2ECC71,
    "new_leader": 0xF1C40F,
    "left": 0xE67E22,
    "climber": 0x1ABC9C,
    "share": 0x3498DB,
    "digest": 0x9B59B6,
    "digest-daily": 0x8E44AD,
    "trending": 0xFFD21E,  # the Hub's yellow
    "model": 0xFF9D00,
    "settings": 0x5865F2,
    "info": 0x95A5A6,
    "error": 0xE74C3C,
}
DEFAULT_COLOUR = 0x99AAB5


@dataclass(frozen=True)
class DiscordMessage:
    """What one `send` carries; `file` is fresh per render because a File can be read only once.
    `content`: a compact message's plain text (then `embeds` is empty)."""

    embeds: list[discord.Embed]
    file: discord.File | None = None
    content: str | None = None


def colour_for(kind: str) -> int:
    return COLOURS.get(kind, DEFAULT_COLOUR)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _link_text(text: str) -> str:
    """Escaped for markdown, and brackets too so the text cannot close the link early."""
    return escape_markdown(text).replace("[", "\\[").replace("]", "\\]")


def render_line(text_line: Line) -> str:
    """Spans → Discord markdown: text escaped (model ids have `_` and `*`), links `[text](url)`, bold `**`."""
    parts = []
    for span in text_line:
        text = _link_text(span.text) if span.url else escape_markdown(span.text)
        if span.url:
            text = f"[{text}]({span.url.replace(')', '%29').replace(' ', '%20')})"
        if span.bold and span.text:
            text = f"**{text}**"
        parts.append(text)
    return "".join(parts)


def _more(count: int) -> str:
    return f"… and {count} more"


def _pack(texts: list[str], budget: int, max_chunks: int, chunk_max: int) -> tuple[list[str], int]:
    """Greedy: lines in order into at most `max_chunks` chunks of `chunk_max`, `budget` characters in all."""
    chunks: list[str] = []
    used = placed = 0
    current = ""
    for text in texts:
        joined = f"{current}\n{text}" if current else text
        if len(joined) <= chunk_max and used + len(joined) - len(current) <= budget:
            used += len(joined) - len(current)
            current = joined
        else:
            if not current or len(chunks) + 1 >= max_chunks or used + len(text) > budget or len(text) > chunk_max:
                break
            chunks.append(current)
            current = text
            used += len(text)
        placed += 1
    if current:
        chunks.append(current)
    return chunks, placed


def split_lines(texts: list[str], budget: int, max_chunks: int = EMBEDS_MAX,
                chunk_max: int = DESCRIPTION_MAX) -> list[str]:
    """Every line if they fit; otherwise as many as fit, then "… and N more"."""
    chunks, placed = _pack(texts, budget, max_chunks, chunk_max)
    if placed == len(texts):
        return chunks
    chunks, placed = _pack(texts, budget - _MORE_RESERVE, max_chunks, chunk_max - _MORE_RESERVE)
    tail = _more(len(texts) - placed)
    if chunks:
        chunks[-1] = f"{chunks[-1]}\n{tail}"
    else:
        chunks = [tail]
    return chunks


def _field_value(lines: tuple[Line, ...]) -> str:
    texts = [clip(render_line(text_line), FIELD_VALUE_MAX) for text_line in lines]
    if not texts:
        return "–"
    return split_lines(texts, FIELD_VALUE_MAX, max_chunks=1, chunk_max=FIELD_VALUE_MAX)[0]


def _plain(text: str) -> str:
    """Text in a message's content: markdown escaped, and mentions broken (`@\u200beveryone`), so nothing from
    the Hub or a template pings, even where allowed mentions would let a role through."""
    return escape_mentions(escape_markdown(text))


_UNESCAPED_BRACKET = re.compile(r"(?<!\\)([\[\]])")


def content_line(text_line: Line) -> str:
    """Spans → plain-content markdown: as `render_line`, but a link is `[text](<url>)`: the angle brackets keep
    Discord from adding a preview card per link, which would undo a compact post."""
    parts = []
    for span in text_line:
        text = _UNESCAPED_BRACKET.sub(r"\\\1", _plain(span.text)) if span.url else _plain(span.text)
        if span.url:
            text = f"[{text}](<{quote(span.url, safe=URL_SAFE)}>)"
        if span.bold and span.text:
            text = f"**{text}**"
        parts.append(text)
    return "".join(parts)


def render_compact(message: Message) -> DiscordMessage:
    """A compact message: its title in bold, then its lines, as the message's content (no embed: no colour
    bar, footer or timestamp; Discord shows the post's own time). Within 2,000 characters, room left for the
    channel's role mention; lines past that are cut with "… and N more"."""
    budget = CONTENT_MAX - MENTION_RESERVE
    title = f"**{clip(_plain(message.title), TITLE_MAX)}**"
    texts = [clip(content_line(text_line), budget) for text_line in message.lines]
    texts += [f"{_plain(fld.name)}: {content_line(value)}" for fld in message.fields for value in fld.value]
    body = split_lines(texts, budget - len(title) - 1, max_chunks=1, chunk_max=budget - len(title) - 1)
    content = "\n".join([title, *body]) if texts else title
    file = None
    if message.image is not None:
        file = discord.File(io.BytesIO(message.image.data), filename=message.image.filename,
                            description=message.image.description or None)
    return DiscordMessage(embeds=[], file=file, content=content)


def render_message(message: Message) -> DiscordMessage:
    """One message → up to 10 embeds: title and link on the first, fields, footer and time on the last.
    A compact one (`Message.compact`) → plain content instead (`render_compact`)."""
    if message.compact:
        return render_compact(message)
    colour = colour_for(message.kind)
    title = clip(escape_markdown(message.title), TITLE_MAX)
    footer = clip(message.footer, FOOTER_MAX)
    fields = [
        (clip(escape_markdown(fld.name), FIELD_NAME_MAX) or "–", _field_value(fld.value), fld.inline)
        for fld in message.fields[:FIELDS_MAX]
    ]
    fixed = len(title) + len(footer) + sum(len(name) + len(value) for name, value, _ in fields)
    texts = [clip(render_line(text_line), DESCRIPTION_MAX) for text_line in message.lines]
    descriptions = split_lines(texts, TOTAL_MAX - fixed) if texts else [""]

    embeds = [discord.Embed(colour=colour, description=text or None) for text in descriptions]
    first, last = embeds[0], embeds[-1]
    first.title = title
    if message.url:
        first.url = message.url
    for name, value, inline in fields:
        last.add_field(name=name, value=value, inline=inline)
    if footer:
        last.set_footer(text=footer)
    if message.timestamp is not None:
        last.timestamp = message.timestamp
    file = None
    if message.image is not None:
        last.set_image(url=f"attachment://{message.image.filename}")
        file = discord.File(io.BytesIO(message.image.data), filename=message.image.filename,
                            description=message.image.description or None)
    return DiscordMessage(embeds=embeds, file=file)


def embed_chars(embeds: list[discord.Embed]) -> int:
    """The characters Discord counts against its 6,000 limit."""
    return sum(len(embed) for embed in embeds)


#: A forum post's tag per alert kind (a forum's tags are at most 20 characters, matched by name, any case).
FORUM_TAGS: dict[str, str] = {
    "entered": "entered", "new_leader": "new #1", "left": "left", "climber": "climber", "share": "share",
    "digest": "digest", "watched": "watched", "source": "source",
}
POST_TITLE_MAX = 100  # Discord's limit on a thread's (a forum post's) name


def forum_tag(kind: str) -> str | None:
    """The tag a forum post of this alert kind wears; None for kinds that have none."""
    return FORUM_TAGS.get(kind)


def post_title(message: Message) -> str:
    """A forum post's name: the message's title on one line, within Discord's 100 characters."""
    title = " ".join(message.title.split()) or message.kind
    return clip(title, POST_TITLE_MAX)


def thread_name(payload: Mapping[str, Any], message: Message) -> str:
    """A thread started under an announcement in a text channel: named after the models it follows."""
    models = payload.get("models")
    ids = [str(model.get("id")) for model in models if isinstance(model, Mapping) and model.get("id")] \
        if isinstance(models, list) else []
    if not ids and payload.get("id"):
        ids = [str(payload["id"])]
    return clip(", ".join(ids), POST_TITLE_MAX) if ids else post_title(message)
