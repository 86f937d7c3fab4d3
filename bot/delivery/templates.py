"""Message templates (issue 20): how each model's line of an alert looks in one subscription. Pure.

A subscription's look is stored in `destinations.template`: NULL is the default look ('full', the alerts as
they always were), 'compact' one short line per model in a plain post, anything else a custom template that
names fields (`{rank}. {country_flag} {id}`). A template shapes only the per-model lines of the alerts about
models (entered, left, climber, new #1, watched); their title stays and says what happened. Share, source and
digest alerts keep their look whatever the subscription chose: they are about a country or the bot, not a list
of models.

Why not `str.format`: a template is a user's text, and `str.format` on it would follow attribute and index
access (`{id.__class__}`), positional fields (`{0}`), conversions (`{id!r}`) and format specs (`{rank:>5}`)
against live objects. Here a template is parsed once with `string.Formatter().parse`, refused unless every
field is a plain known name, and filled from a dict of strings only. A template is plain text: the adapters
escape it with the model ids for their platform, so neither can add markdown, links or mentions.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass

from bot.domain.messages import Line, Span

FULL, COMPACT, CUSTOM = "full", "compact", "custom"
STYLES = (FULL, COMPACT, CUSTOM)
MAX_TEMPLATE = 300  # characters: a line per model, not a message
MISSING = "–"  # a field the alert does not know (a rank beyond the fetched list, likes of an old alert)

#: Every field a template may name, and what it holds (the README lists the same).
FIELDS: dict[str, str] = {
    "id": "the model's id, linked to its page on the Hub",
    "rank": "its rank now (– when it fell beyond the fetched list)",
    "previous_rank": "its rank at the poll before (– when it was not in the list)",
    "movement": "what happened, in a few words: new, up from #16, up 4 from #7, out from #9 after 30 h, new #1,"
                " appeared",
    "country": "the country it is credited to (ISO code, or unknown)",
    "country_flag": "that country's flag",
    "origin": "how the country was decided: CN via base model Qwen/Qwen3-8B",
    "likes": "its likes on the Hub at that poll (– when unknown)",
    "downloads": "its downloads on the Hub at that poll (– when unknown)",
    "list": "the trending list it is about (models, or a [[lists]] name)",
    "url": "its page on the Hub",
    "kind": "the alert's kind: entered, left, climber, new_leader or watched",
    "top_n": "the size of the top list (10)",
}
#: A line must tell the models apart: it names at least one of these.
IDENTIFYING = ("id", "url")


class TemplateError(ValueError):
    """A template that cannot be used; the text is one line saying why, with the known fields."""


@dataclass(frozen=True, slots=True)
class Piece:
    """Literal text (braces already unescaped) followed by at most one field."""

    text: str
    field: str | None = None


Template = tuple[Piece, ...]


def _known() -> str:
    return "fields: " + ", ".join(FIELDS)


def _shown(name: str) -> str:
    """A user's field name quoted back: bounded, printable."""
    clipped = "".join(char if char.isprintable() else "?" for char in name[:40])
    return "{" + clipped + ("…" if len(name) > 40 else "") + "}"


def parse_template(text: str) -> Template:
    """A custom template → its pieces, or a TemplateError naming what is wrong and the known fields."""
    if not text.strip():
        raise TemplateError(f"a template is empty; name fields like {{rank}} {{id}}; {_known()}")
    if len(text) > MAX_TEMPLATE:
        raise TemplateError(f"a template is at most {MAX_TEMPLATE} characters (this one has {len(text)})")
    if not text.isprintable():
        raise TemplateError("a template is one line of text (no line breaks or control characters)")
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(f"unbalanced braces ({exc}); write {{{{ or }}}} for a literal brace; {_known()}") from None
    pieces: list[Piece] = []
    for literal, name, spec, conversion in parsed:
        if name is None:
            pieces.append(Piece(literal))
            continue
        if name == "":
            raise TemplateError(f"{{}} names no field; {_known()}")
        if not name.isidentifier():
            raise TemplateError(f"{_shown(name)} is not a field: only plain names like {{id}}; {_known()}")
        if conversion is not None or spec:
            written = name + (f"!{conversion}" if conversion is not None else "") + (f":{spec}" if spec else "")
            raise TemplateError(f"{_shown(written)}: conversions and format specs are not supported,"
                                f" write {{{name}}}; {_known()}")
        if name not in FIELDS:
            raise TemplateError(f"unknown field {_shown(name)}; {_known()}")
        pieces.append(Piece(literal, name))
    if not any(piece.field in IDENTIFYING for piece in pieces):
        raise TemplateError(f"a template names {{id}} or {{url}}, or every line would look the same; {_known()}")
    return tuple(pieces)


def stored_look(text: str) -> str | None:
    """What `/alerts format` or `[[routes]] template` stores: None for 'full' (the default), 'compact', or a
    checked custom template. Raises TemplateError for a template that cannot be used."""
    word = text.strip()
    if word.lower() == FULL:
        return None
    if word.lower() == COMPACT:
        return COMPACT
    parse_template(text)
    return text


@dataclass(frozen=True, slots=True)
class Look:
    """How a subscription's alerts about models look: its style and, for 'custom', the parsed template."""

    style: str = FULL
    template: Template | None = None

    @property
    def compact(self) -> bool:
        """Posted as plain lines (no embed or blocks chrome): 'compact' and custom templates alike."""
        return self.style != FULL


DEFAULT_LOOK = Look()


def look_of(stored: str | None) -> Look:
    """The stored form → the look. A stored template that no longer parses (written by another version, or by
    hand) falls back to the default look: an alert is never lost to its look."""
    if stored is None or stored.strip().lower() == FULL:
        return DEFAULT_LOOK
    if stored.strip().lower() == COMPACT:
        return Look(COMPACT)
    try:
        return Look(CUSTOM, parse_template(stored))
    except TemplateError:
        return DEFAULT_LOOK


def describe(stored: str | None) -> str:
    """'full (the default)', 'compact', 'custom: {rank}. {id}': the look as `/alerts status` says it."""
    look = look_of(stored)
    if look.style == CUSTOM and stored is not None:
        return f"custom: {stored}"
    return "full (the default)" if look.style == FULL else COMPACT


#: 'compact': one short line per model, by kind (the title already says what happened).
COMPACT_TEMPLATES: dict[str, Template] = {
    "entered": parse_template("#{rank} {country_flag} {id} · {movement}"),
    "climber": parse_template("#{rank} {country_flag} {id} · {movement}"),
    "watched": parse_template("#{rank} {country_flag} {id} · {movement}"),
    "left": parse_template("{country_flag} {id} · {movement}"),
    "new_leader": parse_template("{country_flag} {id} · {movement}"),
}


def template_for(look: Look, kind: str) -> Template | None:
    """The template of one alert kind's lines in this look; None: the default look's own lines."""
    if look.style == COMPACT:
        return COMPACT_TEMPLATES.get(kind)
    return look.template


def fill(template: Template, values: Mapping[str, str]) -> Line:
    """One model's line: literal text and the fields' strings as spans; {id} and {url} link to its page.

    `values` holds every name of FIELDS (as strings); nothing else is ever looked up.
    """
    spans: list[Span] = []
    for piece in template:
        if piece.text:
            spans.append(Span(piece.text))
        if piece.field == "id":
            spans.append(Span(values["id"], url=values["url"], bold=True))
        elif piece.field == "url":
            spans.append(Span(values["url"], url=values["url"]))
        elif piece.field is not None:
            spans.append(Span(values[piece.field]))
    return tuple(spans)
