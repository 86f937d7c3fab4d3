"""Rewriting stored entries' countries when the attribution data changes ("history follows the table").

Events and outbox rows are not touched: alerts already sent stay as sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.domain.snapshot import Attribution
from store.db import Conn, stored_tags, utc_iso
from store.snapshots import EntryTable, recount_snapshots

# How an entry row meets its decision: a model by its row id; an item of the other lists by its id and its list
# (read per row from its snapshot, so the decision is found by its primary key as the table is walked once).
_MATCH = {"entries": "entries.model_id = d.key",
          "list_entries": "list_entries.item_id = d.key"
                          " AND d.list = (SELECT s.list FROM snapshots AS s WHERE s.id = list_entries.snapshot_id)"}


async def stored_model_tags(conn: Conn) -> dict[str, list[str]]:
    """Every model that has entries, with its latest stored tags."""
    async with conn.execute(
        "SELECT hub_id, tags FROM models WHERE id IN (SELECT DISTINCT model_id FROM entries)"
    ) as cursor:
        rows = await cursor.fetchall()
    return {str(hub_id): stored_tags(tags) for hub_id, tags in rows}


@dataclass(frozen=True, slots=True)
class Rewritten:
    entries: int  # stored entries whose attribution changed
    snapshot_ids: frozenset[int]  # the snapshots they belong to: whatever summarises them must be refreshed


async def reattribute_entries(conn: Conn, decided: Mapping[str, Attribution]) -> Rewritten:
    """Set every stored entry of each model to its newly decided attribution (the one writer of history's countries)."""
    await _decisions_table(conn, "entries")
    await conn.executemany(
        "INSERT INTO decided_entries (key, country, method, via)"
        " SELECT id, ?, ?, ? FROM models WHERE hub_id = ?" + _REPLACE.format(key="key"),
        [(a.country, a.method, a.via, hub_id) for hub_id, a in decided.items()],
    )
    return await _rewrite(conn, "entries")


ListItem = tuple[str, str]  # (list name, item id): a model and a dataset may share an id, never a list


async def reattribute_list_entries(conn: Conn, decided: Mapping[ListItem, Attribution]) -> Rewritten:
    """The same for the other lists' entries (`list_entries`), keyed by (list, item id).

    Not by the id alone: a model `org/x` and a dataset `org/x` are different items with different
    tags, so each gets its own decision. A list holds one kind of item, so its name stands for the kind
    (and still does for a list since removed from the config).
    """
    await _decisions_table(conn, "list_entries")
    await conn.executemany(
        "INSERT INTO decided_list_entries (list, key, country, method, via) VALUES (?, ?, ?, ?, ?)"
        + _REPLACE.format(key="list, key"),
        [(list_name, item_id, a.country, a.method, a.via) for (list_name, item_id), a in decided.items()],
    )
    return await _rewrite(conn, "list_entries")


_REPLACE = (" ON CONFLICT ({key}) DO UPDATE SET country = excluded.country, method = excluded.method,"
            " via = excluded.via")
_DECISION_KEY = {"entries": ("key BIGINT", "key"), "list_entries": ("list TEXT, key TEXT", "list, key")}


async def _decisions_table(conn: Conn, table: EntryTable) -> None:
    """A temporary table of this connection (SQLite and PostgreSQL alike) holding the decisions to apply."""
    await conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS decided_{table}"
        f" ({_DECISION_KEY[table][0]}, country TEXT NOT NULL, method TEXT NOT NULL, via TEXT,"
        f" PRIMARY KEY ({_DECISION_KEY[table][1]}))"
    )
    await conn.execute(f"DELETE FROM decided_{table}")


async def _rewrite(conn: Conn, table: EntryTable) -> Rewritten:
    """Rewrite `table`'s countries from its decisions table in ONE statement touching only rows that differ.

    No index leads from a model to its entries (it would cost a fifth of the file), so one pass beats
    one per model. The per-snapshot country counts of every snapshot touched are recomputed in the same
    transaction, so shares and charts read the corrected story.
    """
    async with conn.execute(
        f"UPDATE {table} SET country = d.country, country_method = d.method, country_via = d.via"
        f" FROM decided_{table} AS d WHERE {_MATCH[table]}"
        f" AND ({table}.country IS DISTINCT FROM d.country OR {table}.country_method IS DISTINCT FROM d.method"
        f" OR {table}.country_via IS DISTINCT FROM d.via) RETURNING {table}.snapshot_id"
    ) as cursor:
        rows = list(await cursor.fetchall())
    await conn.execute(f"DELETE FROM decided_{table}")
    snapshot_ids = frozenset(int(snapshot_id) for (snapshot_id,) in rows)
    await recount_snapshots(conn, snapshot_ids, table)
    return Rewritten(len(rows), snapshot_ids)


async def attribution_version(conn: Conn) -> str | None:
    async with conn.execute("SELECT version FROM attribution_state WHERE id = 1") as cursor:
        row = await cursor.fetchone()
    return str(row[0]) if row and row[0] is not None else None


async def set_attribution_version(conn: Conn, version: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE attribution_state SET version = ?, reattributed_at = ? WHERE id = 1", (version, utc_iso(now))
    )
