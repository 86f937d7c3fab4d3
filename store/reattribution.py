"""Rewriting stored entries' countries when the attribution data changes ("history follows the table").

Events and outbox rows are not touched: alerts already sent stay as sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.snapshot import Attribution
from store.db import utc_iso


async def stored_model_tags(conn: aiosqlite.Connection) -> dict[str, list[str]]:
    """Every model that has entries, with its latest stored tags."""
    async with conn.execute(
        "SELECT hub_id, tags FROM models WHERE id IN (SELECT DISTINCT model_id FROM entries)"
    ) as cursor:
        rows = await cursor.fetchall()
    found: dict[str, list[str]] = {}
    for hub_id, tags in rows:
        try:
            parsed = json.loads(tags)
        except ValueError:
            parsed = []
        found[str(hub_id)] = [str(tag) for tag in parsed] if isinstance(parsed, list) else []
    return found

@dataclass(frozen=True, slots=True)
class Rewritten:
    entries: int  # stored entries whose attribution changed
    snapshot_ids: frozenset[int]  # the snapshots they belong to: whatever summarises them must be refreshed


async def reattribute_entries(conn: aiosqlite.Connection, decided: Mapping[str, Attribution]) -> Rewritten:
    """Set every stored entry of each model to its newly decided attribution (the one writer of history's countries).

    One statement per model, touching only rows that differ, so an unchanged table costs reads only.
    Anything derived from entries' countries per snapshot must be refreshed for `snapshot_ids`, here.
    """
    snapshot_ids: set[int] = set()
    entries = 0
    for hub_id, attribution in decided.items():
        async with conn.execute(
            "UPDATE entries SET country = ?, country_method = ?, country_via = ?"
            " WHERE model_id = (SELECT id FROM models WHERE hub_id = ?)"
            " AND (country IS NOT ? OR country_method IS NOT ? OR country_via IS NOT ?) RETURNING snapshot_id",
            (attribution.country, attribution.method, attribution.via, hub_id,
             attribution.country, attribution.method, attribution.via),
        ) as cursor:
            rows = list(await cursor.fetchall())
        entries += len(rows)
        snapshot_ids.update(int(snapshot_id) for (snapshot_id,) in rows)
    return Rewritten(entries, frozenset(snapshot_ids))


async def attribution_version(conn: aiosqlite.Connection) -> str | None:
    async with conn.execute("SELECT version FROM attribution_state WHERE id = 1") as cursor:
        row = await cursor.fetchone()
    return str(row[0]) if row and row[0] is not None else None

async def set_attribution_version(conn: aiosqlite.Connection, version: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE attribution_state SET version = ?, reattributed_at = ? WHERE id = 1", (version, utc_iso(now))
    )
