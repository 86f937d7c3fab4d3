"""Watches channels added with `/alerts watch` (an author or a model, on one list)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from store.db import Conn, utc_iso


@dataclass(frozen=True, slots=True)
class StoredWatch:
    destination_id: int
    target_kind: str  # 'author' | 'model'
    target: str
    list: str


async def all_watches(conn: Conn) -> list[StoredWatch]:
    """Watches of active destinations, oldest first."""
    async with conn.execute(
        "SELECT w.destination_id, w.target_kind, w.target, w.list FROM channel_watches w"
        " JOIN destinations d ON d.id = w.destination_id WHERE d.active = 1 ORDER BY w.id"
    ) as cursor:
        return [StoredWatch(int(d), str(k), str(t), str(li)) for d, k, t, li in await cursor.fetchall()]


async def watches_of(conn: Conn, destination_id: int) -> list[StoredWatch]:
    return [w for w in await all_watches(conn) if w.destination_id == destination_id]


async def add_watch(conn: Conn, destination_id: int, target_kind: str, target: str, list_name: str,
                    now: datetime) -> bool:
    """False when the channel already watches it."""
    cursor = await conn.execute(
        "INSERT INTO channel_watches (destination_id, target_kind, target, list, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (destination_id, target_kind, target, list_name, utc_iso(now)),
    )
    return cursor.rowcount == 1


async def remove_watch(conn: Conn, destination_id: int, target: str, list_name: str | None) -> int:
    """Remove the channel's watches of `target` (on one list, or on all); how many were removed."""
    if list_name is None:
        cursor = await conn.execute(
            "DELETE FROM channel_watches WHERE destination_id = ? AND target = ?", (destination_id, target))
    else:
        cursor = await conn.execute(
            "DELETE FROM channel_watches WHERE destination_id = ? AND target = ? AND list = ?",
            (destination_id, target, list_name))
    return cursor.rowcount
