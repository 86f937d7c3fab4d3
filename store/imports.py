"""Snapshots imported from public archives, saved beside the bot's own polls (`python -m bot import`).

What differs from a poll's `save_snapshot`, and why:

- `snapshots.archive` names the archive: such a snapshot is never `latest_snapshots` (never what the
  next poll is compared with) and never thinned (`thin_history` reads polled snapshots only).
- One imported snapshot per (list, moment) (the unique index `snapshots_archived`): a moment already
  stored is skipped and counted, so importing twice adds nothing.
- Items' memory only widens: an import brings OLD moments, so `first_*` keep the earliest and `last_*`
  the latest of what is stored and what is imported (the poll's upsert takes the new row's `last_*`,
  which here would move an item's memory backwards and change what the next poll calls a re-entry).
  SQLite has scalar min()/max() (NULL if either is NULL), PostgreSQL LEAST/GREATEST (NULLs ignored):
  COALESCE around them gives both the same meaning.
- The caller holds ONE transaction for the whole import: a failure anywhere rolls all of it back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain.snapshot import Snapshot
from store.db import Conn, utc_iso
from store.snapshots import item_row_ids, top_counts

IMPORT_SOURCE = "archive"  # `snapshots.source` of every imported snapshot


@dataclass(frozen=True, slots=True)
class Saved:
    imported: int
    rows: int
    skipped: int  # moments this list already holds from an archive


def _upsert(conn: Conn) -> str:
    least, greatest = ("min", "max") if conn.dialect == "sqlite" else ("LEAST", "GREATEST")

    def earliest(column: str) -> str:
        return f"COALESCE({least}(items.{column}, excluded.{column}), items.{column}, excluded.{column})"

    def latest(column: str) -> str:
        return f"COALESCE({greatest}(items.{column}, excluded.{column}), items.{column}, excluded.{column})"

    return f"""
INSERT INTO items (list, hub_id, first_seen, last_seen, best_rank, best_rank_at, first_in_top, last_in_top,
                   last_led, top_polls, pipeline_tag, library_name, created_at)
VALUES (:list, :id, :first, :last, :best, :best_at, :first_top, :last_top, :led, :in_top, :pipeline_tag,
        :library_name, :created_at)
ON CONFLICT (list, hub_id) DO UPDATE SET
    first_seen   = {earliest("first_seen")},
    last_seen    = {latest("last_seen")},
    best_rank_at = CASE WHEN excluded.best_rank < items.best_rank THEN excluded.best_rank_at
                        WHEN excluded.best_rank = items.best_rank THEN {earliest("best_rank_at")}
                        ELSE items.best_rank_at END,
    best_rank    = {least}(items.best_rank, excluded.best_rank),
    first_in_top = {earliest("first_in_top")},
    last_in_top  = {latest("last_in_top")},
    last_led     = {latest("last_led")},
    top_polls    = items.top_polls + excluded.top_polls,
    pipeline_tag = COALESCE(items.pipeline_tag, excluded.pipeline_tag),
    library_name = COALESCE(items.library_name, excluded.library_name),
    created_at   = COALESCE(items.created_at, excluded.created_at)
"""


async def archived_moments(conn: Conn, list_name: str, since: datetime, until: datetime) -> set[str]:
    """The moments in [since, until] this list already holds from any archive (as stored text)."""
    async with conn.execute(
        "SELECT taken_at FROM snapshots WHERE list = ? AND archive IS NOT NULL AND taken_at >= ? AND taken_at <= ?",
        (list_name, utc_iso(since), utc_iso(until)),
    ) as cursor:
        return {str(taken) for (taken,) in await cursor.fetchall()}


def _memory(snapshots: Sequence[tuple[str, Snapshot]], top_n: int, list_name: str) -> list[dict[str, object]]:
    """What the items learn from these snapshots (oldest first): one row per item, earliest and latest."""
    rows: dict[str, dict[str, object]] = {}
    for taken, snapshot in snapshots:
        for entry in snapshot.entries:
            in_top = entry.rank <= top_n
            row = rows.get(entry.id)
            if row is None:
                rows[entry.id] = {
                    "list": list_name, "id": entry.id, "first": taken, "last": taken, "best": entry.rank,
                    "best_at": taken, "first_top": taken if in_top else None, "last_top": taken if in_top else None,
                    "led": taken if entry.rank == 1 else None, "in_top": int(in_top),
                    "pipeline_tag": entry.pipeline_tag, "library_name": entry.library_name,
                    "created_at": utc_iso(entry.created_at) if entry.created_at else None,
                }
                continue
            row["last"] = taken
            if entry.rank < int(str(row["best"])):
                row["best"], row["best_at"] = entry.rank, taken
            if in_top:
                row["first_top"] = row["first_top"] or taken
                row["last_top"] = taken
                row["in_top"] = int(str(row["in_top"])) + 1
            if entry.rank == 1:
                row["led"] = taken
            row["pipeline_tag"] = entry.pipeline_tag or row["pipeline_tag"]  # the latest known
            row["library_name"] = entry.library_name or row["library_name"]
            if entry.created_at and not row["created_at"]:
                row["created_at"] = utc_iso(entry.created_at)
    return list(rows.values())


async def save_imported(
    conn: Conn, list_name: str, snapshots: Sequence[Snapshot], top_n: int, archive: str,
    progress: Callable[[int], None] | None = None, chunk: int = 500,
) -> Saved:
    """Store attributed snapshots of one list from one archive; call inside the import's ONE transaction.

    Snapshots at a moment this list already holds from an archive are skipped (counted). The rest
    are written a chunk at a time (snapshots, items' memory, entries), `progress` told after each.
    """
    ordered = sorted(snapshots, key=lambda snapshot: snapshot.taken_at)
    if not ordered:
        return Saved(0, 0, 0)
    present = await archived_moments(conn, list_name, ordered[0].taken_at, ordered[-1].taken_at)
    fresh: list[tuple[str, Snapshot]] = []
    for snapshot in ordered:
        taken = utc_iso(snapshot.taken_at)
        if taken not in present:
            present.add(taken)
            fresh.append((taken, snapshot))
    rows = 0
    for start in range(0, len(fresh), chunk):
        part = fresh[start:start + chunk]
        await conn.executemany(
            "INSERT INTO snapshots (taken_at, top_n, depth, source, top_counts, list, archive)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(taken, top_n, len(snapshot.entries), IMPORT_SOURCE, json.dumps(top_counts(snapshot.entries, top_n)),
              list_name, archive) for taken, snapshot in part],
        )
        marks = ",".join("?" * len(part))
        async with conn.execute(
            f"SELECT id, taken_at FROM snapshots WHERE list = ? AND archive IS NOT NULL AND taken_at IN ({marks})",
            [list_name, *(taken for taken, _ in part)],
        ) as cursor:
            snapshot_ids = {str(taken): int(sid) for sid, taken in await cursor.fetchall()}
        memory = _memory(part, top_n, list_name)
        await conn.executemany(_upsert(conn), memory)
        hub_ids = [str(row["id"]) for row in memory]
        item_ids: dict[str, int] = {}
        for at in range(0, len(hub_ids), 1000):  # within either store's limit of bound parameters
            item_ids.update(await item_row_ids(conn, list_name, hub_ids[at:at + 1000]))
        entries = [
            (snapshot_ids[taken], entry.rank, item_ids[entry.id], entry.likes, entry.downloads, entry.trending_score,
             entry.attribution.country, entry.attribution.method, entry.attribution.via)
            for taken, snapshot in part for entry in snapshot.entries
        ]
        await conn.executemany(
            "INSERT INTO entries (snapshot_id, rank, item_id, likes, downloads, trending_score, country,"
            " country_method, country_via) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            entries,
        )
        rows += len(entries)
        if progress:
            progress(len(part))
    return Saved(len(fresh), rows, len(ordered) - len(fresh))
