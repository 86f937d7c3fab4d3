"""Platform-neutral answers to questions (`/trending`, `/share`, CLI): read the store, return data or a Message.

Adapters and the CLI call these; nothing here knows Discord, Slack or a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.attribution.countries import country_name, flag
from bot.commands.caller import CommandError, clean_input, echo
from bot.delivery.wording import model_url, on_list, origin_text, snapshot_footer
from bot.digest import week as digest
from bot.digest.chart_worker import ChartError, draw
from bot.digest.week import find_gaps, usual_interval
from bot.domain.lists import item_url
from bot.domain.messages import Field, Image, Message, Span, line
from bot.domain.shares import Hold, hold_text
from bot.domain.snapshot import DEFAULT_LIST, UNKNOWN
from bot.domain.week_rows import SnapshotRow
from store import snapshots
from store.db import Conn
from store.series import Series


@dataclass(frozen=True, slots=True)
class TrendingRow:
    rank: int
    id: str
    country: str
    country_method: str
    country_via: str | None
    origin: str
    previous_rank: int | None
    movement: int | None  # positive = climbed; None = not in the previous list
    likes: int | None
    downloads: int | None
    trending_score: float | None
    url: str


@dataclass(frozen=True, slots=True)
class TrendingView:
    taken_at: datetime
    previous_taken_at: datetime | None
    top_n: int
    rows: tuple[TrendingRow, ...]
    list_name: str = DEFAULT_LIST
    list_kind: str = "models"


def _no_data() -> CommandError:
    return CommandError("No snapshot stored yet: run `python -m bot once` (or wait for the first poll).")


async def trending_view(
    conn: Conn, count: int | None = None, country: str | None = None,
    list_name: str = DEFAULT_LIST, list_kind: str = "models",
) -> TrendingView:
    latest = await Series(list_name).latest_snapshots(conn, 2)
    if not latest:
        raise _no_data()
    current, previous = latest[0], (latest[1] if len(latest) > 1 else None)
    before = {e.id: e.rank for e in previous.snapshot.entries} if previous else {}
    wanted = country.upper() if country else None
    rows = []
    for entry in current.snapshot.entries:
        if wanted and entry.country.upper() != wanted:
            continue
        previous_rank = before.get(entry.id)
        rows.append(
            TrendingRow(
                rank=entry.rank,
                id=entry.id,
                country=entry.country,
                country_method=entry.attribution.method,
                country_via=entry.attribution.via,
                origin=origin_text(entry.country, entry.attribution.method, entry.attribution.via),
                previous_rank=previous_rank,
                movement=(previous_rank - entry.rank) if previous_rank is not None else None,
                likes=entry.likes,
                downloads=entry.downloads,
                trending_score=entry.trending_score,
                url=item_url(list_kind, entry.id),
            )
        )
    limit = count if count is not None else current.top_n
    return TrendingView(
        taken_at=current.snapshot.taken_at,
        previous_taken_at=previous.snapshot.taken_at if previous else None,
        top_n=current.top_n,
        rows=tuple(rows[:limit]),
        list_name=list_name,
        list_kind=list_kind,
    )


def movement_badge(row: TrendingRow, has_previous: bool) -> str:
    if not has_previous:
        return ""
    if row.movement is None:
        return "🆕"
    if row.movement > 0:
        return f"▲{row.movement}"
    if row.movement < 0:
        return f"▼{-row.movement}"
    return "="


def _compact(number: int | float | None) -> str:
    if number is None:
        return "–"
    value = float(number)
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}"


def trending_message(view: TrendingView, country: str | None = None) -> Message:
    if not view.rows:
        where = f" from {country_name(country.upper())}" if country else ""
        noun = "model" if view.list_kind == "models" else view.list_kind.rstrip("s")
        return Message(kind="info", title=on_list(view.list_name, f"No {noun}{where} in the latest trending list"),
                       footer=snapshot_footer(view.taken_at), timestamp=view.taken_at)
    has_previous = view.previous_taken_at is not None
    lines = tuple(
        line(
            f"#{row.rank} {movement_badge(row, has_previous)} {flag(row.country)} ".replace("  ", " "),
            Span(row.id, url=row.url, bold=True),
            f" — {row.origin} · ♥ {_compact(row.likes)} · ⬇ {_compact(row.downloads)}"
            f" · score {_compact(row.trending_score)}",
        )
        for row in view.rows
    )
    scope = f" from {country_name(country.upper())}" if country else ""
    kind_name = {"spaces": "Spaces"}.get(view.list_kind, view.list_kind)
    return Message(
        kind="trending",
        title=on_list(view.list_name, f"Hugging Face trending {kind_name}{scope}"),
        lines=lines,
        footer=snapshot_footer(view.taken_at),
        timestamp=view.taken_at,
        url=f"https://huggingface.co/{view.list_kind}?sort=trending",
    )


@dataclass(frozen=True, slots=True)
class CountryShare:
    country: str
    name: str
    count: int
    share: float
    week_ago: float | None
    change: float | None
    average_7d: float
    low_7d: float
    high_7d: float
    unknown: int = 0  # the latest top N's entries of unknown origin, said beside every country's figure


@dataclass(frozen=True, slots=True)
class ShareView:
    taken_at: datetime
    top_n: int
    snapshots_7d: int  # snapshots in the window (named when the window was always 7 days)
    countries: tuple[CountryShare, ...]
    unknown_models: tuple[str, ...] = ()  # the latest top N's models of unknown origin, by rank
    list_name: str = DEFAULT_LIST

    def unknown_json(self) -> dict[str, Any]:
        return {"count": len(self.unknown_models), "of": self.top_n, "models": list(self.unknown_models),
                "average": self.unknown_average}
    days: int = 7  # the look-back window every "then", average and range is over
    unknown_average: float = 0.0  # unknown entries per snapshot over the window: how sure the averages are
    archives: tuple[tuple[str, int], ...] = ()  # (archive, snapshots) of the window imported, not polled

    def based_on(self) -> str:
        """'672 snapshots over the last 7 days (24 imported from park-onezero/daily-hf-trending)': a figure
        built on imported history names where that history came from."""
        text = f"{self.snapshots_7d} snapshots over the last {_days_text(self.days)}"
        if self.archives:
            text += " (" + ", ".join(f"{n} imported from {name}" for name, n in self.archives) + ")"
        return text


def _pct(count: int, top_n: int) -> float:
    return round(100.0 * count / top_n, 1)


async def share_view(conn: Conn, days: int = 7, list_name: str = DEFAULT_LIST) -> ShareView:
    series = Series(list_name)
    # Anchored on the bot's own latest poll; a store that holds only imported history answers from its newest.
    current = await series.latest(conn) or await series.newest(conn)
    if current is None:
        raise _no_data()
    since = current.snapshot.taken_at - timedelta(days=days)
    summary = await series.share_summary(conn, since, current.snapshot.taken_at)
    first = summary.first
    week_ago = first if first and first[0] <= since + timedelta(hours=12) else None
    now_counts = summary.last[2] if summary.last else {}
    countries = set(now_counts) | {c for _, counts, _ in summary.distribution for c in counts}
    rows = []
    for country in countries:
        # Each distinct mix once, weighted by how many snapshots had it: a year costs what a week does.
        history = [(_pct(counts.get(country, 0), top_n), n) for top_n, counts, n in summary.distribution]
        total = sum(n for _, n in history)
        now = _pct(now_counts.get(country, 0), current.top_n)
        then = _pct(week_ago[2].get(country, 0), week_ago[1]) if week_ago else None
        rows.append(
            CountryShare(
                country=country,
                name=country_name(country),
                count=now_counts.get(country, 0),
                share=now,
                week_ago=then,
                change=round(now - then, 1) if then is not None else None,
                average_7d=round(sum(pct * n for pct, n in history) / total, 1) if total else now,
                low_7d=min((pct for pct, _ in history), default=now),
                high_7d=max((pct for pct, _ in history), default=now),
                unknown=now_counts.get(UNKNOWN, 0),
            )
        )
    rows.sort(key=lambda r: (-r.share, -r.average_7d, r.country == UNKNOWN, r.country))
    unknown = tuple(e.id for e in current.snapshot.top(current.top_n) if e.country == UNKNOWN)
    weighted = [(counts.get(UNKNOWN, 0), n) for _, counts, n in summary.distribution]
    total = sum(n for _, n in weighted)
    unknown_average = round(sum(c * n for c, n in weighted) / total, 1) if total else float(len(unknown))
    return ShareView(current.snapshot.taken_at, current.top_n, summary.snapshots, tuple(rows),
                     unknown_models=unknown, days=days, list_name=list_name, unknown_average=unknown_average,
                     archives=summary.archives)


UNKNOWN_NAMED = 5  # name at most this many unknown models, so a bad day cannot flood the answer


def unknown_line(view: ShareView) -> str:
    """'unknown: 2 of 10 (jane/a, bob/b) · 7-day avg 1.5 of 10' — shown beside the countries, never hidden."""
    named = ", ".join(view.unknown_models[:UNKNOWN_NAMED])
    more = f" and {len(view.unknown_models) - UNKNOWN_NAMED} more" if len(view.unknown_models) > UNKNOWN_NAMED else ""
    return (f"unknown: {len(view.unknown_models)} of {view.top_n}" + (f" ({named}{more})" if named else "")
            + f" · {view.days}-day avg {view.unknown_average:g} of {view.top_n}")


def _days_text(days: int) -> str:
    return "1 day" if days == 1 else f"{days} days"


def share_message(view: ShareView, image: Image | None = None) -> Message:
    """Every figure is labelled by the window it was computed over (`share --days 3` says 3 days, not a week)."""
    ago = "a week ago" if view.days == 7 else f"{_days_text(view.days)} ago"
    lines = []
    for row in view.countries:
        if row.count == 0 and row.average_7d == 0:
            continue
        change = ""
        if row.change is not None:
            change = f" ({'+' if row.change > 0 else ''}{row.change:g} pts vs {ago})" if row.change else " (=)"
        held = Hold(row.country, row.count, view.top_n, row.unknown, view.top_n)
        lines.append(
            line(
                f"{flag(row.country)} {row.name}: {hold_text(held)}{change}"
                f" · {view.days}-day avg {row.average_7d:g}%, range {row.low_7d:g}–{row.high_7d:g}%"
            )
        )
    lines.append(line(unknown_line(view)))
    return Message(
        kind="share",
        title=on_list(view.list_name, f"Who holds the trending top {view.top_n}"),
        lines=tuple(lines),
        fields=(Field("Based on", (line(view.based_on()),)),),
        footer=snapshot_footer(view.taken_at),
        timestamp=view.taken_at,
        image=image,
    )


async def share_chart(conn: Conn, days: int = 7) -> Image:
    """`/share` as a picture: each country's share of the top N over the last `days` days, drawn out of process."""
    if not 1 <= days <= 366:
        raise CommandError(f"Pick between 1 and 366 days (7 and 30 make the most readable charts), not {days}.")
    latest = await snapshots.latest_snapshots(conn, 1)
    if not latest:
        raise _no_data()
    until = latest[0].snapshot.taken_at
    since = until - timedelta(days=days)
    series = await snapshots.share_series(conn, since, until)
    rows = [SnapshotRow(i, taken, top_n) for i, (taken, top_n, _) in enumerate(series)]
    times = [row.taken_at for row in rows]
    gaps = find_gaps(times, since, until, usual_interval(times, timedelta(minutes=15)))
    chart = digest.share_chart(rows, {i: counts for i, (_, _, counts) in enumerate(series)}, gaps)
    title = f"Trending top {latest[0].top_n} by country, last {days} days (to {until:%d %b %Y %H:%M} UTC)"


    try:
        png = await draw(chart, title, (since, until))
    except ChartError as exc:
        raise CommandError(f"Could not draw the chart: {exc}.") from None
    return Image(filename=f"trendwatch-share-{days}d.png", data=png, description=title)


async def model_message(conn: Conn, model_id: str) -> Message:
    """`/model <id>`: a model's history in the trending list."""
    model_id = clean_input(model_id).strip().removeprefix("https://huggingface.co/").strip("/")
    record = await snapshots.model_record(conn, model_id)
    if record is None:
        hints = await snapshots.search_models(conn, model_id.split("/")[-1][:40], limit=3)
        hint = f" Did you mean {', '.join(hints)}?" if hints else ""
        raise CommandError(f"{echo(model_id, 120)} has not been seen in the trending list.{hint}")
    latest = await snapshots.latest_snapshots(conn, 1)
    current = latest[0] if latest else None
    rank = current.snapshot.rank_of(record.hub_id) if current else None
    top_n = current.top_n if current else 10
    entry = next((e for e in current.snapshot.entries if e.id == record.hub_id), None) if current else None
    gap = await snapshots.typical_poll_gap(conn)
    origin = ""
    if entry is not None:
        origin = f" · {flag(entry.country)} " + origin_text(
            entry.country, entry.attribution.method, entry.attribution.via
        )
    lines = [
        line("Now: " + (f"#{rank}" if rank else "not in the latest list") + origin),
        line(f"First seen: {record.first_seen:%Y-%m-%d %H:%M} UTC · last seen: {record.last_seen:%Y-%m-%d %H:%M} UTC"),
        line(f"Best rank: #{record.best_rank} ({record.best_rank_at:%Y-%m-%d %H:%M} UTC)"),
    ]
    if record.top_polls:
        about = f", about {_duration(record.top_polls * gap)}" if gap else ""
        lines.append(line(f"In the top {top_n}: {record.top_polls} snapshot(s){about};"
                          f" first {record.first_in_top:%Y-%m-%d %H:%M} UTC" if record.first_in_top else ""))
    else:
        lines.append(line(f"Never in the top {top_n}."))
    return Message(
        kind="model",
        title=record.hub_id,
        url=model_url(record.hub_id),
        lines=tuple(lines),
        footer=snapshot_footer(current.snapshot.taken_at) if current else "",
        timestamp=current.snapshot.taken_at if current else None,
    )


def _duration(seconds: float) -> str:
    hours = seconds / 3600
    if hours < 48:
        return f"{hours:.0f} h"
    return f"{hours / 24:.1f} days"
