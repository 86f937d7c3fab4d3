"""`/share`, `/api/share`, `/export/share.csv` and `python -m bot share --csv`: one query, one table, three forms.

The parameters are parsed once (`ShareQuery.parse`): a bad one is a `BadParameter` whose message is
the one line the user sees (HTTP 400, or the CLI's error). The CSV is made from the same
`ShareTable` as the JSON, by `share_csv`, so the two cannot disagree.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from bot.domain.snapshot import DEFAULT_LIST
from bot.web.buckets import (
    LIVE,
    RESOLUTIONS,
    DayMix,
    DayTotal,
    Resolution,
    ShareBucket,
    add_days,
    buckets_of,
    countries_in,
)
from store.db import Conn
from store.web_reads import ShareDay, ShareMark, history_bounds, share_days, share_mark

CSV_COLUMNS = ("start", "end", "country", "share_percent", "unknown_entries", "top_n", "snapshots", "sources")


class BadParameter(ValueError):
    """A request parameter that cannot be used; its message is the whole answer (one line)."""


def parse_day(name: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadParameter(f"{name}: expected a date like 2024-01-31, got {text!r}") from None


def list_param(params: Mapping[str, str], lists: Sequence[str]) -> str:
    """`list`, default the models list; an unknown name says which lists there are."""
    name = params.get("list", DEFAULT_LIST).strip() or DEFAULT_LIST
    if name not in lists:
        raise BadParameter(f"list: no list named {name!r}; this bot has: {', '.join(lists)}")
    return name


@dataclass(frozen=True, slots=True)
class ShareQuery:
    list_name: str
    start: date | None  # None: from the list's first snapshot
    end: date | None  # inclusive; None: to its last
    resolution: Resolution

    @classmethod
    def parse(cls, params: Mapping[str, str], lists: Sequence[str]) -> ShareQuery:
        list_name = list_param(params, lists)
        start = parse_day("from", params["from"]) if params.get("from", "").strip() else None
        end = parse_day("to", params["to"]) if params.get("to", "").strip() else None
        if start and end and start > end:
            raise BadParameter(f"from ({start}) is after to ({end})")
        resolution = params.get("resolution", "week").strip() or "week"
        if resolution not in RESOLUTIONS:
            raise BadParameter(f"resolution: expected one of {', '.join(RESOLUTIONS)}, got {resolution!r}")
        return cls(list_name, start, end, cast(Resolution, resolution))

    def as_params(self) -> dict[str, str]:
        found = {"list": self.list_name, "resolution": self.resolution}
        if self.start:
            found["from"] = self.start.isoformat()
        if self.end:
            found["to"] = self.end.isoformat()
        return found


@dataclass(frozen=True, slots=True)
class ShareTable:
    query: ShareQuery
    start: date | None  # the range really covered (the query's, or the list's history)
    end: date | None
    countries: tuple[str, ...]
    buckets: tuple[ShareBucket, ...]

    @property
    def sources(self) -> tuple[str, ...]:
        """Every source behind the figures: archives by name, then the bot's own polls."""
        found = {source for bucket in self.buckets for source in bucket.sources}
        return tuple(sorted(found - {LIVE})) + ((LIVE,) if LIVE in found else ())

    def to_json(self) -> dict[str, Any]:
        return {
            "list": self.query.list_name,
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            "resolution": self.query.resolution,
            "countries": list(self.countries),
            "sources": list(self.sources),
            "buckets": [{
                "start": b.start.isoformat(), "end": b.end.isoformat(), "snapshots": b.snapshots,
                "top_n": b.top_n, "sources": list(b.sources), "unknown_entries": b.unknown,
                "shares": {country: b.shares.get(country, 0.0) for country in self.countries},
            } for b in self.buckets],
        }


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


class DayCache:
    """Each list's share history as day totals, kept in memory and brought up to date with only what is new.

    A page that is read while the bot polls every 15 minutes would otherwise read three years of
    snapshots per request; here a request reads the list's `ShareMark` (a count over an index) and,
    when snapshots were added (a poll, an import), only those. Anything else that changed the
    history (a re-attribution, rows that appeared below the newest id) reads it all again. Read
    only: nothing is written anywhere but this process's memory.
    """

    def __init__(self) -> None:
        self._held: dict[str, tuple[ShareMark, list[DayTotal], dict[tuple[date, int], DayTotal]]] = {}

    async def totals(self, conn: Conn, list_name: str) -> list[DayTotal]:
        """The list's day totals, oldest first."""
        mark = await share_mark(conn, list_name)
        held = self._held.get(list_name)
        if held is not None and held[0] == mark:
            return held[1]
        if held is not None and held[0].reattributed_at == mark.reattributed_at and mark.last_id > held[0].last_id:
            fresh = await share_days(conn, list_name, None, None, after_id=held[0].last_id, up_to_id=mark.last_id)
            if held[0].snapshots + sum(day.snapshots for day in fresh) == mark.snapshots:
                return self._keep(list_name, mark, add_days(held[2], _mixes(fresh)))
        days = await share_days(conn, list_name, None, None, up_to_id=mark.last_id)
        totals = add_days({}, _mixes(days))
        if sum(day.snapshots for day in days) == mark.snapshots:  # else a write raced the read: not kept
            return self._keep(list_name, mark, totals)
        return sorted(totals.values(), key=lambda t: (t.day, t.top_n))

    def _keep(self, list_name: str, mark: ShareMark, totals: dict[tuple[date, int], DayTotal]) -> list[DayTotal]:
        ordered = sorted(totals.values(), key=lambda t: (t.day, t.top_n))
        self._held[list_name] = (mark, ordered, totals)
        return ordered


def _mixes(days: list[ShareDay]) -> list[DayMix]:
    return [DayMix(d.day, d.archive or LIVE, d.top_n, d.counts, d.snapshots) for d in days]


async def share_table(conn: Conn, query: ShareQuery, cache: DayCache | None = None) -> ShareTable:
    """The list's snapshots in the range (grouped by day in the store, or from `cache`), averaged per bucket."""
    start, end = query.start, query.end
    if cache is not None:
        every = await cache.totals(conn, query.list_name)
        start = start or (every[0].day if every else None)
        end = end or (every[-1].day if every else None)
        totals = [t for t in every if (start is None or t.day >= start) and (end is None or t.day <= end)]
    else:
        if start is None or end is None:
            bounds = await history_bounds(conn, query.list_name)
            if bounds is not None:
                start = start or bounds[0].date()
                end = end or bounds[1].date()
        days = await share_days(conn, query.list_name, _midnight(start) if start else None,
                                _midnight(end + timedelta(days=1)) if end else None)
        totals = list(add_days({}, _mixes(days)).values())
    buckets = buckets_of(totals, query.resolution)
    return ShareTable(query, start, end, tuple(countries_in(buckets)), tuple(buckets))


def share_csv(table: ShareTable) -> str:
    """One row per (bucket, country), unknown included: what `/export/share.csv` serves and `share --csv` prints."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for bucket in table.buckets:
        for country in table.countries:
            writer.writerow([bucket.start.isoformat(), bucket.end.isoformat(), country,
                             f"{bucket.shares.get(country, 0.0):.2f}", f"{bucket.unknown:.2f}", bucket.top_n,
                             bucket.snapshots, ";".join(bucket.sources)])
    return out.getvalue()

