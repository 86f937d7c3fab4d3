"""Daily digest maths: which day, and what happened in it. Pure: rows in, values out, no I/O.

A day is a calendar day on the configured time zone's wall clock (`[digest] timezone`, the weekly
digest's own zone, so the seven days of a week's digest are the seven daily digests): local midnight
to the next local midnight, built per date, so a day the clocks go forward lasts 23 hours and one
they go back 25. The measures are the weekly digest's (`bot.digest.week`), over one day: time at #1
weighed by the time each snapshot stands for, newcomers as first entries ever into the top N, shares
averaged over the day's snapshots with the entries of unknown origin counted beside them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.digest.week import (
    LIST_LIMIT,
    MAX_YEAR,
    MIN_YEAR,
    archived_snapshots,
    biggest_climbers,
    compare_countries,
    country_averages,
    find_gaps,
    time_weights,
    unknown_per_snapshot,
    usual_interval,
)
from bot.domain.events import DailyDigest, DailyHold, DailyLeader, DigestLeader, DigestNewcomer
from bot.domain.shares import holds
from bot.domain.snapshot import UNKNOWN
from bot.domain.week_rows import SnapshotRow, TopRow, WeekRows

CLIMBERS = 5
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class DayError(ValueError):
    """A day or time of day that cannot be understood; the text says which form is expected."""


# --- days and the schedule --------------------------------------------------------------------


def parse_day(text: str) -> date:
    """'2026-05-14' → that date; anything else is a DayError naming the expected form."""
    value = text.strip()
    if not _DAY.match(value):
        raise DayError(f"expected a day like '2026-05-14' (YYYY-MM-DD), got {text!r}")
    try:
        found = date.fromisoformat(value)
    except ValueError:
        raise DayError(f"{value} is not a date on the calendar") from None
    if not MIN_YEAR <= found.year <= MAX_YEAR:  # the day before must exist too (the digest compares with it)
        raise DayError(f"expected a day from {MIN_YEAR} to {MAX_YEAR}, got {value!r}")
    return found


def day_bounds(day: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Local midnight to the next local midnight (DST-safe: built per date), in UTC: Python subtracts two times
    of one zone on the wall clock, so only UTC ends make a 23-hour day measure 23 hours."""
    found = parse_day(day)
    return (datetime.combine(found, time(0), tzinfo=tz).astimezone(UTC),
            datetime.combine(found + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC))


def previous_day(moment: datetime, tz: ZoneInfo) -> str:
    """The calendar day before the one `moment` falls in, on `tz`'s calendar: what a digest sent then covers."""
    return (moment.astimezone(tz).date() - timedelta(days=1)).isoformat()


def parse_time_of_day(text: str) -> tuple[int, int]:
    """'08:00' → (8, 0): the hour and minute APScheduler's CronTrigger takes."""
    match = _TIME.match(text.strip())
    if not match:
        raise DayError(f"expected a time of day like '08:00' (24-hour HH:MM), got {text!r}")
    return int(match.group(1)), int(match.group(2))


def last_daily_fire(now: datetime, at: str, tz: ZoneInfo) -> datetime:
    """The latest daily digest time at or before `now`, on `tz`'s wall clock: what a restarted bot may have missed."""
    hour, minute = parse_time_of_day(at)
    local = now.astimezone(tz)
    for back in range(2):
        fire = datetime.combine(local.date() - timedelta(days=back), time(hour, minute), tzinfo=tz)
        if fire <= local:
            return fire
    raise AssertionError("unreachable: yesterday's time is always before now")  # pragma: no cover


# --- the digest ------------------------------------------------------------------------------


def leader_stretches(snapshots: Sequence[SnapshotRow], top: Sequence[TopRow], weights: Sequence[float],
                     ) -> list[DailyLeader]:
    """Who held #1, stretch by stretch in time order: consecutive snapshots with the same #1 are one stretch."""
    leader = {row.snapshot_id: row for row in top if row.rank == 1}
    stretches: list[DailyLeader] = []
    for snapshot, weight in zip(snapshots, weights, strict=True):
        row = leader.get(snapshot.id)
        if row is None:
            continue
        if stretches and stretches[-1].id == row.model_id:
            last = stretches[-1]
            stretches[-1] = last.model_copy(update={"hours": last.hours + weight})
        else:
            stretches.append(DailyLeader(id=row.model_id, country=row.country, since=snapshot.taken_at, hours=weight))
    return [s.model_copy(update={"hours": round(s.hours, 2)}) for s in stretches]


def hours_at_1(stretches: Sequence[DailyLeader]) -> list[DigestLeader]:
    """Each model's hours at #1 over the day, most first: what a day of many changes comes down to."""
    hours: dict[str, float] = {}
    country: dict[str, str] = {}
    for stretch in stretches:
        hours[stretch.id] = hours.get(stretch.id, 0.0) + stretch.hours
        country[stretch.id] = stretch.country
    return sorted((DigestLeader(id=m, country=country[m], hours=round(h, 2)) for m, h in hours.items()),
                  key=lambda lead: (-lead.hours, lead.id))


def closing_holds(rows: WeekRows) -> tuple[tuple[DailyHold, ...], int, int]:
    """The day's last top N by country, most entries first (unknown last), with its unknown and listed counts."""
    last = rows.snapshots[-1]
    countries = [row.country for row in rows.top if row.snapshot_id == last.id]
    found = holds(countries, last.top_n)
    ordered = sorted(found.values(), key=lambda h: (h.country == UNKNOWN, -h.count, h.country))
    sample = next(iter(found.values()), None)
    return (tuple(DailyHold(country=h.country, count=h.count) for h in ordered),
            sample.unknown if sample else 0, sample.listed if sample else 0)


def build_daily_digest(
    day: str,
    tz: ZoneInfo,
    rows: WeekRows,
    previous: WeekRows | None,
    *,
    top_n: int,
    poll_interval: timedelta,
    end: datetime | None = None,
    created_at: datetime,
) -> DailyDigest:
    """The whole digest for `day`; `previous` is the day before (for the change in shares). `end` cuts a day
    still running short (an on-demand digest of today)."""
    start, day_end = day_bounds(day, tz)
    end = min(day_end, end) if end else day_end
    rows = rows.within(start, end)
    times = [s.taken_at for s in rows.snapshots]
    interval = usual_interval(times, poll_interval)
    base = {"taken_at": created_at, "day": day, "start": start, "end": day_end, "timezone": tz.key,
            "gaps": find_gaps(times, start, end, interval), "snapshots": len(rows.snapshots)}
    if not rows.snapshots:
        return DailyDigest(top_n=top_n, **base)

    weights = time_weights(times, end, interval)
    weight = dict(zip((s.id for s in rows.snapshots), weights, strict=True))
    hours_in_top: dict[str, float] = {}
    best: dict[str, int] = {}
    country: dict[str, str] = {}
    for row in rows.top:
        hours_in_top[row.model_id] = hours_in_top.get(row.model_id, 0.0) + weight[row.snapshot_id]
        best[row.model_id] = min(best.get(row.model_id, row.rank), row.rank)
        country[row.model_id] = row.country
    newcomers = sorted(
        (
            DigestNewcomer(id=m, country=country[m], best_rank=best[m], hours_in_top=round(hours_in_top[m], 2),
                           entered_at=rows.first_in_top[m])
            for m in hours_in_top
            if m in rows.first_in_top and start <= rows.first_in_top[m] < day_end
        ),
        key=lambda n: (n.best_rank, -n.hours_in_top, n.id),
    )
    stretches = leader_stretches(rows.snapshots, rows.top, weights)
    closing, closing_unknown, closing_listed = closing_holds(rows)
    final_top_n = rows.snapshots[-1].top_n
    previous_averages = country_averages(previous) if previous and previous.snapshots else None
    return DailyDigest(
        top_n=final_top_n,
        newcomers=tuple(newcomers[:LIST_LIMIT]),
        leaders=tuple(stretches[-LIST_LIMIT:]),  # a list flipping all day: the latest ones
        leader_changes=max(0, len(stretches) - 1),
        held=tuple(hours_at_1(stretches)[:LIST_LIMIT]),
        climbers=tuple(biggest_climbers(rows, country, final_top_n)[:CLIMBERS]),
        countries=compare_countries(country_averages(rows), previous_averages),
        closing=closing,
        closing_unknown=closing_unknown,
        closing_listed=closing_listed,
        unknown_average=unknown_per_snapshot(rows),
        archives=archived_snapshots(rows.snapshots),
        **base,
    )
