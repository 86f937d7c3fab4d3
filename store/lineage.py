"""The lineage cache: what the Hub told us about a model's bases, with the date it told us."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from store.db import Conn, from_iso, utc_iso

Bases = list[tuple[str, str | None]]


async def cached_lineage(
    conn: Conn, hub_ids: Sequence[str], fresh_since: datetime | None = None
) -> dict[str, Bases]:
    """Cached bases of `hub_ids` looked up at or after `fresh_since` (all of them when None)."""
    found: dict[str, Bases] = {}
    wanted = list(dict.fromkeys(hub_ids))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        marks = ",".join("?" * len(chunk))
        async with conn.execute(
            f"SELECT hub_id, bases, looked_up_at FROM lineage WHERE hub_id IN ({marks})", chunk
        ) as cursor:
            rows = await cursor.fetchall()
        by_lower = {model_id.lower(): model_id for model_id in chunk}
        for hub_id, bases, looked_up_at in rows:
            if fresh_since is not None and from_iso(looked_up_at) < fresh_since:
                continue
            found[by_lower.get(str(hub_id).lower(), str(hub_id))] = _parse(bases)
    return found


async def all_lineage(conn: Conn) -> dict[str, Bases]:
    async with conn.execute("SELECT hub_id, bases FROM lineage") as cursor:
        return {str(hub_id): _parse(bases) for hub_id, bases in await cursor.fetchall()}


async def remember_lineage(conn: Conn, learned: Mapping[str, Bases], now: datetime) -> None:
    await conn.executemany(
        "INSERT INTO lineage (hub_id, bases, looked_up_at) VALUES (?, ?, ?)"
        " ON CONFLICT (hub_id) DO UPDATE SET bases = excluded.bases, looked_up_at = excluded.looked_up_at",
        [(hub_id, json.dumps([list(base) for base in bases]), utc_iso(now)) for hub_id, bases in learned.items()],
    )


def _parse(text: str) -> Bases:
    """Stored rows were written by `remember_lineage`; anything else reads as 'no bases known'."""
    try:
        data = json.loads(text)
    except ValueError:
        return []
    if not isinstance(data, list):
        return []
    return [(str(item[0]), str(item[1]) if item[1] else None) for item in data
            if isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)]
