"""Stored snapshots as rows, one per entry: what `python -m bot export snapshots` and the web page's
`/export/snapshots.csv` write (`bot.archive.export` turns them into CSV or JSONL), and what
`python -m bot import` reads back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from store.db import Conn, from_iso, stored_float, stored_int, stored_text, utc_iso


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    """One entry of one stored snapshot. `archive` is None for a snapshot the bot polled itself;
    `pipeline_tag` is the item's latest known task (entries do not keep their own)."""

    taken_at: datetime
    list_name: str
    rank: int
    id: str
    likes: int | None
    downloads: int | None
    trending_score: float | None
    pipeline_tag: str | None
    country: str
    country_method: str
    country_via: str | None
    archive: str | None
    source: str


async def snapshot_rows(conn: Conn, list_name: str | None, since: datetime, until: datetime) -> list[SnapshotRow]:
    """Every stored entry of one list (None: every list) in [since, until], by time, list and rank."""
    query = (
        "SELECT s.taken_at, s.list, e.rank, i.hub_id, e.likes, e.downloads, e.trending_score, i.pipeline_tag,"
        " e.country, e.country_method, e.country_via, s.archive, s.source"
        " FROM snapshots s JOIN entries e ON e.snapshot_id = s.id JOIN items i ON i.id = e.item_id"
        " WHERE s.taken_at >= ? AND s.taken_at <= ?" + (" AND s.list = ?" if list_name is not None else "")
        + " ORDER BY s.taken_at, s.list, s.id, e.rank"
    )
    params = [utc_iso(since), utc_iso(until), *([list_name] if list_name is not None else [])]
    async with conn.execute(query, params) as cursor:
        rows = await cursor.fetchall()
    return [
        SnapshotRow(from_iso(str(taken)), str(name), int(rank), str(hub_id), stored_int(likes), stored_int(downloads),
                    stored_float(score), stored_text(pipeline), str(country), str(method), stored_text(via),
                    stored_text(archive), str(source))
        for taken, name, rank, hub_id, likes, downloads, score, pipeline, country, method, via, archive, source
        in rows
    ]
