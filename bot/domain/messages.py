"""Platform-neutral messages: what to say, never how a platform shows it.

Adapters render a `Message` natively (console text, Discord embed, Slack
Block Kit). Text is kept as `Span`s so each adapter can escape and link in its
own syntax; nothing here contains markdown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Span:
    text: str
    url: str | None = None
    bold: bool = False


Line = tuple[Span, ...]


def line(*parts: str | Span) -> Line:
    """Build a line from plain strings and spans."""
    return tuple(p if isinstance(p, Span) else Span(p) for p in parts)


def plain(text_line: Line) -> str:
    return "".join(span.text for span in text_line)


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    value: tuple[Line, ...]
    inline: bool = False


@dataclass(frozen=True, slots=True)
class Image:
    filename: str
    data: bytes
    description: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    """One thing to post.

    `kind` drives colour and routing ("entered", "share", "digest", "info",
    "error", ...). `ephemeral` matters only for command answers. `compact`: a
    subscription chose a compact look or its own template (issue 20), so
    adapters post the title and lines as plain text, without the embed or
    blocks around them (no colour bar, footer or timestamp).
    """

    kind: str
    title: str
    lines: tuple[Line, ...] = ()
    fields: tuple[Field, ...] = ()
    footer: str = ""
    timestamp: datetime | None = None
    url: str | None = None
    image: Image | None = None
    ephemeral: bool = False
    compact: bool = False

    def plain_text(self) -> str:
        """A readable fallback: console output, notification text, logs."""
        parts = [self.title]
        parts.extend(plain(text_line) for text_line in self.lines)
        for fld in self.fields:
            parts.append(f"{fld.name}:")
            parts.extend(f"  {plain(text_line)}" for text_line in fld.value)
        if self.footer:
            parts.append(self.footer)
        return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert on its way to one destination: the message plus its machine form.

    `payload` is the JSON object console `jsonl` prints (it has "kind");
    `key` is unique per (alert, destination) and doubles as a send nonce.
    `unconfirmed` counts earlier posts of it whose outcome is unknown (sent,
    no answer): an adapter without a send nonce checks before posting again.
    """

    key: str
    message: Message
    payload: dict[str, Any] = field(default_factory=dict)
    unconfirmed: int = 0
