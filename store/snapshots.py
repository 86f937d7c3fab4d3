"""Snapshots, their entries and the per-model summary (`models`)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.detect import History
from bot.snapshot import Attribution, Entry, Snapshot
from store.db import from_iso, stored_float, stored_int, stored_tags, stored_text, utc_iso


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    id: int
    snapshot: Snapshot
    top_n: int


_UPSERT_MODEL = """
INSERT INTO models (hub_id, first_seen, last_seen, best_rank, best_rank_at, first_in_top, last_in_top,
                    last_led, top_polls, pipeline_tag, library_name, created_at, tags)
VALUES (:id, :t, :t, :rank, :t, :in_top_at, :in_top_at, :led_at, :in_top, :pipeline_tag, :library_name,
        :created_at, :tags)
ON CONFLICT (hub_id) DO UPDATE SET
    last_seen    = excluded.last_seen,
    best_rank_at = CASE WHEN excluded.best_rank < models.best_rank THEN excluded.best_rank_at
                        ELSE models.best_rank_at END,
    best_rank    = MIN(models.best_rank, excluded.best_rank),
    first_in_top = COALESCE(models.first_in_top, excluded.first_in_top),
    last_in_top  = COALESCE(excluded.last_in_top, models.last_in_top),
    last_led     = COALESCE(excluded.last_led, models.last_led),
    top_polls    = models.top_polls + excluded.top_polls,
    pipeline_tag = COALESCE(excluded.pipeline_tag, models.pipeline_tag),
    library_name = COALESCE(excluded.library_name, models.library_name),
    created_at   = COALESCE(excluded.created_at, models.created_at),
    tags         = excluded.tags
"""


async def save_snapshot(conn: aiosqlite.Connection, snapshot: Snapshot, top_n: int, source: str) -> int:
    """Insert one snapshot with its entries; call inside the poll's transaction."""
    taken = utc_iso(snapshot.taken_at)
    cursor = await conn.execute(
        "INSERT INTO snapshots (taken_at, top_n, depth, source) VALUES (?, ?, ?, ?)",
        (taken, top_n, len(snapshot.entries), source),
    )
    snapshot_id = cursor.lastrowid
    assert snapshot_id is not None
    await conn.executemany(
        _UPSERT_MODEL,
        [
            {
                "id": entry.id,
                "t": taken,
                "rank": entry.rank,
                "in_top_at": taken if entry.rank <= top_n else None,
                "in_top": 1 if entry.rank <= top_n else 0,
                "led_at": taken if entry.rank == 1 else None,
                "pipeline_tag": entry.pipeline_tag,
                "library_name": entry.library_name,
                "created_at": utc_iso(entry.created_at) if entry.created_at else None,
                "tags": json.dumps(list(entry.tags)),
            }
            for entry in snapshot.entries
        ],
    )
    ids = await model_row_ids(conn, [entry.id for entry in snapshot.entries])
    await conn.executemany(
        "INSERT INTO entries (snapshot_id, rank, model_id, likes, downloads, trending_score, country,"
        " country_method, country_via) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                snapshot_id,
                entry.rank,
                ids[entry.id],
                entry.likes,
                entry.downloads,
                entry.trending_score,
                entry.attribution.country,
                entry.attribution.method,
                entry.attribution.via,
            )
            for entry in snapshot.entries
        ],
    )
    return snapshot_id


async def model_row_ids(conn: aiosqlite.Connection, hub_ids: Sequence[str]) -> dict[str, int]:
    if not hub_ids:
        return {}
    marks = ",".join("?" * len(hub_ids))
    async with conn.execute(f"SELECT hub_id, id FROM models WHERE hub_id IN ({marks})", list(hub_ids)) as cur:
        return {str(hub_id): int(row_id) for hub_id, row_id in await cur.fetchall()}


async def load_entries(conn: aiosqlite.Connection, snapshot_id: int) -> tuple[Entry, ...]:
    async with conn.execute(
        "SELECT e.rank, m.hub_id, e.likes, e.downloads, e.trending_score, m.pipeline_tag, m.library_name,"
        " e.country, e.country_method, e.country_via"
        " FROM entries e JOIN models m ON m.id = e.model_id WHERE e.snapshot_id = ? ORDER BY e.rank",
        (snapshot_id,),
    ) as cursor:
        rows = await cursor.fetchall()
    return tuple(
        Entry(
            rank=rank,
            id=hub_id,
            likes=stored_int(likes),
            downloads=stored_int(downloads),
            trending_score=stored_float(score),
            pipeline_tag=stored_text(pipeline_tag),
            library_name=stored_text(library_name),
            attribution=Attribution(country, method, via),
        )
        for rank, hub_id, likes, downloads, score, pipeline_tag, library_name, country, method, via in rows
    )


async def latest_snapshots(conn: aiosqlite.Connection, count: int = 1) -> list[StoredSnapshot]:
    """The newest `count` snapshots, newest first."""
    async with conn.execute(
        "SELECT id, taken_at, top_n FROM snapshots ORDER BY taken_at DESC, id DESC LIMIT ?", (count,)
    ) as cursor:
        rows = await cursor.fetchall()
    return [
        StoredSnapshot(int(sid), Snapshot(from_iso(taken), await load_entries(conn, sid)), int(top_n))
        for sid, taken, top_n in rows
    ]


async def snapshot_at_or_before(conn: aiosqlite.Connection, moment: datetime) -> StoredSnapshot | None:
    async with conn.execute(
        "SELECT id, taken_at, top_n FROM snapshots WHERE taken_at <= ? ORDER BY taken_at DESC, id DESC LIMIT 1",
        (utc_iso(moment),),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return None
    sid, taken, top_n = row
    return StoredSnapshot(int(sid), Snapshot(from_iso(taken), await load_entries(conn, sid)), int(top_n))


async def model_history(conn: aiosqlite.Connection, hub_ids: Iterable[str]) -> History:
    """When each model was last in the top N and last #1, as of the latest stored snapshot."""
    ids = list(hub_ids)
    if not ids:
        return History()
    marks = ",".join("?" * len(ids))
    async with conn.execute(
        f"SELECT hub_id, last_in_top, last_led FROM models WHERE hub_id IN ({marks})", ids
    ) as cursor:
        rows = await cursor.fetchall()
    return History(
        last_in_top={hub_id: from_iso(top) for hub_id, top, _ in rows if top},
        last_led={hub_id: from_iso(led) for hub_id, _, led in rows if led},
    )


async def known_tags(conn: aiosqlite.Connection, hub_ids: Sequence[str]) -> dict[str, list[str]]:
    """Latest stored tags of models we have seen, for walking lineage without asking the Hub."""
    if not hub_ids:
        return {}
    marks = ",".join("?" * len(hub_ids))
    async with conn.execute(f"SELECT hub_id, tags FROM models WHERE hub_id IN ({marks})", list(hub_ids)) as cur:
        return {str(hub_id): stored_tags(tags) for hub_id, tags in await cur.fetchall()}


async def share_series(
    conn: aiosqlite.Connection, since: datetime, until: datetime | None = None
) -> list[tuple[datetime, int, dict[str, int]]]:
    """(taken_at, top_n, {country: models in top N}) per snapshot in [since, until], oldest first."""
    query = (
        "SELECT s.taken_at, s.top_n, e.country, COUNT(*) FROM snapshots s"
        " JOIN entries e ON e.snapshot_id = s.id AND e.rank <= s.top_n"
        " WHERE s.taken_at >= ?" + (" AND s.taken_at <= ?" if until else "") +
        " GROUP BY s.id, e.country ORDER BY s.taken_at, s.id"
    )
    params = [utc_iso(since)] + ([utc_iso(until)] if until else [])
    series: list[tuple[datetime, int, dict[str, int]]] = []
    last_key: str | None = None
    async with conn.execute(query, params) as cursor:
        async for taken, top_n, country, count in cursor:
            if taken != last_key:
                series.append((from_iso(taken), int(top_n), {}))
                last_key = taken
            series[-1][2][country] = int(count)
    return series


@dataclass(frozen=True, slots=True)
class ModelRecord:
    hub_id: str
    first_seen: datetime
    last_seen: datetime
    best_rank: int
    best_rank_at: datetime
    first_in_top: datetime | None
    last_in_top: datetime | None
    top_polls: int
    pipeline_tag: str | None


async def model_record(conn: aiosqlite.Connection, hub_id: str) -> ModelRecord | None:
    """One model's summary; the id is matched case-insensitively, as the Hub does."""
    async with conn.execute(
        "SELECT hub_id, first_seen, last_seen, best_rank, best_rank_at, first_in_top, last_in_top, top_polls,"
        " pipeline_tag FROM models WHERE hub_id = ? COLLATE NOCASE LIMIT 1",
        (hub_id,),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return None
    hub, first, last, best, best_at, first_top, last_top, polls, pipeline = row
    return ModelRecord(
        hub_id=hub, first_seen=from_iso(first), last_seen=from_iso(last), best_rank=int(best),
        best_rank_at=from_iso(best_at), first_in_top=from_iso(first_top) if first_top else None,
        last_in_top=from_iso(last_top) if last_top else None, top_polls=int(polls), pipeline_tag=stored_text(pipeline),
    )


async def search_models(conn: aiosqlite.Connection, text: str, limit: int = 25) -> list[str]:
    """Model ids containing `text`, best-ranked first: autocomplete."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    async with conn.execute(
        "SELECT hub_id FROM models WHERE hub_id LIKE ? ESCAPE '\\' ORDER BY best_rank, last_seen DESC LIMIT ?",
        (pattern, limit),
    ) as cursor:
        return [str(hub_id) for (hub_id,) in await cursor.fetchall()]


async def typical_poll_gap(conn: aiosqlite.Connection, sample: int = 50) -> float | None:
    """Median seconds between the latest snapshots: turns 'snapshots in the top N' into time."""
    async with conn.execute("SELECT taken_at FROM snapshots ORDER BY taken_at DESC LIMIT ?", (sample,)) as cur:
        times = [from_iso(taken) for (taken,) in await cur.fetchall()]
    gaps = sorted((a - b).total_seconds() for a, b in itertools.pairwise(times))
    return gaps[len(gaps) // 2] if gaps else None
