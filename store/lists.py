"""Snapshots of the other trending lists (Spaces, datasets, filtered model lists) and their health.

They share the `snapshots` table (column `list`) with the default list, so event ids, baselines
and `since_snapshot` work the same; their entries and per-item memory live in `list_entries` and
`list_items`, so the default list's per-model history is never mixed with another list's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from bot.domain.rule_state import History
from bot.domain.snapshot import DEFAULT_LIST, Attribution, Entry, Snapshot
from store.db import Conn, from_iso, stored_float, stored_int, stored_tags, stored_text, utc_iso
from store.health import SourceHealth
from store.snapshots import StoredSnapshot, latest_snapshots, top_counts

_UPSERT_ITEM = """
INSERT INTO list_items (list, item_id, first_seen, last_seen, best_rank, last_in_top, last_led)
VALUES (:list, :id, :t, :t, :rank, :in_top_at, :led_at)
ON CONFLICT (list, item_id) DO UPDATE SET
    last_seen   = excluded.last_seen,
    best_rank   = CASE WHEN excluded.best_rank < list_items.best_rank THEN excluded.best_rank
                  ELSE list_items.best_rank END,
    last_in_top = COALESCE(excluded.last_in_top, list_items.last_in_top),
    last_led    = COALESCE(excluded.last_led, list_items.last_led)
"""


async def save_list_snapshot(
    conn: Conn, list_name: str, snapshot: Snapshot, top_n: int, source: str
) -> int:
    """Insert one snapshot of a non-default list; call inside the poll's transaction."""
    taken = utc_iso(snapshot.taken_at)
    cursor = await conn.execute(
        "INSERT INTO snapshots (taken_at, top_n, depth, source, top_counts, list) VALUES (?, ?, ?, ?, ?, ?)"
        " RETURNING id",
        (taken, top_n, len(snapshot.entries), source, json.dumps(top_counts(snapshot.entries, top_n)), list_name),
    )
    row = await cursor.fetchone()
    assert row is not None
    snapshot_id = int(row[0])
    await conn.executemany(
        "INSERT INTO list_entries (snapshot_id, rank, item_id, likes, downloads, trending_score, pipeline_tag,"
        " library_name, tags, country, country_method, country_via) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (snapshot_id, e.rank, e.id, e.likes, e.downloads, e.trending_score, e.pipeline_tag, e.library_name,
             json.dumps(list(e.tags)), e.attribution.country, e.attribution.method, e.attribution.via)
            for e in snapshot.entries
        ],
    )
    await conn.executemany(
        _UPSERT_ITEM,
        [
            {"list": list_name, "id": e.id, "t": taken, "rank": e.rank,
             "in_top_at": taken if e.rank <= top_n else None, "led_at": taken if e.rank == 1 else None}
            for e in snapshot.entries
        ],
    )
    await _thin(conn, list_name)
    return snapshot_id


async def _thin(conn: Conn, list_name: str) -> None:
    """Like `snapshots.thin_history`, per list: older snapshots keep their top N, the two latest everything."""
    async with conn.execute(
        "SELECT id, top_n FROM snapshots WHERE list = ? AND kept_depth IS NULL"
        " ORDER BY taken_at DESC, id DESC LIMIT 1 OFFSET 2",
        (list_name,),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return
    await conn.execute("DELETE FROM list_entries WHERE snapshot_id = ? AND rank > ?", (int(row[0]), int(row[1])))
    await conn.execute("UPDATE snapshots SET kept_depth = ? WHERE id = ?", (int(row[1]), int(row[0])))


async def load_list_entries(conn: Conn, snapshot_id: int) -> tuple[Entry, ...]:
    async with conn.execute(
        "SELECT rank, item_id, likes, downloads, trending_score, pipeline_tag, library_name, tags, country,"
        " country_method, country_via FROM list_entries WHERE snapshot_id = ? ORDER BY rank",
        (snapshot_id,),
    ) as cursor:
        rows = await cursor.fetchall()
    return tuple(
        Entry(rank=int(rank), id=str(item_id), likes=stored_int(likes), downloads=stored_int(downloads),
              trending_score=stored_float(score), pipeline_tag=stored_text(pipeline), library_name=stored_text(lib),
              tags=tuple(stored_tags(tags)), attribution=Attribution(str(country), str(method), stored_text(via)))
        for rank, item_id, likes, downloads, score, pipeline, lib, tags, country, method, via in rows
    )


async def latest_list_snapshots(conn: Conn, list_name: str, count: int = 1) -> list[StoredSnapshot]:
    """The newest `count` snapshots of one list, newest first; the default list reads `entries`."""
    if list_name == DEFAULT_LIST:
        return await latest_snapshots(conn, count)
    async with conn.execute(
        "SELECT id, taken_at, top_n FROM snapshots WHERE list = ? ORDER BY taken_at DESC, id DESC LIMIT ?",
        (list_name, count),
    ) as cursor:
        rows = await cursor.fetchall()
    return [
        StoredSnapshot(int(sid), Snapshot(from_iso(taken), await load_list_entries(conn, int(sid))), int(top_n))
        for sid, taken, top_n in rows
    ]


async def list_history(conn: Conn, list_name: str, item_ids: Iterable[str]) -> History:
    """When each item was last in this list's top N and last #1."""
    ids = list(item_ids)
    if not ids:
        return History()
    marks = ",".join("?" * len(ids))
    async with conn.execute(
        f"SELECT item_id, last_in_top, last_led FROM list_items WHERE list = ? AND item_id IN ({marks})",
        [list_name, *ids],
    ) as cursor:
        rows = await cursor.fetchall()
    return History(
        last_in_top={str(i): from_iso(top) for i, top, _ in rows if top},
        last_led={str(i): from_iso(led) for i, _, led in rows if led},
    )


async def seen_before(conn: Conn, list_name: str, item_ids: Sequence[str]) -> set[str]:
    """Which of these ids any stored snapshot of this list held (at any rank): a watch's 'first appearance'."""
    if not item_ids:
        return set()
    marks = ",".join("?" * len(item_ids))
    if list_name == DEFAULT_LIST:
        query, params = f"SELECT hub_id FROM models WHERE hub_id IN ({marks})", list(item_ids)
    else:
        query = f"SELECT item_id FROM list_items WHERE list = ? AND item_id IN ({marks})"
        params = [list_name, *item_ids]
    async with conn.execute(query, params) as cursor:
        return {str(found) for (found,) in await cursor.fetchall()}


async def list_health(conn: Conn, list_name: str) -> SourceHealth:
    async with conn.execute(
        "SELECT failures, last_error, last_failure_at, last_success_at, failing_announced"
        " FROM list_health WHERE list = ?",
        (list_name,),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return SourceHealth(0, None, None, None, False)
    failures, error, failed_at, success_at, announced = row
    return SourceHealth(int(failures), stored_text(error), from_iso(failed_at) if failed_at else None,
                        from_iso(success_at) if success_at else None, bool(announced))


async def record_list_failure(conn: Conn, list_name: str, error: str, now: datetime) -> SourceHealth:
    await conn.execute(
        "INSERT INTO list_health (list, failures, last_error, last_failure_at) VALUES (?, 1, ?, ?)"
        " ON CONFLICT (list) DO UPDATE SET failures = failures + 1, last_error = excluded.last_error,"
        " last_failure_at = excluded.last_failure_at",
        (list_name, error[:500], utc_iso(now)),
    )
    return await list_health(conn, list_name)


async def set_list_failing_announced(conn: Conn, list_name: str, announced: bool) -> None:
    await conn.execute("UPDATE list_health SET failing_announced = ? WHERE list = ?", (int(announced), list_name))


async def record_list_success(conn: Conn, list_name: str, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO list_health (list, last_success_at) VALUES (?, ?)"
        " ON CONFLICT (list) DO UPDATE SET failures = 0, last_success_at = excluded.last_success_at,"
        " failing_announced = 0",
        (list_name, utc_iso(now)),
    )


async def stored_item_tags(conn: Conn) -> dict[tuple[str, str], list[str]]:
    """Every item of the other lists, by (list, item id), with the tags of its latest stored entry in that list:
    what re-attribution reads. A model and a dataset may share an id; each keeps its own tags."""
    async with conn.execute(
        "SELECT s.list, e.item_id, e.tags FROM list_entries e JOIN snapshots s ON s.id = e.snapshot_id JOIN ("
        " SELECT ls.list, le.item_id, MAX(le.snapshot_id) AS latest FROM list_entries le"
        " JOIN snapshots ls ON ls.id = le.snapshot_id GROUP BY ls.list, le.item_id) last"
        " ON last.list = s.list AND last.item_id = e.item_id AND last.latest = e.snapshot_id"
    ) as cursor:
        return {(str(name), str(item)): stored_tags(tags) for name, item, tags in await cursor.fetchall()}
