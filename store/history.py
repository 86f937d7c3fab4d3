"""History reads for the weekly digest and charts: rows for the pure maths in `bot.digest`.

Every query walks `snapshots_by_list_time` for one list's time range and the `entries` primary key
(snapshot_id, rank) for the top N, so a week costs the same on a year of data as on a day.
Full ranks come from the first and last snapshots of the week that kept all of them: at most an
hour in from either end (`snapshots.thin_history`).
"""

from __future__ import annotations

from datetime import datetime

from bot.domain.snapshot import DEFAULT_LIST
from bot.domain.week_rows import SnapshotRow, TopRow, WeekRows
from store.db import Conn, from_iso, utc_iso


async def week_rows(conn: Conn, start: datetime, end: datetime, detail: bool = True,
                    list_name: str = DEFAULT_LIST) -> WeekRows:
    """One list's snapshots in [start, end), their top-N entries and, with `detail`, full ranks at both ends."""
    async with conn.execute(
        "SELECT id, taken_at, top_n, archive FROM snapshots WHERE list = ? AND taken_at >= ? AND taken_at < ?"
        " ORDER BY taken_at, id",
        (list_name, utc_iso(start), utc_iso(end)),
    ) as cursor:
        snapshots = tuple(SnapshotRow(int(sid), from_iso(taken), int(top_n), archive)
                          for sid, taken, top_n, archive in await cursor.fetchall())
    if not snapshots:
        return WeekRows((), (), {}, {}, {})
    async with conn.execute(
        "SELECT e.snapshot_id, e.rank, i.hub_id, e.country, i.first_in_top FROM snapshots s"
        " JOIN entries e ON e.snapshot_id = s.id AND e.rank <= s.top_n"
        " JOIN items i ON i.id = e.item_id"
        " WHERE s.list = ? AND s.taken_at >= ? AND s.taken_at < ? ORDER BY s.taken_at, s.id, e.rank",
        (list_name, utc_iso(start), utc_iso(end)),
    ) as cursor:
        raw = await cursor.fetchall()
    top = tuple(TopRow(int(sid), int(rank), str(hub_id), str(country)) for sid, rank, hub_id, country, _ in raw)
    first_in_top = {str(hub_id): from_iso(first) for _, _, hub_id, _, first in raw if first}
    if not detail:
        return WeekRows(snapshots, top, {}, {}, first_in_top)
    first, last = await _full_depth_ends(conn, start, end, list_name)
    return WeekRows(snapshots, top, await ranks(conn, first or snapshots[0].id),
                    await ranks(conn, last or snapshots[-1].id), first_in_top)


async def _full_depth_ends(conn: Conn, start: datetime, end: datetime,
                           list_name: str) -> tuple[int | None, int | None]:
    """The first and last snapshots in [start, end) that kept every rank (see `snapshots.thin_history`)."""
    found: list[int | None] = []
    for order in ("ASC", "DESC"):
        async with conn.execute(
            "SELECT id FROM snapshots WHERE list = ? AND taken_at >= ? AND taken_at < ? AND kept_depth IS NULL"
            f" ORDER BY taken_at {order}, id {order} LIMIT 1",
            (list_name, utc_iso(start), utc_iso(end)),
        ) as cursor:
            row = await cursor.fetchone()
        found.append(int(row[0]) if row else None)
    return found[0], found[1]


async def ranks(conn: Conn, snapshot_id: int) -> dict[str, int]:
    """Every item's rank in one snapshot, at full depth."""
    async with conn.execute(
        "SELECT i.hub_id, e.rank FROM entries e JOIN items i ON i.id = e.item_id WHERE e.snapshot_id = ?",
        (snapshot_id,),
    ) as cursor:
        return {str(hub_id): int(rank) for hub_id, rank in await cursor.fetchall()}


async def digest_created(conn: Conn, week: str) -> datetime | None:
    async with conn.execute("SELECT created_at FROM digests WHERE week = ?", (week,)) as cursor:
        row = await cursor.fetchone()
    return from_iso(row[0]) if row else None


async def record_digest(conn: Conn, week: str, event_id: int, trigger: str, now: datetime) -> bool:
    """False when that week already has a digest: the caller's transaction must then be rolled back."""
    cursor = await conn.execute(
        "INSERT INTO digests (week, event_id, trigger, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (week, event_id, trigger, utc_iso(now)),
    )
    return cursor.rowcount == 1
