"""A lease row so that only one process polls and delivers from one database.

A holder renews before expiry; a dead holder's lease is taken over when it
expires, or at once when it was a process on this host that no longer exists.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from store.db import Conn, Database, from_iso, utc_iso


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    holder: str
    host: str
    pid: int
    expires_at: datetime


def process_alive(pid: int) -> bool:
    """Whether a process of this host with that pid exists (what a lease or a claim of this host names)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def current_holder(conn: Conn, name: str) -> LeaseHolder | None:
    """Who holds the lease now (it may have expired), or None when nobody ever took it."""
    async with conn.execute("SELECT holder, host, pid, expires_at FROM lease WHERE name = ?", (name,)) as cursor:
        row = await cursor.fetchone()
    return LeaseHolder(str(row[0]), str(row[1]), int(row[2]), from_iso(str(row[3]))) if row else None


async def try_acquire(
    db: Database, name: str, holder: str, host: str, pid: int, ttl: timedelta, now: datetime
) -> LeaseHolder | None:
    """Take or renew the lease. Returns None on success, else who holds it."""
    async with db.transaction() as conn:
        current = await current_holder(conn, name)
        if current is not None:
            ours = current.holder == holder
            expired = current.expires_at <= now
            orphaned = current.host == host and not process_alive(current.pid)
            if not (ours or expired or orphaned):
                return current
        await conn.execute(
            "INSERT INTO lease (name, holder, host, pid, expires_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, host = excluded.host,"
            " pid = excluded.pid, expires_at = excluded.expires_at",
            (name, holder, host, pid, utc_iso(now + ttl)),
        )
    return None


async def release(db: Database, name: str, holder: str) -> None:
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM lease WHERE name = ? AND holder = ?", (name, holder))
