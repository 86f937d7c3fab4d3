"""The store's one connection: SQLite (a file, the default) or PostgreSQL (a server), same statements, same rules.

Everything in `store/` and the bot talks to a `Conn`: `execute`, `executemany`,
`transaction`. SQLAlchemy Core's async engine (over aiosqlite and asyncpg) does
the parts that differ by driver (binding parameters, connecting, URLs, error
classes), so statements are written once in the SQL both dialects share; the
few that cannot be (search, JSON aggregation) ask `conn.dialect`.

Statements keep SQLite's `?` placeholders or `:name` ones: `?` are numbered
into SQLAlchemy binds (`:p1`, `:p2`…), which SQLAlchemy then renders in each
driver's own parameter style.

Migrations are numbered files, one folder per dialect (`store/migrations/`
for SQLite, `store/migrations/postgresql/` for PostgreSQL), the same number
meaning the same change; each is applied in its own transaction at start.

One writer at a time on both: SQLite's `BEGIN IMMEDIATE`, and on PostgreSQL a
transaction-scoped advisory lock taken first in every write transaction, so
two workers (two hosts) see the same serial order SQLite gives two processes.

Faults of the store itself become one `StoreError` line, never a driver
traceback: a damaged file, a full disk (`StoreTransient`: the transaction
rolled back, try again later), a PostgreSQL server that went away
(`StoreTransient`, and the next transaction reconnects), or a SQLite file
deleted or replaced under a running process (`StoreGone`: checked before
every transaction, because writing on into an unlinked inode loses everything
and lets a second process start).
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Generator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Self

import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.log import get_logger

log = get_logger(__name__)
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

Dialect = Literal["sqlite", "postgresql"]
Row = tuple[Any, ...]
Params = Sequence[Any] | Mapping[str, Any]

# Any constant works; every trendwatch process on one PostgreSQL database must use the same one.
WRITER_LOCK_KEY = 0x7472656E64  # "trend"
# SQLSTATE classes of a server that is (for now) unable, not of a wrong statement: disk full, out of
# memory or connections, shutting down, serialization failures.
_PG_TRANSIENT = ("53", "57", "08", "40")


class StoreError(Exception):
    """The database cannot be used (corrupt, locked, newer than this code)."""


class StoreTransient(StoreError):
    """Nothing was written (disk full, database locked, server unreachable); the same work may succeed later."""


class StoreGone(StoreError):
    """The database file was deleted or replaced while this process had it open."""


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """Where the store lives: a SQLite file or a PostgreSQL URL. `where` is safe to print (no password)."""

    url: sa.URL
    path: Path | None = None

    @property
    def dialect(self) -> Dialect:
        return "sqlite" if self.path is not None else "postgresql"

    @property
    def where(self) -> str:
        """How error lines name the store: the file's path, or the server and database."""
        if self.path is not None:
            return str(self.path)
        return f"PostgreSQL database {self.url.database} on {self.url.host}:{self.url.port or 5432}"

    @property
    def describe(self) -> str:
        """How the log and `check-config` name the store: the whole URL, its password masked."""
        if self.path is not None:
            return f"SQLite file {self.path}"
        return f"PostgreSQL {self.url.set(drivername='postgresql').render_as_string(hide_password=True)}"

    @classmethod
    def of(cls, target: Path | str | StoreLocation) -> StoreLocation:
        if isinstance(target, StoreLocation):
            return target
        if isinstance(target, Path):
            return cls(sa.URL.create("sqlite+aiosqlite", database=str(target)), target)
        return cls(postgres_url(target))


def postgres_url(text: str) -> sa.URL:
    """`postgresql://…` or Heroku's `postgres://…` → the asyncpg URL.

    A ValueError names what is wrong, never the URL itself (it may hold a password).
    """
    scheme, sep, rest = text.strip().partition("://")
    if not sep or scheme.lower() not in ("postgres", "postgresql", "postgresql+asyncpg"):
        raise ValueError("must start with postgresql:// or postgres:// (SQLite is [store] path)")
    try:
        url = sa.make_url(f"postgresql+asyncpg://{rest}")
    except ArgumentError as exc:
        raise ValueError("is not a URL SQLAlchemy can read") from exc
    if not url.host and not url.query.get("host"):
        raise ValueError("names no host")
    if not url.database:
        raise ValueError("names no database (…/dbname at the end)")
    if "sslmode" in url.query:  # libpq's spelling (Heroku adds it); asyncpg calls it ssl
        query = dict(url.query)
        query["ssl"] = query.pop("sslmode")
        url = url.set(query=query)
    return url


def store_error(where: str, exc: BaseException) -> StoreError:
    """A driver fault of the store (not of a statement) → one line saying what to do."""
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = (str(orig) or type(orig).__name__).splitlines()[0]
    lowered = text.lower()
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return StoreTransient(f"lost the connection to {where} ({text}); nothing was written, reconnecting")
    sqlstate = str(getattr(orig, "sqlstate", "") or getattr(orig, "pgcode", "") or "")
    if sqlstate[:2] in _PG_TRANSIENT:
        return StoreTransient(f"cannot write {where} now ({text}); nothing was written")
    if isinstance(orig, OSError | ConnectionError | TimeoutError):
        return StoreTransient(f"cannot reach {where} ({text}); nothing was written")
    if "full" in lowered:
        return StoreTransient(f"cannot write {where}: the disk is full ({text}); nothing was written")
    if "locked" in lowered or "busy" in lowered:
        return StoreTransient(f"cannot write {where}: the database is locked by another program ({text})")
    if "malformed" in lowered or "not a database" in lowered or type(orig) is sqlite3.DatabaseError:
        return StoreError(f"database {where} is damaged ({text}): restore it from a backup or move it aside")
    return StoreError(f"cannot use database {where}: {text}")


def is_store_fault(exc: BaseException) -> bool:
    """Faults of the file, the disk or the server; constraint and programming errors stay what they are."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        orig = exc.orig
        if type(orig) in (sqlite3.DatabaseError, sqlite3.OperationalError):
            return True
        sqlstate = str(getattr(orig, "sqlstate", "") or "")
        return sqlstate[:2] in _PG_TRANSIENT or isinstance(orig, OSError)
    return isinstance(exc, OSError | ConnectionError | TimeoutError)


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


def migrations(dialect: Dialect = "sqlite") -> list[tuple[int, str, str]]:
    package = "store.migrations" if dialect == "sqlite" else "store.migrations.postgresql"
    found = []
    for item in resources.files(package).iterdir():
        if match := _MIGRATION_NAME.match(item.name):
            found.append((int(match.group(1)), item.name, item.read_text(encoding="utf-8")))
    found.sort()
    numbers = [number for number, _, _ in found]
    if numbers != list(range(1, len(found) + 1)):
        raise StoreError(f"migration numbers must run 1..n without gaps, found {numbers}")
    return found


_LITERAL_OR_MARK = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|:")


@functools.lru_cache(maxsize=2048)
def statement(sql: str, positional: bool) -> sa.TextClause:
    """SQL as written in store/ → a SQLAlchemy text clause (cached: the same few hundred statements recur).

    `?` outside quotes become `:p1`, `:p2`…; a colon inside quotes is escaped so
    SQLAlchemy does not read `'…T10:00…'` as a bind.
    """
    counter = 0

    def swap(match: re.Match[str]) -> str:
        nonlocal counter
        token = match.group(0)
        if token == "?":
            if not positional:
                return token
            counter += 1
            return f":p{counter}"
        if token == ":":
            return token
        return token.replace(":", "\\:")

    return sa.text(_LITERAL_OR_MARK.sub(swap, sql))


def _binds(params: Params | None) -> tuple[bool, dict[str, Any]]:
    if params is None:
        return False, {}
    if isinstance(params, Mapping):
        return False, dict(params)
    return True, {f"p{index}": value for index, value in enumerate(params, start=1)}


class Cursor:
    """A statement's whole answer, read at once: rows, and how many rows it changed."""

    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount

    async def fetchone(self) -> Row | None:
        return self.rows[0] if self.rows else None

    async def fetchall(self) -> list[Row]:
        return self.rows

    def __aiter__(self) -> AsyncIterator[Row]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Row]:
        for row in self.rows:
            yield row


class _Pending:
    """`await conn.execute(…)` and `async with conn.execute(…) as cursor:` both work, as with aiosqlite."""

    def __init__(self, running: Awaitable[Cursor]) -> None:
        self._running = running

    def __await__(self) -> Generator[Any, None, Cursor]:
        return self._running.__await__()

    async def __aenter__(self) -> Cursor:
        return await self._running

    async def __aexit__(self, *exc: object) -> None:
        return None


class Conn:
    """The interface `store/` and the bot call: statements on the store's one connection."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def dialect(self) -> Dialect:
        return self._db.location.dialect

    def execute(self, sql: str, params: Params | None = None) -> _Pending:
        return _Pending(self._db.run(sql, params))

    async def executemany(self, sql: str, rows: Sequence[Params] | Iterator[Params]) -> None:
        many = list(rows)
        if many:
            await self._db.run_many(sql, many)

    @property
    def in_transaction(self) -> bool:
        return self._db.in_transaction


class Database:
    """One connection in autocommit mode with explicit transactions, over either dialect."""

    def __init__(self, engine: AsyncEngine, location: StoreLocation) -> None:
        self.engine = engine
        self.location = location
        self.conn = Conn(self)
        self._connection: AsyncConnection | None = None
        self._writer = asyncio.Lock()
        self.in_transaction = False
        self.identity: tuple[int, int] | None = None  # SQLite: (st_dev, st_ino) of the file we opened

    @property
    def path(self) -> Path | None:
        return self.location.path

    @property
    def where(self) -> str:
        return self.location.where

    @property
    def dialect(self) -> Dialect:
        return self.location.dialect

    async def _live(self) -> AsyncConnection:
        if self._connection is None or self._connection.closed or self._connection.invalidated:
            if self._connection is not None:
                with suppress(Exception):
                    await self._connection.close()
                self._connection = None
            try:
                self._connection = await self.engine.connect()
            except DBAPIError as exc:
                raise store_error(self.where, exc) from exc
            except (OSError, TimeoutError) as exc:
                raise StoreTransient(f"cannot reach {self.where} ({exc}); nothing was written") from exc
        return self._connection

    async def run(self, sql: str, params: Params | None = None) -> Cursor:
        positional, binds = _binds(params)
        connection = await self._live()
        try:
            result = await connection.execute(statement(sql, positional), binds)
        except DBAPIError as exc:
            if is_store_fault(exc):
                raise store_error(self.where, exc) from exc
            raise
        rows = [tuple(row) for row in result.all()] if result.returns_rows else []
        return Cursor(rows, result.rowcount)

    async def run_many(self, sql: str, rows: list[Params]) -> None:
        positional = not isinstance(rows[0], Mapping)
        binds = [_binds(row)[1] for row in rows]
        connection = await self._live()
        try:
            await connection.execute(statement(sql, positional), binds)
        except DBAPIError as exc:
            if is_store_fault(exc):
                raise store_error(self.where, exc) from exc
            raise

    async def driver_connection(self) -> Any:
        """The driver's own connection (aiosqlite or asyncpg), for what only it can do: scripts, tracing in tests."""
        raw = await (await self._live()).get_raw_connection()
        return raw.driver_connection

    async def _raw(self, sql: str) -> None:
        connection = await self._live()
        await connection.exec_driver_sql(sql)

    def check_file(self) -> None:
        """Raise StoreGone if the path no longer names the file this connection writes to."""
        if self.identity is None or self.path is None:
            return
        now = _identity(self.path)
        if now is None:
            raise StoreGone(f"database {self.path} was deleted while trendwatch was running: stopping"
                            " rather than writing into a file nobody can see (restore it, then restart)")
        if now != self.identity:
            raise StoreGone(f"database {self.path} was replaced by another file while trendwatch was running:"
                            " stopping; restart to use the new file")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        """BEGIN … COMMIT: all of it lands, or none of it; one writer at a time across every process.

        One connection is shared by every task (poller, delivery, lease, slash
        commands), so transactions take turns: without the lock one task's
        statements would land inside another's transaction.
        """
        async with self._writer:
            self.check_file()
            await self._begin()
            try:
                yield self.conn
            except BaseException as exc:
                await self._rollback()
                if isinstance(exc, DBAPIError) and is_store_fault(exc):
                    raise store_error(self.where, exc) from exc
                raise
            try:
                await self._raw("COMMIT")
                self.in_transaction = False
            except DBAPIError as exc:
                await self._rollback()
                raise (store_error(self.where, exc) if is_store_fault(exc) else exc) from exc

    async def _begin(self) -> None:
        try:
            if self.dialect == "sqlite":
                await self._raw("BEGIN IMMEDIATE")
                self.in_transaction = True
            else:
                await self._raw("BEGIN")
                self.in_transaction = True
                await self._raw(f"SELECT pg_advisory_xact_lock({WRITER_LOCK_KEY})")
        except DBAPIError as exc:
            await self._rollback()
            raise (store_error(self.where, exc) if is_store_fault(exc) else exc) from exc

    async def _rollback(self) -> None:
        # SQLite may already have rolled back on its own (SQLITE_FULL, I/O errors); then ROLLBACK itself fails.
        if not self.in_transaction:
            return
        self.in_transaction = False
        connection = self._connection
        if connection is None or connection.closed or connection.invalidated:
            return
        with suppress(Exception):
            await connection.exec_driver_sql("ROLLBACK")

    async def close(self) -> None:
        if self._connection is not None:
            with suppress(Exception):
                await self._connection.close()
            self._connection = None
        await self.engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def _schema_version(db: Database) -> int:
    if db.dialect == "sqlite":
        row = await (await db.conn.execute("PRAGMA user_version")).fetchone()
        return int(row[0]) if row else 0
    await _script(db, f"BEGIN; SELECT pg_advisory_xact_lock({WRITER_LOCK_KEY});"
                      " CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL); COMMIT;")
    row = await (await db.conn.execute("SELECT MAX(version) FROM schema_version")).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


async def _script(db: Database, sql: str) -> None:
    """A migration file as one script, by the driver itself (SQLAlchemy runs one statement at a time)."""
    driver = await db.driver_connection()
    if db.dialect == "sqlite":
        await driver.executescript(sql)
    else:
        await driver.execute(sql)


async def _migrate(db: Database) -> None:
    current = await _schema_version(db)
    known = migrations(db.dialect)
    if current > len(known):
        raise StoreError(
            f"{db.where} is at schema version {current}, newer than this code ({len(known)}): upgrade trendwatch"
        )
    for number, name, sql in known[current:]:
        log.info("applying migration %s", name)
        if db.dialect == "sqlite":
            script = f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;"
        else:
            # The advisory lock makes two workers starting together apply each migration once.
            script = (f"BEGIN;\nSELECT pg_advisory_xact_lock({WRITER_LOCK_KEY});\n"
                      f"DO $$ BEGIN IF (SELECT COALESCE(MAX(version), 0) FROM schema_version) >= {number}"
                      f" THEN RAISE EXCEPTION 'trendwatch: migration {number} already applied'; END IF; END $$;\n"
                      f"{sql}\nINSERT INTO schema_version (version) VALUES ({number});\nCOMMIT;")
        try:
            await _script(db, script)
        except Exception as exc:
            with suppress(Exception):
                await _script(db, "ROLLBACK")
            if "already applied" in str(exc):
                continue
            raise


def _connect_sqlite(dbapi_connection: Any, _record: object) -> None:
    """Per connection: autocommit at the driver (transactions are ours), WAL, foreign keys."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in ("busy_timeout = 10000", "journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def make_engine(location: StoreLocation) -> AsyncEngine:
    if location.dialect == "sqlite":
        engine = create_async_engine(location.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        sa.event.listen(engine.sync_engine, "connect", _connect_sqlite)
        return engine
    return create_async_engine(
        location.url, isolation_level="AUTOCOMMIT", pool_pre_ping=True, pool_size=2, max_overflow=2,
        connect_args={"timeout": 10, "server_settings": {"application_name": "trendwatch"}},
    )


async def open_database(target: Path | str | StoreLocation) -> Database:
    """Open (creating the file if needed, never its folder) and migrate. Raises StoreError with a readable reason.

    `target` is a SQLite path or a PostgreSQL URL. A missing folder is a
    mistake in `[store] path` (or a volume not mounted): creating it would
    quietly start a new, empty history somewhere else.
    """
    try:
        location = StoreLocation.of(target)
    except ValueError as exc:
        raise StoreError(f"[store] url {exc}") from exc
    if location.path is not None and not location.path.parent.is_dir():
        raise StoreError(f"cannot open database {location.path}: folder {location.path.parent} does not exist"
                         " (create it, mount the volume, or fix [store] path)")
    db = Database(make_engine(location), location)
    try:
        await db._live()
        await _migrate(db)
    except DBAPIError as exc:
        await db.close()
        raise store_error(db.where, exc) from exc
    except (OSError, TimeoutError) as exc:
        await db.close()
        raise StoreTransient(f"cannot reach {db.where} ({exc})") from exc
    except BaseException:
        await db.close()
        raise
    if location.path is not None:
        db.identity = _identity(location.path)
    return db
