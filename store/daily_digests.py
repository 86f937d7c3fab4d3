"""Daily digests already created (`daily_digests`, issue 20): one row per day, beside the weekly `digests`.

The row is written in the same transaction as the digest's event and outbox rows, so a scheduler
firing twice, a restart's catch-up or a second process racing it never post one day twice: the
second insert finds the day taken and its caller rolls its own event back.
"""

from __future__ import annotations

from datetime import datetime

from store.db import Conn, from_iso, utc_iso


async def daily_digest_created(conn: Conn, day: str) -> datetime | None:
    """When `day`'s digest was created ('2026-05-14'), or None when it has none yet."""
    async with conn.execute("SELECT created_at FROM daily_digests WHERE day = ?", (day,)) as cursor:
        row = await cursor.fetchone()
    return from_iso(row[0]) if row else None


async def record_daily_digest(conn: Conn, day: str, event_id: int, trigger: str, now: datetime) -> bool:
    """False when that day already has a digest: the caller's transaction must then be rolled back."""
    cursor = await conn.execute(
        "INSERT INTO daily_digests (day, event_id, trigger, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (day, event_id, trigger, utc_iso(now)),
    )
    return cursor.rowcount == 1
