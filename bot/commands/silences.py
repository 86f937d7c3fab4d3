"""`/alerts silence`, `/alerts silences`, `/alerts unsilence`: a channel's silences, platform-neutral.

Like `bot.commands.channel_settings`: adapters say who asks; setting and ending a silence needs admin
rights (checked again here), listing is for everyone, like `alerts status`. A silence is the channel's, not
one subscription's. A channel set up from another server or workspace is refused whole, as every channel
command is (`bot.commands.tenancy`), so one tenant never sees nor ends another's silences.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.commands.caller import Caller, CommandError, clean_input, echo, parse_country
from bot.commands.tenancy import caller_tenant, refuse_foreign
from bot.config import parse_duration
from bot.domain.events import SUBSCRIBABLE
from bot.domain.messages import Line, Message, line
from bot.domain.silence import MATCHERS, Matcher, Silence
from bot.rules.watches import parse_target
from store import silences as silence_store
from store.db import Conn, Database

MAX_SILENCE = timedelta(days=90)
KIND_WORDS = SUBSCRIBABLE  # the kind words `alerts subscribe` takes
RECENTLY_ENDED = timedelta(days=1)  # `alerts silences` also shows what ended this long ago, marked ended
_HUB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # a Hub namespace or repository name
USAGE = "Use: alerts silence author:NAME|model:org/name|kind:KIND|country:CC <duration>, e.g. author:deepseek-ai 7d"


def _ok(title: str, *lines: str) -> Message:
    return Message(kind="settings", title=title, lines=tuple(line(text) for text in lines), ephemeral=True)


def parse_matcher(text: str) -> tuple[Matcher, str]:
    """'author:deepseek-ai' / 'model:org/name' / 'kind:share' / 'country:us' → (matcher, stored value)."""
    name, colon, raw = clean_input(text).strip().partition(":")
    matcher = next((m for m in MATCHERS if m == name.strip().lower()), None)
    if not colon or matcher is None:
        raise CommandError(f"'{echo(text)}' is not a matcher: give author:NAME, model:org/name, kind:KIND"
                           f" or country:CC (e.g. author:deepseek-ai).")
    value = raw.strip()
    if matcher == "country":
        return matcher, parse_country(value)
    if matcher == "kind":
        word = value.lower()
        if word not in KIND_WORDS:
            raise CommandError(f"kind:{echo(value)} is not a kind: choose one of {', '.join(KIND_WORDS)}.")
        return matcher, word
    try:
        found, target = parse_target(value)
    except ValueError:
        found, target = ("model" if matcher == "author" else "author"), value
    if found != matcher or len(target) > 200 or not all(_HUB_NAME.fullmatch(part) for part in target.split("/")):
        example = "an author like deepseek-ai" if matcher == "author" else "a model id like org/name"
        raise CommandError(f"{matcher}:{echo(value)} is not {example}.")
    return matcher, target


def parse_silence_length(text: str) -> timedelta:
    """'30m', '2h', '7d' (as `alerts mute` takes them), more than 0 and at most 90 days."""
    try:
        length = parse_duration(clean_input(text).strip().lower())
    except ValueError:
        length = None
    if length is None or length <= timedelta(0) or length > MAX_SILENCE or not text.strip()[-1:].isalpha():
        raise CommandError(f"'{echo(text)}' is not a duration like 30m, 2h or 7d (at most {MAX_SILENCE.days} days).")
    return length


def parse_silence_id(text: str | int) -> int:
    """'3' or '#3' (as `alerts silences` shows it)."""
    raw = str(text).strip().lstrip("#")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise CommandError(f"'{echo(text)}' is not a silence id: `alerts silences` lists them (e.g. unsilence 3).")
    return int(raw)


def who(caller: Caller) -> str:
    """How a silence names who set or ended it: the platform's display name with the id, or the id alone."""
    name = " ".join(clean_input(caller.user_name).split())[:80]
    return f"{name} ({caller.user})" if name else caller.user


def ends_in(silence: Silence, now: datetime) -> str:
    left = silence.ends_at - now
    if left >= timedelta(days=1):
        return f"{left.days}d {left.seconds // 3600}h"
    if left >= timedelta(hours=1):
        return f"{left.seconds // 3600}h {left.seconds % 3600 // 60}m"
    return f"{max(1, left.seconds // 60)}m"


def silence_line(silence: Silence, now: datetime, held: int) -> str:
    """One silence as `alerts silences` and `alerts status` show it."""
    what = f"#{silence.id} {silence.describe}"
    count = f"{held} alert{'s' if held != 1 else ''} held back"
    if silence.ended_at is not None:
        return f"{what}: ended {silence.ended_at:%Y-%m-%d %H:%M} UTC by {echo(silence.ended_by, 100)} ({count})"
    if silence.ends_at <= now:
        return f"{what}: ran out {silence.ends_at:%Y-%m-%d %H:%M} UTC ({count})"
    return (f"{what}: ends in {ends_in(silence, now)} ({silence.ends_at:%Y-%m-%d %H:%M} UTC), set by"
            f" {echo(silence.created_by, 100)}; {count}")


async def channel_scope(conn: Conn, caller: Caller, now: datetime, subscribed: bool) -> int | None:
    """The tenant whose silences this channel holds (None: a channel no tenant owns), or a CommandError when
    the channel was set up from another tenant, or (`subscribed`) when nothing is subscribed in it."""
    tenant_id = await caller_tenant(conn, caller, now, record=False)
    owners = await silence_store.channel_owners(conn, caller.platform, caller.channel)
    if any(not owns_channel(owner, tenant_id) for owner, _ in owners):
        raise refuse_foreign(caller)
    if subscribed and not any(active for _, active in owners):
        raise CommandError("This channel is not subscribed: use `alerts subscribe` first.")
    return next((owner for owner, _ in owners if owner is not None), None)


def owns_channel(owner: int | None, tenant_id: int | None) -> bool:
    return owner is None or owner == tenant_id


class ChannelSilences:
    def __init__(self, db: Database, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.db = db
        self.clock = clock

    def _admin(self, caller: Caller) -> None:
        if not caller.is_admin:
            raise CommandError("Changing alert settings needs channel-manager (admin) rights.")

    async def silence(self, caller: Caller, matcher: str, duration: str) -> Message:
        self._admin(caller)
        chosen, value = parse_matcher(matcher)
        length = parse_silence_length(duration)
        now = self.clock()
        async with self.db.transaction() as conn:
            owner = await channel_scope(conn, caller, now, subscribed=True)
            added = await silence_store.add_silence(conn, caller.platform, caller.channel, owner, chosen, value,
                                                    who(caller), now, now + length)
        return _ok("Silenced", f"#{added.id} {added.describe}: alerts here that it catches are held back until"
                               f" {added.ends_at:%Y-%m-%d %H:%M} UTC (recorded, not sent).",
                   f"A message naming several models still brings the others. End it early: alerts unsilence"
                   f" {added.id}.")

    async def silences(self, caller: Caller) -> Message:
        now = self.clock()
        conn = self.db.conn
        owner = await channel_scope(conn, caller, now, subscribed=False)
        found = await silence_store.silences_of(conn, caller.platform, caller.channel, owner, now,
                                                ended_since=now - RECENTLY_ENDED)
        if not found:
            return _ok("Silences", "No silence in this channel. Set one: alerts silence author:deepseek-ai 7d.")
        held = await silence_store.held_counts(conn, [silence.id for silence in found])
        return Message(kind="settings", title="Silences", ephemeral=True,
                       lines=tuple(line(silence_line(s, now, held.get(s.id, 0))) for s in found))

    async def unsilence(self, caller: Caller, silence_id: str | int) -> Message:
        self._admin(caller)
        number = parse_silence_id(silence_id)
        now = self.clock()
        async with self.db.transaction() as conn:
            owner = await channel_scope(conn, caller, now, subscribed=False)
            ended = await silence_store.end_silence(conn, number, caller.platform, caller.channel, owner,
                                                    who(caller), now)
            known = None if ended else await silence_store.find_silence(conn, number, caller.platform,
                                                                        caller.channel, owner)
        if ended is not None:
            return _ok("Silence ended", f"#{ended.id} {ended.describe} no longer holds alerts back here.")
        if known is not None:
            return _ok("Already ended", f"#{known.id} {known.describe} had already ended; nothing changed.")
        raise CommandError(f"This channel has no silence #{number}; `alerts silences` lists them.")


async def silence_status_lines(conn: Conn, platform: str, channel: str, tenant_id: int | None,
                               now: datetime) -> list[Line]:
    """What `alerts status` says of the channel's silences: one line each, with how much each held back."""
    found = await silence_store.silences_of(conn, platform, channel, tenant_id, now)
    held = await silence_store.held_counts(conn, [silence.id for silence in found])
    return [line("🔕 Silence " + silence_line(silence, now, held.get(silence.id, 0))) for silence in found]
