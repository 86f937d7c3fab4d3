"""Rewriting stored entries' countries when the attribution data changes ("history follows the table").

Events and outbox rows are not touched: alerts already sent stay as sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.domain.snapshot import Attribution
from store.db import Conn, stored_tags, utc_iso
from store.snapshots import recount_snapshots


@dataclass(frozen=True, slots=True)
class StoredItem:
    """One list's item that has entries, with its latest stored tags: what re-attribution decides for."""

    id: int  # `items.id`: the key decisions are applied by, so the same id on two lists gets its own
    list_name: str
    hub_id: str
    tags: list[str]


async def stored_items(conn: Conn) -> list[StoredItem]:
    """Every item of every list that has entries."""
    async with conn.execute(
        "SELECT id, list, hub_id, tags FROM items WHERE id IN (SELECT DISTINCT item_id FROM entries) ORDER BY id"
    ) as cursor:
        rows = await cursor.fetchall()
    return [StoredItem(int(row_id), str(list_name), str(hub_id), stored_tags(tags))
            for row_id, list_name, hub_id, tags in rows]


@dataclass(frozen=True, slots=True)
class Rewritten:
    entries: int  # stored entries whose attribution changed
    snapshot_ids: frozenset[int]  # the snapshots they belong to: whatever summarises them must be refreshed


async def reattribute_entries(conn: Conn, decided: Mapping[int, Attribution]) -> Rewritten:
    """Set every stored entry of each item (by `items.id`) to its newly decided attribution: the one writer
    of history's countries, for every list.

    The decisions go into a temporary table of this connection (SQLite and PostgreSQL alike), then ONE
    statement rewrites only the entries that differ: no index leads from an item to its entries (it would
    cost a fifth of the file), so one pass beats one per item. The per-snapshot country counts of every
    snapshot touched are recomputed in the same transaction, so shares and charts read the corrected story.
    """
    await conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS decided_items"
        " (item_id BIGINT PRIMARY KEY, country TEXT NOT NULL, method TEXT NOT NULL, via TEXT)"
    )
    await conn.execute("DELETE FROM decided_items")
    await conn.executemany(
        "INSERT INTO decided_items (item_id, country, method, via) VALUES (?, ?, ?, ?)",
        [(item_id, a.country, a.method, a.via) for item_id, a in decided.items()],
    )
    async with conn.execute(
        "UPDATE entries SET country = d.country, country_method = d.method, country_via = d.via"
        " FROM decided_items AS d WHERE entries.item_id = d.item_id"
        " AND (entries.country IS DISTINCT FROM d.country OR entries.country_method IS DISTINCT FROM d.method"
        " OR entries.country_via IS DISTINCT FROM d.via) RETURNING entries.snapshot_id"
    ) as cursor:
        rows = list(await cursor.fetchall())
    await conn.execute("DELETE FROM decided_items")
    snapshot_ids = frozenset(int(snapshot_id) for (snapshot_id,) in rows)
    await recount_snapshots(conn, snapshot_ids)
    return Rewritten(len(rows), snapshot_ids)


async def attribution_version(conn: Conn) -> str | None:
    async with conn.execute("SELECT version FROM attribution_state WHERE id = 1") as cursor:
        row = await cursor.fetchone()
    return str(row[0]) if row and row[0] is not None else None


async def set_attribution_version(conn: Conn, version: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE attribution_state SET version = ?, reattributed_at = ? WHERE id = 1", (version, utc_iso(now))
    )
