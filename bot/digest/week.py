"""Weekly digest maths: which week, and what happened in it. Pure: rows in, values out, no I/O.

Everything a digest says is computed here from rows the store hands over, so it is tested
against hand-computed expectations and stored as one small JSON payload (`events.Digest`)
that needs no store access when it is rendered later.

Time in the top N is measured, not counted: each snapshot stands for the time until the
next one, except across a gap (no snapshot for more than twice the usual interval), where it
stands for one usual interval only — an outage is never credited to whoever led before it.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from bot.domain.events import (
    CountryAverage,
    Digest,
    DigestClimber,
    DigestLeader,
    DigestNewcomer,
    DigestRunner,
    Gap,
    ListSection,
    ShareChart,
    UnknownNamespace,
)
from bot.domain.lists import ListSpec
from bot.domain.snapshot import UNKNOWN
from bot.domain.week_rows import SnapshotRow, TopRow, WeekRows

OTHER = "other"
LEADING_COUNTRIES = 5
LIST_LIMIT = 10
GAP_FACTOR = 2
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class WeekError(ValueError):
    """A week or schedule string that cannot be understood; the text says which form is expected."""


# --- weeks and the schedule -------------------------------------------------------------------


def iso_week(moment: datetime, tz: ZoneInfo) -> str:
    """'2025-W30': the ISO week `moment` falls in, on the calendar of `tz`."""
    year, week, _ = moment.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


MIN_YEAR, MAX_YEAR = 1970, 9998


def parse_week(text: str) -> tuple[int, int]:
    match = _WEEK.match(text.strip())
    if not match:
        raise WeekError(f"expected an ISO week like '2025-W30', got {text!r}")
    year, week = int(match.group(1)), int(match.group(2))
    if not MIN_YEAR <= year <= MAX_YEAR:  # the week before and after must exist too (the digest compares them)
        raise WeekError(f"expected a week from {MIN_YEAR} to {MAX_YEAR}, got {text.strip()!r}")
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise WeekError(f"{year} has no ISO week {week}") from None
    return year, week


def week_bounds(week: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Local Monday 00:00 to the next Monday 00:00, as aware datetimes (DST-safe: built per date)."""
    year, number = parse_week(week)
    monday = date.fromisocalendar(year, number, 1)
    start = datetime.combine(monday, time(0), tzinfo=tz)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=tz)
    return start, end


def previous_week(moment: datetime, tz: ZoneInfo) -> str:
    """The last full ISO week before the one `moment` falls in: what a digest sent then covers."""
    return iso_week(moment.astimezone(tz) - timedelta(days=7), tz)


def parse_schedule(schedule: str) -> tuple[str, int, int]:
    """'mon 09:00' → ('mon', 9, 0), the pieces APScheduler's CronTrigger takes."""
    match = re.fullmatch(r"(mon|tue|wed|thu|fri|sat|sun) (\d{2}):(\d{2})", schedule.strip().lower())
    if not match:
        raise WeekError(f"expected '<day> HH:MM' like 'mon 09:00', got {schedule!r}")
    return match.group(1), int(match.group(2)), int(match.group(3))


def last_fire(now: datetime, schedule: str, tz: ZoneInfo) -> datetime:
    """The latest scheduled digest time at or before `now`: what a restarted bot may have missed."""
    day, hour, minute = parse_schedule(schedule)
    local = now.astimezone(tz)
    for back in range(8):
        candidate_day = local.date() - timedelta(days=back)
        if candidate_day.weekday() != _DAYS.index(day):
            continue
        fire = datetime.combine(candidate_day, time(hour, minute), tzinfo=tz)
        if fire <= local:
            return fire
    raise AssertionError("unreachable: every 8 days hold the weekday")  # pragma: no cover


# --- time in the list ------------------------------------------------------------------------


def usual_interval(times: Sequence[datetime], fallback: timedelta) -> timedelta:
    """The median spacing of the snapshots; the configured poll interval if there are too few."""
    spacings = sorted((b - a).total_seconds() for a, b in pairwise(times))
    return timedelta(seconds=statistics.median(spacings)) if spacings else fallback


def find_gaps(times: Sequence[datetime], start: datetime, end: datetime, interval: timedelta) -> tuple[Gap, ...]:
    """Stretches longer than GAP_FACTOR × the usual interval with no snapshot, the week's edges included."""
    limit = interval * GAP_FACTOR
    points = [start, *times, end]
    gaps = []
    for a, b in pairwise(points):
        if b - a > limit:
            gaps.append(Gap(start=a, end=b))
    return tuple(gaps)


def time_weights(times: Sequence[datetime], end: datetime, interval: timedelta) -> list[float]:
    """Hours each snapshot stands for: until the next one, but one usual interval across a gap or at the end."""
    limit = interval * GAP_FACTOR
    weights = []
    for i, taken in enumerate(times):
        following = times[i + 1] if i + 1 < len(times) else None
        if following is not None and following - taken <= limit:
            span = following - taken
        else:
            span = min(interval, end - taken) if following is None else interval
        weights.append(span.total_seconds() / 3600)
    return weights


def _hours(value: float) -> float:
    return round(value, 2)


# --- the digest ------------------------------------------------------------------------------


def country_averages(rows: WeekRows) -> dict[str, float]:
    """Each country's share of the top N (percent), averaged over the week's snapshots."""
    if not rows.snapshots:
        return {}
    top_n = {s.id: s.top_n for s in rows.snapshots}
    totals: dict[str, float] = {}
    for row in rows.top:
        totals[row.country] = totals.get(row.country, 0.0) + 100.0 / top_n[row.snapshot_id]
    return {country: total / len(rows.snapshots) for country, total in totals.items()}


def unknown_per_snapshot(rows: WeekRows) -> float:
    """Entries of unknown origin per snapshot of the week, on average: how sure the week's averages are."""
    if not rows.snapshots:
        return 0.0
    return round(sum(1 for row in rows.top if row.country == UNKNOWN) / len(rows.snapshots), 1)


def compare_countries(current: Mapping[str, float], previous: Mapping[str, float] | None) -> tuple[CountryAverage, ...]:
    """Averages with their change from the week before (None when that week has no data)."""
    result = []
    for country, average in current.items():
        before = None if previous is None else previous.get(country, 0.0)
        result.append(
            CountryAverage(
                country=country,
                average=round(average, 1),
                previous=None if before is None else round(before, 1),
                change=None if before is None else round(average - before, 1),
            )
        )
    if previous is not None:
        result.extend(
            CountryAverage(country=c, average=0.0, previous=round(p, 1), change=round(-p, 1))
            for c, p in previous.items()
            if c not in current and p > 0
        )
    result.sort(key=lambda c: (-c.average, c.country == UNKNOWN, c.country))
    return tuple(result)


def share_chart(
    snapshots: Sequence[SnapshotRow],
    counts: Mapping[int, Mapping[str, int]],
    gaps: Sequence[Gap] = (),
    leading: int = LEADING_COUNTRIES,
) -> ShareChart:
    """Per-snapshot shares of the leading countries (by average), the rest as "other", then "unknown"."""
    totals: dict[str, float] = {}
    for snapshot in snapshots:
        for country, count in counts.get(snapshot.id, {}).items():
            totals[country] = totals.get(country, 0.0) + count / snapshot.top_n
    known = sorted((c for c in totals if c != UNKNOWN), key=lambda c: (-totals[c], c))
    lead, rest = known[:leading], set(known[leading:])
    columns = [*lead, *([OTHER] if rest else []), *([UNKNOWN] if UNKNOWN in totals else [])]
    shares: dict[str, list[float]] = {c: [] for c in columns}
    for snapshot in snapshots:
        here = counts.get(snapshot.id, {})
        for country in lead:
            shares[country].append(round(100.0 * here.get(country, 0) / snapshot.top_n, 2))
        if rest:
            shares[OTHER].append(round(100.0 * sum(here.get(c, 0) for c in rest) / snapshot.top_n, 2))
        if UNKNOWN in totals:
            shares[UNKNOWN].append(round(100.0 * here.get(UNKNOWN, 0) / snapshot.top_n, 2))
    return ShareChart(
        times=tuple(s.taken_at for s in snapshots),
        countries=tuple(columns),
        shares=tuple(tuple(shares[c]) for c in columns),
        gaps=tuple(gaps),
    )


UNKNOWN_NAMESPACES = 5


def unknown_namespaces(top: Sequence[TopRow], limit: int = UNKNOWN_NAMESPACES) -> tuple[UnknownNamespace, ...]:
    """The namespaces behind the week's unknown entries, most entries first: what an operator should label."""
    entries: dict[str, int] = {}
    models: dict[str, dict[str, None]] = {}
    for row in top:
        if row.country != UNKNOWN:
            continue
        namespace = row.model_id.split("/", 1)[0] if "/" in row.model_id else row.model_id
        entries[namespace] = entries.get(namespace, 0) + 1
        models.setdefault(namespace, {})[row.model_id] = None
    ranked = sorted(entries.items(), key=lambda item: (-item[1], item[0].lower()))[:limit]
    return tuple(UnknownNamespace(namespace=ns, entries=n, models=tuple(models[ns])) for ns, n in ranked)


def build_digest(
    week: str,
    tz: ZoneInfo,
    rows: WeekRows,
    previous: WeekRows | None,
    *,
    top_n: int,
    poll_interval: timedelta,
    end: datetime | None = None,
    created_at: datetime,
) -> Digest:
    """The whole digest for `week`. `end` cuts a week still running short (an on-demand digest)."""
    start, week_end = week_bounds(week, tz)
    end = min(week_end, end) if end else week_end
    rows = rows.within(start, end)
    times = [s.taken_at for s in rows.snapshots]
    interval = usual_interval(times, poll_interval)
    gaps = find_gaps(times, start, end, interval)
    base = {"taken_at": created_at, "week": week, "start": start, "end": week_end, "timezone": tz.key,
            "gaps": gaps, "snapshots": len(rows.snapshots)}
    if not rows.snapshots:
        return Digest(top_n=top_n, **base)

    weight = dict(zip((s.id for s in rows.snapshots), time_weights(times, end, interval), strict=True))
    order = {s.id: i for i, s in enumerate(rows.snapshots)}
    hours_in_top: dict[str, float] = {}
    hours_at_1: dict[str, float] = {}
    best: dict[str, int] = {}
    country: dict[str, str] = {}
    positions: dict[str, list[int]] = {}
    counts: dict[int, dict[str, int]] = {}
    for row in rows.top:
        w = weight[row.snapshot_id]
        hours_in_top[row.model_id] = hours_in_top.get(row.model_id, 0.0) + w
        if row.rank == 1:
            hours_at_1[row.model_id] = hours_at_1.get(row.model_id, 0.0) + w
        best[row.model_id] = min(best.get(row.model_id, row.rank), row.rank)
        country[row.model_id] = row.country
        positions.setdefault(row.model_id, []).append(order[row.snapshot_id])
        per_snapshot = counts.setdefault(row.snapshot_id, {})
        per_snapshot[row.country] = per_snapshot.get(row.country, 0) + 1

    newcomers = sorted(
        (
            DigestNewcomer(id=m, country=country[m], best_rank=best[m], hours_in_top=_hours(hours_in_top[m]),
                           entered_at=rows.first_in_top[m])
            for m in hours_in_top
            if m in rows.first_in_top and start <= rows.first_in_top[m] < week_end
        ),
        key=lambda n: (n.best_rank, -n.hours_in_top, n.id),
    )
    leaders = sorted(
        (DigestLeader(id=m, country=country[m], hours=_hours(h)) for m, h in hours_at_1.items()),
        key=lambda lead: (-lead.hours, lead.id),
    )
    final_top_n = rows.snapshots[-1].top_n
    climbers = biggest_climbers(rows, country, final_top_n)
    runners = sorted(
        (_runner(m, country[m], sorted(positions[m]), rows.snapshots, weight, hours_in_top[m])
         for m in hours_in_top),
        key=lambda r: (-r.longest_run_hours, -r.hours_in_top, r.id),
    )
    previous_averages = country_averages(previous) if previous and previous.snapshots else None
    return Digest(
        top_n=final_top_n,
        newcomers=tuple(newcomers[:LIST_LIMIT]),
        leaders=tuple(leaders[:LIST_LIMIT]),
        climbers=tuple(climbers[:5]),
        long_runners=tuple(runners[:5]),
        countries=compare_countries(country_averages(rows), previous_averages),
        chart=share_chart(rows.snapshots, counts, gaps),
        unknown_namespaces=unknown_namespaces(rows.top),
        unknown_average=unknown_per_snapshot(rows),
        archives=archived_snapshots(rows.snapshots),
        **base,
    )


def biggest_climbers(rows: WeekRows, country: Mapping[str, str], top_n: int) -> list[DigestClimber]:
    """Models in the final top N that stand higher than in the period's first snapshot, biggest rise first."""
    return sorted(
        (
            DigestClimber(id=m, country=country.get(m, UNKNOWN), from_rank=rows.first_ranks[m], to_rank=rank)
            for m, rank in rows.last_ranks.items()
            if rank <= top_n and m in rows.first_ranks and rows.first_ranks[m] > rank
        ),
        key=lambda c: (c.to_rank - c.from_rank, c.to_rank, c.id),
    )


def archived_snapshots(snapshots: Sequence[SnapshotRow]) -> tuple[tuple[str, int], ...]:
    """(archive, snapshots) of a week built partly on imported history, by name: said under "Built from"."""
    counted: dict[str, int] = {}
    for snapshot in snapshots:
        if snapshot.archive is not None:
            counted[snapshot.archive] = counted.get(snapshot.archive, 0) + 1
    return tuple(sorted(counted.items()))


def _runner(
    model_id: str, country: str, positions: list[int], snapshots: Sequence[SnapshotRow],
    weight: Mapping[int, float], total: float,
) -> DigestRunner:
    """The longest stretch of consecutive snapshots with the model in the top N."""
    longest = current = 0.0
    previous = -2
    for index in positions:
        current = (current if index == previous + 1 else 0.0) + weight[snapshots[index].id]
        longest = max(longest, current)
        previous = index
    return DigestRunner(id=model_id, country=country, longest_run_hours=_hours(longest), hours_in_top=_hours(total),
                        whole_week=len(positions) == len(snapshots))


def list_section(spec: ListSpec, week: Sequence[tuple[int, int, str]], before: set[str]) -> ListSection:
    """Pure: (snapshot id, rank, item) rows of the week's top N, and items in the top N before the week."""
    newcomers = [item for _, _, item in week if item not in before]
    leaders = [item for _, rank, item in week if rank == 1]
    return ListSection(name=spec.name, kind=spec.kind, top_n=spec.top_n, snapshots=len({sid for sid, _, _ in week}),
                       newcomers=tuple(dict.fromkeys(newcomers)), leaders=tuple(dict.fromkeys(leaders)))
