"""Every trending list's series: its snapshots, their entries and what is remembered of each item (`items`).

The default list (`models`, the Hub's overall trending models) and every `[[lists]]` entry are stored
alike, keyed by list name; `store.series.Series` binds these functions to one list.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.rule_state import History, TopStay
from bot.domain.snapshot import DEFAULT_LIST, Attribution, Entry, Snapshot
from store.db import Conn, from_iso, stored_float, stored_int, stored_tags, stored_text, utc_iso


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    id: int
    snapshot: Snapshot
    top_n: int


_UPSERT_ITEM = """
INSERT INTO items (list, hub_id, first_seen, last_seen, best_rank, best_rank_at, first_in_top, last_in_top,
                   last_led, top_polls, pipeline_tag, library_name, created_at, tags)
VALUES (:list, :id, :t, :t, :rank, :t, :in_top_at, :in_top_at, :led_at, :in_top, :pipeline_tag, :library_name,
        :created_at, :tags)
ON CONFLICT (list, hub_id) DO UPDATE SET
    last_seen    = excluded.last_seen,
    best_rank_at = CASE WHEN excluded.best_rank < items.best_rank THEN excluded.best_rank_at
                        ELSE items.best_rank_at END,
    best_rank    = CASE WHEN excluded.best_rank < items.best_rank THEN excluded.best_rank
                   ELSE items.best_rank END,
    first_in_top = COALESCE(items.first_in_top, excluded.first_in_top),
    last_in_top  = COALESCE(excluded.last_in_top, items.last_in_top),
    last_led     = COALESCE(excluded.last_led, items.last_led),
    top_polls    = items.top_polls + excluded.top_polls,
    pipeline_tag = COALESCE(excluded.pipeline_tag, items.pipeline_tag),
    library_name = COALESCE(excluded.library_name, items.library_name),
    created_at   = COALESCE(excluded.created_at, items.created_at),
    tags         = excluded.tags
"""


async def save_snapshot(
    conn: Conn, snapshot: Snapshot, top_n: int, source: str, list_name: str = DEFAULT_LIST
) -> int:
    """Insert one snapshot of one list with its entries and what its items' memory learns; call inside the
    poll's transaction."""
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
        _UPSERT_ITEM,
        [
            {
                "list": list_name,
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
    ids = await item_row_ids(conn, list_name, [entry.id for entry in snapshot.entries])
    await conn.executemany(
        "INSERT INTO entries (snapshot_id, rank, item_id, likes, downloads, trending_score, country,"
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
    await thin_history(conn, list_name)
    return snapshot_id


def top_counts(entries: Iterable[Entry], top_n: int) -> dict[str, int]:
    """Models per country among ranks 1..top_n: what `share` and the digest read for each snapshot."""
    counts: dict[str, int] = {}
    for entry in entries:
        if entry.rank <= top_n:
            counts[entry.country] = counts.get(entry.country, 0) + 1
    return dict(sorted(counts.items()))


_RECOUNT = (
    "UPDATE snapshots SET top_counts = ("
    " SELECT COALESCE({as_object}, '{{}}') FROM ("
    "  SELECT e.country AS country, COUNT(*) AS n FROM entries e"
    "  WHERE e.snapshot_id = snapshots.id AND e.rank <= snapshots.top_n"
    "  GROUP BY e.country ORDER BY e.country) AS counts)"
)


def _recount(conn: Conn) -> str:
    as_object = "json_group_object(country, n)" if conn.dialect == "sqlite" else "json_object_agg(country, n)::text"
    return _RECOUNT.format(as_object=as_object)


async def recount_snapshots(conn: Conn, snapshot_ids: Iterable[int] | None = None) -> None:
    """Recompute the stored country counts of these snapshots (None: every snapshot) from their entries.

    Whoever changes an entry's country (re-attribution after the tables or labels changed) calls
    this in the same transaction, so shares read from `snapshots.top_counts` stay right. Each
    snapshot costs a primary-key range of its top N entries: a 15-minute year takes ~0.2 s.
    """
    if snapshot_ids is None:
        await conn.execute(_recount(conn))
        return
    ids = sorted(set(snapshot_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        await conn.execute(_recount(conn) + f" WHERE id IN ({','.join('?' * len(chunk))})", chunk)


async def thin_history(conn: Conn, list_name: str = DEFAULT_LIST) -> None:
    """Keep ranks below the top N only where something reads them; called with each new snapshot of a list.

    Detection and `trending` compare the two latest snapshots at full depth, and the digest's
    climbers need full ranks near each week's ends: the first snapshot of each UTC hour keeps all
    its entries. Any other snapshot older than the two latest keeps its top N (shares, the
    digest's top lists, re-attribution) and drops the rest, which at a 15-minute interval is
    three rows in five of a year's history. One rule for every list.
    """
    async with conn.execute(
        "SELECT id, taken_at, top_n FROM snapshots WHERE list = ? AND kept_depth IS NULL AND archive IS NULL"
        " ORDER BY taken_at DESC, id DESC LIMIT 1 OFFSET 2",
        (list_name,),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return
    sid, taken, top_n = int(row[0]), str(row[1]), int(row[2])
    hour_start = utc_iso(from_iso(taken).replace(minute=0, second=0, microsecond=0))
    async with conn.execute(
        "SELECT 1 FROM snapshots WHERE list = ? AND archive IS NULL AND taken_at >= ?"
        " AND (taken_at < ? OR (taken_at = ? AND id < ?)) LIMIT 1",
        (list_name, hour_start, taken, taken, sid),
    ) as cursor:
        earlier_in_hour = await cursor.fetchone() is not None
    if not earlier_in_hour:
        return
    await conn.execute("DELETE FROM entries WHERE snapshot_id = ? AND rank > ?", (sid, top_n))
    await conn.execute("UPDATE snapshots SET kept_depth = ? WHERE id = ?", (top_n, sid))


async def _items(conn: Conn, columns: str, list_name: str, hub_ids: Sequence[str]) -> list[tuple[Any, ...]]:
    """(hub id, *`columns`) of the given items of one list, as stored; `columns` is this module's, never input."""
    if not hub_ids:
        return []
    marks = ",".join("?" * len(hub_ids))
    async with conn.execute(
        f"SELECT hub_id, {columns} FROM items WHERE list = ? AND hub_id IN ({marks})", [list_name, *hub_ids]
    ) as cur:
        return [tuple(row) for row in await cur.fetchall()]


async def item_row_ids(conn: Conn, list_name: str, hub_ids: Sequence[str]) -> dict[str, int]:
    return {str(hub_id): int(row_id) for hub_id, row_id in await _items(conn, "id", list_name, hub_ids)}


async def load_entries(conn: Conn, snapshot_id: int) -> tuple[Entry, ...]:
    """One snapshot's entries by rank, with their items' task and library (the latest seen).

    Tags are not read back: detection, watches and filters read the fetched snapshot's own, and a
    stored snapshot only serves as the previous one (ranks, countries) or as an answer.
    """
    async with conn.execute(
        "SELECT e.rank, i.hub_id, e.likes, e.downloads, e.trending_score, i.pipeline_tag, i.library_name,"
        " e.country, e.country_method, e.country_via"
        " FROM entries e JOIN items i ON i.id = e.item_id WHERE e.snapshot_id = ? ORDER BY e.rank",
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


async def latest_snapshots(conn: Conn, count: int = 1, list_name: str = DEFAULT_LIST) -> list[StoredSnapshot]:
    """The newest `count` snapshots that the bot polled itself, newest first.

    Snapshots imported from archives are never here: the next poll must be compared with what the
    bot last saw, not with a moment an archive happened to record.
    """
    async with conn.execute(
        "SELECT id, taken_at, top_n FROM snapshots WHERE list = ? AND archive IS NULL"
        " ORDER BY taken_at DESC, id DESC LIMIT ?",
        (list_name, count),
    ) as cursor:
        rows = await cursor.fetchall()
    return [
        StoredSnapshot(int(sid), Snapshot(from_iso(taken), await load_entries(conn, int(sid))), int(top_n))
        for sid, taken, top_n in rows
    ]


async def item_history(conn: Conn, hub_ids: Iterable[str], list_name: str = DEFAULT_LIST) -> History:
    """When each item was last in this list's top N and last #1, as of its latest stored snapshot."""
    rows = await _items(conn, "last_in_top, last_led", list_name, list(hub_ids))
    return History(
        last_in_top={str(hub_id): from_iso(top) for hub_id, top, _ in rows if top},
        last_led={str(hub_id): from_iso(led) for hub_id, _, led in rows if led},
    )


_IN_TOP = "SELECT 1 FROM entries e WHERE e.snapshot_id = s.id AND e.item_id = ? AND e.rank <= ?"


async def top_stays(
    conn: Conn, hub_ids: Sequence[str], top_n: int, before: datetime, window_start: datetime,
    list_name: str = DEFAULT_LIST,
) -> dict[str, TopStay]:
    """Each item's latest unbroken run in the top N among this list's snapshots taken before `before`.

    Walks back from the newest snapshot only as far as the run (then the gap before it, no further than
    `window_start`), so a leaver costs a few index probes per snapshot of its stay. A snapshot counts as
    "out" only if it still holds `top_n` ranks; polled and imported snapshots alike are history.
    """
    stays: dict[str, TopStay] = {}
    until = utc_iso(before)
    for hub_id, row_id in (await item_row_ids(conn, list_name, hub_ids)).items():
        async with conn.execute(
            "SELECT s.taken_at FROM snapshots s WHERE s.list = ? AND s.taken_at < ?"
            f" AND COALESCE(s.kept_depth, s.depth) >= ? AND NOT EXISTS ({_IN_TOP})"
            " ORDER BY s.taken_at DESC LIMIT 1",
            (list_name, until, top_n, row_id, top_n),
        ) as cursor:
            out = await cursor.fetchone()
        out_at = str(out[0]) if out else None
        async with conn.execute(
            f"SELECT s.taken_at FROM snapshots s WHERE s.list = ? AND s.taken_at < ? AND EXISTS ({_IN_TOP})"
            + (" AND s.taken_at > ?" if out_at else "") + " ORDER BY s.taken_at LIMIT 1",
            (list_name, until, row_id, top_n, *((out_at,) if out_at else ())),
        ) as cursor:
            first = await cursor.fetchone()
        if first is None:
            continue
        left_before = None
        if out_at is not None:
            async with conn.execute(
                f"SELECT s.taken_at FROM snapshots s WHERE s.list = ? AND s.taken_at < ? AND s.taken_at >= ?"
                f" AND EXISTS ({_IN_TOP}) ORDER BY s.taken_at DESC LIMIT 1",
                (list_name, out_at, utc_iso(window_start), row_id, top_n),
            ) as cursor:
                earlier = await cursor.fetchone()
            left_before = from_iso(earlier[0]) if earlier else None
        stays[hub_id] = TopStay(since=from_iso(first[0]), at_least=out_at is None, left_before=left_before)
    return stays


async def recent_places(
    conn: Conn, hub_ids: Sequence[str], top_n: int, since: datetime, before: datetime,
    list_name: str = DEFAULT_LIST,
) -> dict[str, dict[int, datetime]]:
    """When each item last held each place of the top N in [since, before): what a climb's cooldown reads."""
    ids = await item_row_ids(conn, list_name, hub_ids)
    if not ids or since >= before:
        return {}
    by_row = {row_id: hub_id for hub_id, row_id in ids.items()}
    marks = ",".join("?" * len(by_row))
    async with conn.execute(
        "SELECT e.item_id, e.rank, MAX(s.taken_at) FROM snapshots s JOIN entries e ON e.snapshot_id = s.id"
        f" WHERE s.list = ? AND s.taken_at >= ? AND s.taken_at < ? AND e.rank <= ? AND e.item_id IN ({marks})"
        " GROUP BY e.item_id, e.rank",
        (list_name, utc_iso(since), utc_iso(before), top_n, *by_row),
    ) as cursor:
        rows = await cursor.fetchall()
    places: dict[str, dict[int, datetime]] = {}
    for row_id, rank, at in rows:
        places.setdefault(by_row[int(row_id)], {})[int(rank)] = from_iso(str(at))
    return places


async def seen_before(conn: Conn, hub_ids: Sequence[str], list_name: str = DEFAULT_LIST) -> set[str]:
    """Which of these ids any stored snapshot of this list held (at any rank): a watch's 'first appearance'."""
    return {str(found) for (found, _) in await _items(conn, "id", list_name, hub_ids)}


async def known_tags(conn: Conn, hub_ids: Sequence[str]) -> dict[str, list[str]]:
    """Latest stored tags of models the default list has seen, for walking lineage without asking the Hub."""
    return {str(hub_id): stored_tags(tags) for hub_id, tags in await _items(conn, "tags", DEFAULT_LIST, hub_ids)}


async def share_series(
    conn: Conn, since: datetime, until: datetime | None = None, list_name: str = DEFAULT_LIST
) -> list[tuple[datetime, int, dict[str, int]]]:
    """(taken_at, top_n, {country: items in top N}) per snapshot of one list in [since, until], oldest first.

    One row per snapshot (its `top_counts`), fetched at once: a year costs one query, not one
    round trip per 64 rows.
    """
    query = (
        "SELECT taken_at, top_n, top_counts FROM snapshots WHERE list = ? AND taken_at >= ?"
        + (" AND taken_at <= ?" if until else "") + " ORDER BY taken_at, id"
    )
    params = [list_name, utc_iso(since)] + ([utc_iso(until)] if until else [])
    async with conn.execute(query, params) as cursor:
        rows = await cursor.fetchall()
    loads = json.loads
    return [(from_iso(taken), int(top_n), loads(counts)) for taken, top_n, counts in rows]


@dataclass(frozen=True, slots=True)
class ShareSummary:
    """The top N's country counts over a window, without one row per snapshot.

    `distribution` holds each distinct (top_n, counts) with how many snapshots had it: averages,
    lows and highs over any window follow from it, and a year has a few hundred distinct ones.
    """

    snapshots: int
    first: tuple[datetime, int, dict[str, int]] | None
    last: tuple[datetime, int, dict[str, int]] | None
    distribution: tuple[tuple[int, dict[str, int], int], ...]
    archives: tuple[tuple[str, int], ...] = ()  # (archive, snapshots) imported into the window, by name

    @property
    def polled(self) -> int:
        """Snapshots in the window that the bot took itself."""
        return self.snapshots - sum(n for _, n in self.archives)


async def share_summary(
    conn: Conn, since: datetime, until: datetime, list_name: str = DEFAULT_LIST
) -> ShareSummary:
    """Country counts of one list's snapshots in [since, until]: first, last, and how often each mix occurred."""
    bounds = (list_name, utc_iso(since), utc_iso(until))
    async with conn.execute(
        "SELECT top_n, top_counts, COUNT(*) FROM snapshots WHERE list = ? AND taken_at >= ? AND taken_at <= ?"
        " GROUP BY top_n, top_counts",
        bounds,
    ) as cursor:
        distribution = tuple((int(top_n), dict(json.loads(counts)), int(n))
                             for top_n, counts, n in await cursor.fetchall())
    ends: list[tuple[datetime, int, dict[str, int]] | None] = []
    for order in ("ASC", "DESC"):
        async with conn.execute(
            "SELECT taken_at, top_n, top_counts FROM snapshots"
            " WHERE list = ? AND taken_at >= ? AND taken_at <= ?"
            f" ORDER BY taken_at {order}, id {order} LIMIT 1",
            bounds,
        ) as cursor:
            row = await cursor.fetchone()
        ends.append((from_iso(row[0]), int(row[1]), dict(json.loads(row[2]))) if row else None)
    async with conn.execute(
        "SELECT archive, COUNT(*) FROM snapshots WHERE list = ? AND taken_at >= ? AND taken_at <= ?"
        " AND archive IS NOT NULL GROUP BY archive ORDER BY archive",
        bounds,
    ) as cursor:
        archives = tuple((str(name), int(n)) for name, n in await cursor.fetchall())
    return ShareSummary(sum(n for _, _, n in distribution), ends[0], ends[1], distribution, archives)


async def newest_snapshot(conn: Conn, list_name: str = DEFAULT_LIST) -> StoredSnapshot | None:
    """The newest snapshot of one list whether polled or imported: what a history reader anchors on when
    the bot has not polled yet (a store that holds only imported archives)."""
    async with conn.execute(
        "SELECT id, taken_at, top_n FROM snapshots WHERE list = ? ORDER BY taken_at DESC, id DESC LIMIT 1",
        (list_name,),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return None
    sid, taken, top_n = row
    return StoredSnapshot(int(sid), Snapshot(from_iso(taken), await load_entries(conn, int(sid))), int(top_n))


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


async def model_record(conn: Conn, hub_id: str, list_name: str = DEFAULT_LIST) -> ModelRecord | None:
    """One item's summary on one list; the id is matched case-insensitively, as the Hub does."""
    async with conn.execute(
        "SELECT hub_id, first_seen, last_seen, best_rank, best_rank_at, first_in_top, last_in_top, top_polls,"
        " pipeline_tag FROM items WHERE list = ? AND "
        + ("hub_id = ? COLLATE NOCASE" if conn.dialect == "sqlite" else "lower(hub_id) = lower(?)") + " LIMIT 1",
        (list_name, hub_id),
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


# CROSS JOIN keeps the trigram index as the outer loop: with `list` in the WHERE, the planner would otherwise
# walk the list's items and ask the index once per item (27 s for a miss on 100,000 models).
SEARCH_BY_TRIGRAMS = (
    "SELECT i.hub_id FROM items_search s CROSS JOIN items i ON i.id = s.rowid"
    " WHERE s.hub_id LIKE ? AND i.list = ? ORDER BY i.best_rank, i.last_seen DESC"
)


async def search_models(conn: Conn, text: str, limit: int = 25, list_name: str = DEFAULT_LIST) -> list[str]:
    """Ids on one list containing `text` (any case), best-ranked first: autocomplete and "did you mean".

    Three ASCII characters or more go through the trigram index `items_search`; its LIKE has no
    ESCAPE, so `_` and `%` match loosely there and the exact substring test is done here. Anything
    else takes the scan: SQLite 3.40's trigram LIKE crashes the process on some non-ASCII patterns
    (a pattern mixing `_` with non-ASCII letters, found by fuzzing the slash commands); Hub ids are ASCII.
    """
    needle = text.casefold()
    if conn.dialect == "postgresql":  # pg_trgm's GIN index on lower(hub_id) serves LIKE, any text
        query = ("SELECT hub_id FROM items WHERE lower(hub_id) LIKE ? AND list = ?"
                 " ORDER BY best_rank, last_seen DESC")
        params: tuple[object, ...] = (f"%{text.lower()}%", list_name)
    elif len(text) >= 3 and text.isascii():
        query = SEARCH_BY_TRIGRAMS
        params = (f"%{text}%", list_name)
    else:
        query = ("SELECT hub_id FROM items WHERE list = ? AND instr(lower(hub_id), ?) > 0"
                 " ORDER BY best_rank, last_seen DESC")
        params = (list_name, text.lower())
    found: list[str] = []
    async with conn.execute(query, params) as cursor:
        async for (hub_id,) in cursor:
            if needle in str(hub_id).casefold():
                found.append(str(hub_id))
                if len(found) >= limit:
                    break
    return found


async def typical_poll_gap(conn: Conn, sample: int = 50, list_name: str = DEFAULT_LIST) -> float | None:
    """Median seconds between a list's latest snapshots: turns 'snapshots in the top N' into time."""
    async with conn.execute(
        "SELECT taken_at FROM snapshots WHERE list = ? ORDER BY taken_at DESC LIMIT ?", (list_name, sample)
    ) as cur:
        times = [from_iso(taken) for (taken,) in await cur.fetchall()]
    gaps = sorted((a - b).total_seconds() for a, b in itertools.pairwise(times))
    return gaps[len(gaps) // 2] if gaps else None
