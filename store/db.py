"""The SQLite connection: WAL, foreign keys, numbered migrations at start-up.

Migrations are `store/migrations/NNNN_name.sql`, each applied in its own
transaction with `PRAGMA user_version` recording the last one applied.

Faults of the file itself become one `StoreError` line, never a raw sqlite3
traceback: a damaged file, a full disk (`StoreTransient`: the transaction
rolled back, try again later), or a file deleted or replaced under a running
process (`StoreGone`: checked before every transaction, because writing on
into an unlinked inode loses everything and lets a second process start).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import aiosqlite

from bot.log import get_logger

log = get_logger(__name__)
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class StoreError(Exception):
    """The database cannot be used (corrupt, locked, newer than this code)."""


class StoreTransient(StoreError):
    """Nothing was written (disk full, database locked); the same work may succeed later."""


class StoreGone(StoreError):
    """The database file was deleted or replaced while this process had it open."""


def store_error(path: Path, exc: sqlite3.Error) -> StoreError:
    """A sqlite3 fault of the file (not of a statement) → one line saying what to do."""
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if "full" in lowered:
        return StoreTransient(f"cannot write {path}: the disk is full ({text}); nothing was written")
    if "locked" in lowered or "busy" in lowered:
        return StoreTransient(f"cannot write {path}: the database is locked by another program ({text})")
    if "malformed" in lowered or "not a database" in lowered or type(exc) is sqlite3.DatabaseError:
        return StoreError(f"database {path} is damaged ({text}): restore it from a backup or move it aside")
    return StoreError(f"cannot use database {path}: {text}")


def is_file_fault(exc: BaseException) -> bool:
    """Faults of the file or the disk; constraint and programming errors stay what they are."""
    return type(exc) in (sqlite3.DatabaseError, sqlite3.OperationalError)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_dev, found.st_ino


def utc_iso(moment: datetime) -> str:
    """One text form for every stored time, so string order is time order."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every stored time must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def stored_int(value: object) -> int | None:
    """A count read back from the store; garbage written by older versions (likes = 'lots') reads as unknown."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def stored_float(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def stored_text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def stored_tags(value: object) -> list[str]:
    """A JSON list of tags read back; anything else (older garbage) reads as no tags."""
    try:
        tags = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return []
    return [tag for tag in tags if isinstance(tag, str)] if isinstance(tags, list) else []


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
        self.identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file we opened

    def check_file(self) -> None:
        """Raise StoreGone if the path no longer names the file this connection writes to."""
        if self.identity is None:
            return
        now = _identity(self.path)
        if now is None:
            raise StoreGone(f"database {self.path} was deleted while trendwatch was running: stopping"
                            " rather than writing into a file nobody can see (restore it, then restart)")
        if now != self.identity:
            raise StoreGone(f"database {self.path} was replaced by another file while trendwatch was running:"
                            " stopping; restart to use the new file")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE … COMMIT: all of it lands, or none of it.

        One connection is shared by every task (poller, delivery, lease, slash
        commands), so transactions take turns: without the lock one task's
        statements would land inside another's transaction.
        """
        async with self._writer:
            self.check_file()
            try:
                await self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise (store_error(self.path, exc) if is_file_fault(exc) else exc) from exc
            try:
                yield self.conn
            except BaseException as exc:
                await self._rollback()
                if isinstance(exc, sqlite3.Error) and is_file_fault(exc):
                    raise store_error(self.path, exc) from exc
                raise
            try:
                await self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                await self._rollback()
                raise (store_error(self.path, exc) if is_file_fault(exc) else exc) from exc

    async def _rollback(self) -> None:
        # SQLite may already have rolled back on its own (SQLITE_FULL, I/O errors); then ROLLBACK itself fails.
        if self.conn.in_transaction:
            with suppress(sqlite3.Error):
                await self.conn.execute("ROLLBACK")

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
    """Open (creating the file if needed, never its folder) and migrate. Raises StoreError with a readable reason.

    A missing folder is a mistake in `[store] path` (or a volume not mounted):
    creating it would quietly start a new, empty history somewhere else.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise StoreError(f"cannot open database {path}: folder {path.parent} does not exist"
                         " (create it, mount the volume, or fix [store] path)")
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
    except sqlite3.Error as exc:
        await conn.close()
        raise store_error(path, exc) from exc
    except BaseException:
        await conn.close()
        raise
    db.identity = _identity(path)
    return db
