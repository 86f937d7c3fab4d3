"""The SQLite connection: WAL, foreign keys, numbered migrations at start-up.

Migrations are `store/migrations/NNNN_name.sql`, each applied in its own
transaction with `PRAGMA user_version` recording the last one applied.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import aiosqlite

from bot.log import get_logger

log = get_logger(__name__)
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class StoreError(Exception):
    """The database cannot be used (corrupt, locked, newer than this code)."""


def utc_iso(moment: datetime) -> str:
    """One text form for every stored time, so string order is time order."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every stored time must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def migrations() -> list[tuple[int, str, str]]:
    found = []
    for item in resources.files("store.migrations").iterdir():
        if match := _MIGRATION_NAME.match(item.name):
            found.append((int(match.group(1)), item.name, item.read_text(encoding="utf-8")))
    found.sort()
    numbers = [number for number, _, _ in found]
    if numbers != list(range(1, len(found) + 1)):
        raise StoreError(f"migration numbers must run 1..n without gaps, found {numbers}")
    return found


class Database:
    """An aiosqlite connection in autocommit mode with explicit transactions."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._writer = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE … COMMIT: all of it lands, or none of it.

        One connection is shared by every task (poller, delivery, lease, slash
        commands), so transactions take turns: without the lock one task's
        statements would land inside another's transaction.
        """
        async with self._writer:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            await self.conn.execute("COMMIT")

    async def close(self) -> None:
        await self.conn.close()


async def _migrate(db: Database) -> None:
    async with db.conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    current = int(row[0]) if row else 0
    known = migrations()
    if current > len(known):
        raise StoreError(
            f"{db.path} is at schema version {current}, newer than this code ({len(known)}): upgrade trendwatch"
        )
    for number, name, sql in known[current:]:
        log.info("applying migration %s", name)
        try:
            await db.conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
        except Exception:
            if db.conn.in_transaction:
                await db.conn.execute("ROLLBACK")
            raise


async def open_database(path: Path) -> Database:
    """Open (creating if needed) and migrate. Raises StoreError with a readable reason."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = await aiosqlite.connect(path, isolation_level=None)
    except Exception as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from exc
    db = Database(conn, path)
    try:
        await conn.execute("PRAGMA busy_timeout = 10000")
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute("PRAGMA foreign_keys = ON")
        await _migrate(db)
    except aiosqlite.DatabaseError as exc:
        await conn.close()
        raise StoreError(f"cannot use database {path}: {exc}") from exc
    except BaseException:
        await conn.close()
        raise
    return db
