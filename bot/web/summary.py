"""Words and signs for the web page, from values: flags, country names, movement, the headline, alert lines.

Pure, so every sentence the page shows is tested without a server. The web page words its own
alerts instead of reusing the chat wording: a page shows one line per alert to anyone, and never
what a channel was told about itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache

from bot.domain.events import (
    Climber,
    DailyDigest,
    Digest,
    Entered,
    Event,
    Left,
    NewLeader,
    ShareChange,
    SourceHealth,
    Watched,
)
from bot.domain.snapshot import UNKNOWN, Attribution


def flag(country: str) -> str:
    """The flag emoji of a two-letter code (regional indicators); a white flag for unknown."""
    if len(country) == 2 and country.isascii() and country.isalpha():
        return "".join(chr(0x1F1E6 + ord(letter) - ord("A")) for letter in country.upper())
    return "\U0001F3F3"


@cache
def country_name(country: str) -> str:
    """'China', 'South Korea'; 'unknown' stays so; a code pycountry does not know stays the code."""
    if country == UNKNOWN:
        return "unknown"
    import pycountry

    found = pycountry.countries.get(alpha_2=country)
    if found is None:
        return country
    return str(getattr(found, "common_name", None) or found.name)


def how_decided(method: str, via: str | None) -> str:
    """"via base model Qwen/Qwen3-8B", "namespace deepseek-ai", ...: the domain's own explanation."""
    return Attribution(UNKNOWN, method, via).explain()


def movement(rank: int, previous_rank: int | None, top_n: int) -> str:
    """"new" when it was not in the previous top N, "▲3" / "▼1" by places, "=" when it held its rank."""
    if previous_rank is None or previous_rank > top_n:
        return "new"
    if previous_rank > rank:
        return f"▲{previous_rank - rank}"
    if previous_rank < rank:
        return f"▼{rank - previous_rank}"
    return "="


def headline(counts: Mapping[str, int], top_n: int, week: Iterable[Mapping[str, int]]) -> str:
    """"China holds 6 of 10 (5–7 this week, 1 unknown)": the leading known country now, its low and high
    over the week's snapshots (`week`: each snapshot's counts), and the entries nobody could place."""
    known = {country: n for country, n in counts.items() if country != UNKNOWN and n > 0}
    unknown = counts.get(UNKNOWN, 0)
    unknown_part = f"{unknown} unknown"
    if not known:
        return f"No country placed in the top {top_n} ({unknown_part})"
    leader = sorted(known, key=lambda c: (-known[c], c))[0]
    seen = [snapshot.get(leader, 0) for snapshot in week] or [known[leader]]
    low, high = min(seen), max(seen)
    span = f"{low}–{high} this week" if low != high else f"{low} all week"
    return f"{country_name(leader)} holds {known[leader]} of {top_n} ({span}, {unknown_part})"


def alert_line(event: Event) -> tuple[str, str]:
    """(title, one-paragraph text) of a sent alert, for `/alerts` and the feeds.

    A source notice says that the Hub failed and how often, never the error text (it can name hosts).
    """
    on = f" on {event.list}"
    if isinstance(event, Entered):
        names = ", ".join(f"#{m.rank} {m.id} ({m.country})" for m in event.models)
        count = len(event.models)
        return (f"{count} new in the top {event.top_n}{on}",
                f"Entered the top {event.top_n}: {names}.")
    if isinstance(event, NewLeader):
        before = f", taking over from {event.previous_id}" if event.previous_id else ""
        return f"New #1{on}: {event.id}", f"{event.id} ({event.country}) is now #1{before}."
    if isinstance(event, ShareChange):
        verb = ("is at or above" if event.direction == "above" else "is below") if event.state == "firing" else (
            "is no longer above" if event.direction == "above" else "is no longer below")
        return (f"{country_name(event.country)} {verb} {event.threshold}%{on}",
                f"{country_name(event.country)} holds {event.count} of the top {event.top_n}"
                f" ({event.share:g}%), which {verb} {event.threshold}%.")
    if isinstance(event, SourceHealth):
        if event.state == "failing":
            return f"The Hub is failing{on}", f"{event.failures} polls in a row failed; shares and alerts wait."
        return f"The Hub answers again{on}", "Polls succeed again."
    if isinstance(event, Watched):
        what = "appeared" if event.reason == "appeared" else f"entered the top {event.top_n}"
        return (f"Watched: {event.id} {what}{on}",
                f"{event.id} ({event.country}) {what} at #{event.rank} (watch: {event.watch}).")
    if isinstance(event, Left):
        names = ", ".join(f"{m.id} (#{m.previous_rank})" for m in event.models)
        return (f"{len(event.models)} left the top {event.top_n}{on}", f"Left the top {event.top_n}: {names}.")
    if isinstance(event, Climber):
        names = ", ".join(f"{m.id} (#{m.previous_rank} → #{m.rank})" for m in event.models)
        return (f"{len(event.models)} climbed in the top {event.top_n}{on}", f"Climbed {event.climb}+ places: {names}.")
    leaders = ", ".join(f"{c.country} {c.average:g}%" for c in event.countries[:3])  # what is left: a digest
    if isinstance(event, DailyDigest):
        return (f"Daily digest {event.day}{on}",
                f"{event.snapshots} snapshots of the top {event.top_n}" + (f"; average shares: {leaders}."
                                                                          if leaders else "."))
    return (f"Weekly digest {event.week}{on}",
            f"{event.snapshots} snapshots of the top {event.top_n}" + (f"; average shares: {leaders}." if leaders
                                                                      else "."))


def event_countries(event: Event) -> set[str]:
    """The countries an alert is about: what `?country=` filters on."""
    if isinstance(event, Entered | Left | Climber):
        return {m.country for m in event.models}
    if isinstance(event, NewLeader | ShareChange | Watched):
        return {event.country}
    if isinstance(event, Digest | DailyDigest):
        return {c.country for c in event.countries}
    return set()
