"""What the read-only web page reads: shares over years, a model's rank history, alerts that were sent.

Nothing here writes. Every query is one statement over an index: the share history groups one list's
snapshots by day and by their country mix (`snapshots.top_counts`) in the database, so three years
of 15-minute polls come back as a few thousand rows, not a hundred thousand.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from store.db import Conn, from_iso, stored_text, utc_iso


@dataclass(frozen=True, slots=True)
class ShareDay:
    """Snapshots of one day that had the same country mix in their top N and came from the same place.

    `archive` is None for snapshots the bot polled itself, else the archive's name.
    """

    day: date
    archive: str | None
    top_n: int
    counts: dict[str, int]
    snapshots: int


async def share_days(conn: Conn, list_name: str, since: datetime | None, until: datetime | None,
                     after_id: int | None = None, up_to_id: int | None = None) -> list[ShareDay]:
    """One list's snapshots in [since, until) grouped by (UTC day, source, top N, country mix), oldest first.

    Walks `snapshots_by_list_time` (list, taken_at, id); `taken_at` is ISO text, so its first ten
    characters are the UTC day on both stores. `after_id`/`up_to_id` bound the snapshot ids, so a
    reader holding the days up to one id can read only what came after (`ShareMark`).
    """
    where = ["list = ?"]
    params: list[Any] = [list_name]
    for condition, value in (("taken_at >= ?", utc_iso(since) if since else None),
                             ("taken_at < ?", utc_iso(until) if until else None),
                             ("id > ?", after_id), ("id <= ?", up_to_id)):
        if value is not None:
            where.append(condition)
            params.append(value)
    async with conn.execute(
        "SELECT substr(taken_at, 1, 10) AS day, archive, top_n, top_counts, COUNT(*) FROM snapshots"
        f" WHERE {' AND '.join(where)} GROUP BY day, archive, top_n, top_counts ORDER BY day",
        params,
    ) as cursor:
        rows = await cursor.fetchall()
    loads = json.loads
    return [ShareDay(date.fromisoformat(str(day)), stored_text(archive), int(top_n), dict(loads(counts or "{}")),
                     int(n)) for day, archive, top_n, counts, n in rows]


@dataclass(frozen=True, slots=True)
class ShareMark:
    """What a list's share history is made of, in three cheap facts: its snapshots, the newest id, and when
    history was last re-attributed (the one thing that rewrites stored country counts)."""

    snapshots: int
    last_id: int
    reattributed_at: str | None


async def share_mark(conn: Conn, list_name: str) -> ShareMark:
    async with conn.execute("SELECT COUNT(*), MAX(id) FROM snapshots WHERE list = ?", (list_name,)) as cursor:
        row = await cursor.fetchone()
    async with conn.execute("SELECT reattributed_at FROM attribution_state WHERE id = 1") as cursor:
        state = await cursor.fetchone()
    count, last = (row[0], row[1]) if row else (0, None)
    return ShareMark(int(count or 0), int(last or 0), stored_text(state[0]) if state else None)


async def history_bounds(conn: Conn, list_name: str) -> tuple[datetime, datetime] | None:
    """The first and last snapshot times of one list (polled or imported), or None when it has none."""
    found: list[datetime] = []
    for order in ("ASC", "DESC"):
        async with conn.execute(
            f"SELECT taken_at FROM snapshots WHERE list = ? ORDER BY taken_at {order}, id {order} LIMIT 1",
            (list_name,),
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        found.append(from_iso(str(row[0])))
    return found[0], found[1]


@dataclass(frozen=True, slots=True)
class RankDay:
    """An item's best and worst rank on one UTC day, in how many snapshots it was seen, and from where."""

    day: date
    best: int
    worst: int
    snapshots: int
    archive: str | None


@dataclass(frozen=True, slots=True)
class ItemOrigin:
    """An item's latest stored attribution: what the page says about its country."""

    hub_id: str
    country: str
    method: str
    via: str | None
    seen_at: datetime


async def find_item(conn: Conn, list_name: str, hub_id: str) -> tuple[int, str] | None:
    """(row id, id as stored) of one item of one list, matched case-insensitively as the Hub does."""
    async with conn.execute(
        "SELECT id, hub_id FROM items WHERE list = ? AND "
        + ("hub_id = ? COLLATE NOCASE" if conn.dialect == "sqlite" else "lower(hub_id) = lower(?)") + " LIMIT 1",
        (list_name, hub_id),
    ) as cursor:
        row = await cursor.fetchone()
    return (int(row[0]), str(row[1])) if row else None


async def rank_days(conn: Conn, item_id: int) -> list[RankDay]:
    """One item's ranks per UTC day and source, oldest first (every depth a snapshot kept)."""
    async with conn.execute(
        "SELECT substr(s.taken_at, 1, 10) AS day, s.archive, MIN(e.rank), MAX(e.rank), COUNT(*)"
        " FROM entries e JOIN snapshots s ON s.id = e.snapshot_id WHERE e.item_id = ?"
        " GROUP BY day, s.archive ORDER BY day",
        (item_id,),
    ) as cursor:
        rows = await cursor.fetchall()
    return [RankDay(date.fromisoformat(str(day)), int(best), int(worst), int(n), stored_text(archive))
            for day, archive, best, worst, n in rows]


async def item_origin(conn: Conn, item_id: int) -> ItemOrigin | None:
    """The item's attribution in its latest stored snapshot.

    `items.last_seen` names that snapshot's time, so the snapshot is found by the list's time index
    and the entry among its ranks; only if that finds nothing (history rewritten since) are all of
    the item's entries scanned.
    """
    async with conn.execute(
        "SELECT i.hub_id, e.country, e.country_method, e.country_via, s.taken_at FROM items i"
        " JOIN snapshots s ON s.list = i.list AND s.taken_at = i.last_seen"
        " JOIN entries e ON e.snapshot_id = s.id AND e.item_id = i.id WHERE i.id = ? ORDER BY s.id DESC LIMIT 1",
        (item_id,),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        async with conn.execute(
            "SELECT i.hub_id, e.country, e.country_method, e.country_via, s.taken_at FROM entries e"
            " JOIN snapshots s ON s.id = e.snapshot_id JOIN items i ON i.id = e.item_id WHERE e.item_id = ?"
            " ORDER BY s.taken_at DESC, s.id DESC LIMIT 1",
            (item_id,),
        ) as cursor:
            row = await cursor.fetchone()
    if row is None:
        return None
    hub_id, country, method, via, taken = row
    return ItemOrigin(str(hub_id), str(country), str(method), stored_text(via), from_iso(str(taken)))


@dataclass(frozen=True, slots=True)
class SentAlert:
    """An alert that reached at least one channel: its event id (stable), kind, payload and time.

    Which channels, servers or workspaces got it is deliberately not read.
    """

    id: int
    kind: str
    payload: dict[str, Any]
    created_at: datetime


async def sent_alerts(conn: Conn, kinds: Sequence[str] = (), before: int | None = None,
                      limit: int = 200, pruned_before: datetime | None = None) -> list[SentAlert]:
    """Alerts delivered to at least one channel, newest first; `kinds` empty means every kind.

    The outbox forgets sent rows after `[store] keep_outbox`, while events stay: an event older than
    `pruned_before` with no outbox row left was handled and pruned, and counts as sent, so an alert
    does not vanish from the page and the feeds a month later. An event that only one channel asked
    for (its own watch or share rule: `scope` set) is that channel's business; the caller drops those.
    """
    sent = "EXISTS (SELECT 1 FROM outbox o WHERE o.event_id = e.id AND o.status = 'delivered')"
    params: list[Any] = []
    if pruned_before is not None:
        # What a silence held back is stored as an event queued nowhere (bot.poller.fan_out.store_routed): not sent.
        sent = (f"({sent} OR (e.created_at < ? AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.event_id = e.id)"
                " AND NOT EXISTS (SELECT 1 FROM silenced_alerts s WHERE s.event_id = e.id)))")
        params.append(utc_iso(pruned_before))
    where = [sent]
    if kinds:
        where.append(f"e.kind IN ({','.join('?' * len(kinds))})")
        params.extend(kinds)
    if before is not None:
        where.append("e.id < ?")
        params.append(before)
    params.append(limit)
    async with conn.execute(
        f"SELECT e.id, e.kind, e.payload, e.created_at FROM events e WHERE {' AND '.join(where)}"
        " ORDER BY e.id DESC LIMIT ?",
        params,
    ) as cursor:
        rows = await cursor.fetchall()
    return [SentAlert(int(event_id), str(kind), dict(json.loads(payload)), from_iso(str(created)))
            for event_id, kind, payload, created in rows]


async def held_back_alerts(conn: Conn, since: datetime) -> int:
    """How many alerts channel silences held back since `since`: a count only, as the public page says it
    (which channel, server or workspace silenced what is that channel's business and is not read)."""
    async with conn.execute(
        "SELECT COUNT(DISTINCT event_id) FROM silenced_alerts WHERE created_at >= ?", (utc_iso(since),)
    ) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else 0
