"""Country shares of a list's top N, averaged per day, week or month: the maths behind `/share` and its CSV.

Pure: rows in, buckets out. A bucket's share of a country is the average, over the bucket's
snapshots, of (that country's entries in the top N) / N; `unknown` is a country like any other
here, so the bands of a bucket add up to 100% whenever its snapshots were full. Every bucket says
where its snapshots came from (the bot's own polls, or an archive by name), so a figure built on
an archive is never shown as if the bot had seen it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, get_args

from bot.domain.snapshot import UNKNOWN

Resolution = Literal["day", "week", "month"]
RESOLUTIONS: tuple[str, ...] = get_args(Resolution)
LIVE = "live"  # the source name of snapshots the bot polled itself (`snapshots.archive` IS NULL)
DIGITS = 2  # shares in percent and unknown counts are rounded to this many decimals, in JSON and CSV alike


@dataclass(frozen=True, slots=True)
class DayMix:
    """Snapshots of one UTC day that had the same top-N country counts and came from the same source."""

    day: date
    source: str  # LIVE or an archive's name
    top_n: int
    counts: dict[str, int]
    snapshots: int


@dataclass(frozen=True, slots=True)
class ShareBucket:
    start: date  # first day in the bucket
    end: date  # first day after it
    snapshots: int
    sources: tuple[str, ...]  # archives by name, then LIVE, as present
    top_n: int  # the largest N of its snapshots (N changes only when the config does)
    shares: dict[str, float]  # country -> average percent of the top N; includes UNKNOWN when any
    unknown: float  # average entries of unknown country per snapshot


def bucket_start(day: date, resolution: Resolution) -> date:
    if resolution == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if resolution == "month":
        return day.replace(day=1)
    return day


def bucket_end(start: date, resolution: Resolution) -> date:
    if resolution == "week":
        return start + timedelta(days=7)
    if resolution == "month":
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class DayTotal:
    """One UTC day's snapshots with the same N, summed: `counts[c]` is Σ (entries of c × snapshots).

    Integers, so adding a day's snapshots in any order, at once or as they come (`add_days`),
    gives the same totals, and the page's cached history and a fresh read agree to the last digit.
    """

    day: date
    top_n: int
    snapshots: int
    counts: dict[str, int]
    sources: frozenset[str]


def add_days(totals: dict[tuple[date, int], DayTotal], days: Iterable[DayMix]) -> dict[tuple[date, int], DayTotal]:
    """`totals` with `days` added in (a new dict; `totals` is left as it was)."""
    found = dict(totals)
    for mix in days:
        if mix.top_n <= 0 or mix.snapshots <= 0:
            continue
        key = (mix.day, mix.top_n)
        before = found.get(key)
        counts = dict(before.counts) if before else {}
        for country, count in mix.counts.items():
            counts[country] = counts.get(country, 0) + count * mix.snapshots
        found[key] = DayTotal(mix.day, mix.top_n, (before.snapshots if before else 0) + mix.snapshots, counts,
                              (before.sources if before else frozenset()) | {mix.source})
    return found


def share_buckets(days: Iterable[DayMix], resolution: Resolution) -> list[ShareBucket]:
    """Average shares per bucket, oldest first; a bucket without snapshots is absent, not zero."""
    return buckets_of(add_days({}, days).values(), resolution)


def buckets_of(totals: Iterable[DayTotal], resolution: Resolution) -> list[ShareBucket]:
    """Buckets from day totals (see `DayTotal`), taken in (day, N) order so every caller adds alike."""
    sums: dict[date, dict[str, float]] = {}
    unknown: dict[date, int] = {}
    counts: dict[date, int] = {}
    sources: dict[date, set[str]] = {}
    top_n: dict[date, int] = {}
    for total in sorted(totals, key=lambda t: (t.day, t.top_n)):
        start = bucket_start(total.day, resolution)
        shares = sums.setdefault(start, {})
        for country, count in total.counts.items():
            shares[country] = shares.get(country, 0.0) + count / total.top_n
        unknown[start] = unknown.get(start, 0) + total.counts.get(UNKNOWN, 0)
        counts[start] = counts.get(start, 0) + total.snapshots
        sources.setdefault(start, set()).update(total.sources)
        top_n[start] = max(top_n.get(start, 0), total.top_n)
    buckets = []
    for start in sorted(sums):
        total_snapshots = counts[start]
        buckets.append(ShareBucket(
            start=start,
            end=bucket_end(start, resolution),
            snapshots=total_snapshots,
            sources=tuple(sorted(sources[start] - {LIVE})) + ((LIVE,) if LIVE in sources[start] else ()),
            top_n=top_n[start],
            shares={country: round(value / total_snapshots * 100, DIGITS)
                    for country, value in sorted(sums[start].items()) if value > 0},
            unknown=round(unknown[start] / total_snapshots, DIGITS),
        ))
    return buckets


def countries_in(buckets: Sequence[ShareBucket]) -> list[str]:
    """Every country present, largest total share first (ties by code), `unknown` last: the chart's band order."""
    totals: dict[str, float] = {}
    for bucket in buckets:
        for country, share in bucket.shares.items():
            totals[country] = totals.get(country, 0.0) + share
    known = sorted((c for c in totals if c != UNKNOWN), key=lambda c: (-totals[c], c))
    return known + ([UNKNOWN] if UNKNOWN in totals else [])
