"""The store's one connection: SQLite (a file, the default) or PostgreSQL (a server), same statements, same rules.

Everything in `store/` and the bot talks to a `Conn`: `execute`, `executemany`,
`transaction`, over the drivers themselves (aiosqlite, asyncpg). Statements are
written once in the SQL both dialects share, with SQLite's `?` or `:name`
placeholders; on PostgreSQL they are numbered into asyncpg's `$1`… (the only
rewriting done, outside quotes and `::` casts). The few statements that
cannot be shared (search, JSON aggregation) ask `conn.dialect`.

SQLAlchemy Core's async engine did this job first and was measured out: it
added 35 MiB to the idle process (the memory goal is 90 MiB), about 100 µs to
every statement (twice a poll's own work on SQLite), and its expression
language, ORM and pool go unused by a bot that keeps one connection.

Migrations are numbered files, one folder per dialect (`store/migrations/`
for SQLite, `store/migrations/postgresql/` for PostgreSQL), the same number
meaning the same change; each is applied in its own transaction at start.

One writer at a time on both: SQLite's `BEGIN IMMEDIATE`, and on PostgreSQL a
transaction-scoped advisory lock taken first in every write transaction, so
two workers (two hosts) see the same serial order SQLite gives two processes.

Faults of the store itself become one `StoreError` line, never a driver
traceback: a damaged file, a full disk (`StoreTransient`: the transaction
rolled back, try again later), a PostgreSQL server that went away
(`StoreTransient`, and the next statement reconnects), or a SQLite file
deleted or replaced under a running process (`StoreGone`: checked before
every transaction, because writing on into an unlinked inode loses everything
and lets a second process start).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import aiosqlite

log = logging.getLogger(__name__)
_SQLITE_BUSY_MS = 10_000  # how long a SQLite statement waits for another process's write to end
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

Dialect = Literal["sqlite", "postgresql"]
Row = tuple[Any, ...]
Params = Sequence[Any] | Mapping[str, Any]

# Any constant works; every trendwatch process on one PostgreSQL database must use the same one.
WRITER_LOCK_KEY = 0x7472656E64  # "trend"
# SQLSTATE classes of a server that is (for now) unable, not of a wrong statement: connection
# exceptions, serialization failures, disk full or out of memory or connections, shutting down.
_PG_TRANSIENT = ("08", "40", "53", "57")


class StoreError(Exception):
    """The database cannot be used (corrupt, locked, newer than this code)."""


class StoreTransient(StoreError):
    """Nothing was written (disk full, database locked, server unreachable); the same work may succeed later."""


class StoreGone(StoreError):
    """The database file was deleted or replaced while this process had it open."""


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """Where the store lives: a SQLite file or a PostgreSQL URL. `where` and `describe` never show a password."""

    path: Path | None = None
    url: str | None = None  # postgresql://…, as asyncpg reads it (libpq's syntax, sslmode included)

    @property
    def dialect(self) -> Dialect:
        return "sqlite" if self.path is not None else "postgresql"

    @property
    def where(self) -> str:
        """How error lines name the store: the file's path, or the database and its server."""
        if self.path is not None:
            return str(self.path)
        parts = urlsplit(self.url or "")
        return f"PostgreSQL database {parts.path.lstrip('/')} on {parts.hostname}:{parts.port or 5432}"

    @property
    def describe(self) -> str:
        """How the log and `check-config` name the store: the whole URL, its password masked."""
        if self.path is not None:
            return f"SQLite file {self.path}"
        return f"PostgreSQL {masked(self.url or '')}"

    @classmethod
    def of(cls, target: Path | str | StoreLocation) -> StoreLocation:
        if isinstance(target, StoreLocation):
            return target
        if isinstance(target, Path):
            return cls(path=target)
        return cls(url=postgres_url(target))


def masked(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc}"))


def postgres_url(text: str) -> str:
    """`postgresql://…` or Heroku's `postgres://…` → the URL asyncpg connects with.

    A ValueError names what is wrong, never the URL itself (it may hold a password).
    """
    scheme, sep, rest = text.strip().partition("://")
    if not sep or scheme.lower() not in ("postgres", "postgresql"):
        raise ValueError("must start with postgresql:// or postgres:// (SQLite is [store] path)")
    try:
        parts = urlsplit(f"postgresql://{rest}")
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number)
    except ValueError:
        raise ValueError("is not a URL: postgresql://user:password@host:port/database") from None
    if not parts.hostname and not dict(parse_qsl(parts.query)).get("host"):
        raise ValueError("names no host")
    if not parts.path.strip("/"):
        raise ValueError("names no database (…/dbname at the end)")
    return urlunsplit(parts)


def store_error(where: str, exc: BaseException) -> StoreError:
    """A driver fault of the store (not of a statement) → one line saying what to do."""
    text = (str(exc) or type(exc).__name__).splitlines()[0]
    lowered = text.lower()
    if _connection_lost(exc):
        return StoreTransient(f"lost the connection to {where} ({text}); nothing was written, reconnecting")
    if isinstance(exc, OSError | TimeoutError):
        return StoreTransient(f"cannot reach {where} ({text}); nothing was written")
    if str(getattr(exc, "sqlstate", "") or "")[:2] in _PG_TRANSIENT:
        return StoreTransient(f"cannot write {where} now ({text}); nothing was written")
    if "full" in lowered:
        return StoreTransient(f"cannot write {where}: the disk is full ({text}); nothing was written")
    if "locked" in lowered or "busy" in lowered:
        return StoreTransient(f"cannot write {where}: the database is locked by another program ({text})")
    if "malformed" in lowered or "not a database" in lowered or type(exc) is sqlite3.DatabaseError:
        return StoreError(f"database {where} is damaged ({text}): restore it from a backup or move it aside")
    return StoreError(f"cannot use database {where}: {text}")


def _connection_lost(exc: BaseException) -> bool:
    if type(exc).__module__.split(".")[0] != "asyncpg":
        return False
    import asyncpg  # type: ignore[import-untyped]  # only a PostgreSQL store loads the driver

    return isinstance(exc, asyncpg.ConnectionDoesNotExistError | asyncpg.InterfaceError) or (
        isinstance(exc, asyncpg.PostgresError) and str(getattr(exc, "sqlstate", ""))[:2] == "08")


def is_driver_error(exc: BaseException) -> bool:
    """An error raised by asyncpg (of the server or of the statement)."""
    return type(exc).__module__.split(".")[0] == "asyncpg"


def is_store_fault(exc: BaseException) -> bool:
    """Faults of the file, the disk or the server; constraint and programming errors stay what they are."""
    if type(exc) in (sqlite3.DatabaseError, sqlite3.OperationalError):
        return True
    if isinstance(exc, OSError | TimeoutError):
        return True
    if not is_driver_error(exc):
        return False
    return _connection_lost(exc) or str(getattr(exc, "sqlstate", "") or "")[:2] in _PG_TRANSIENT


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_dev, found.st_ino


def json_ids(conn: Conn) -> str:
    """A JSON array of integer ids (one `?`) as a subquery of `value`s: one statement text whatever the count,
    prepared once, on either dialect."""
    if conn.dialect == "sqlite":
        return "SELECT CAST(value AS INTEGER) AS value FROM json_each(?)"
    return "SELECT CAST(value AS BIGINT) AS value FROM json_array_elements_text(CAST(? AS json))"


def json_texts(conn: Conn) -> str:
    """A JSON array of strings (one `?`) as a subquery of `value`s, like `json_ids`."""
    if conn.dialect == "sqlite":
        return "SELECT value FROM json_each(?)"
    return "SELECT value FROM json_array_elements_text(CAST(? AS json))"


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


_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|::|\?|:[A-Za-z_]\w*")


@functools.lru_cache(maxsize=2048)
def numbered(sql: str) -> tuple[str, tuple[str, ...] | int]:
    """A statement with `?` or `:name` placeholders → asyncpg's `$1`… and how to order its parameters.

    Returns the statement and either the count of `?` (positional) or the
    names in `$` order (a name used twice is one parameter). Quoted text and
    `::type` casts are left alone. Cached: the same few hundred statements recur.
    """
    names: list[str] = []
    positional = 0

    def swap(match: re.Match[str]) -> str:
        nonlocal positional
        token = match.group(0)
        if token == "?":
            positional += 1
            return f"${positional}"
        if token.startswith(":") and token != "::":
            name = token[1:]
            if name not in names:
                names.append(name)
            return f"${names.index(name) + 1}"
        return token

    converted = _TOKEN.sub(swap, sql)
    if positional and names:
        raise ValueError(f"a statement mixes ? and :name placeholders: {sql[:80]}")
    return converted, tuple(names) if names else positional


def _ordered(shape: tuple[str, ...] | int, params: Params | None) -> tuple[Any, ...]:
    if params is None:
        return ()
    if isinstance(params, Mapping):
        if isinstance(shape, int):
            raise ValueError("named parameters given to a statement with ? placeholders")
        return tuple(params[name] for name in shape)
    return tuple(params)


_RETURNS_ROWS = re.compile(r"^\s*(SELECT|WITH|VALUES|SHOW|EXPLAIN|PRAGMA)\b|\bRETURNING\b", re.IGNORECASE)


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


class AloneConn(Conn):
    """A `Conn` whose every statement is a transaction by itself (`Database.write_alone`): for one-statement writes."""

    def execute(self, sql: str, params: Params | None = None) -> _Pending:
        return _Pending(self._db.write_alone(sql, params))


class Database(ABC):
    """One connection with explicit transactions; `SqliteDatabase` and `PostgresDatabase` differ below it."""

    def __init__(self, location: StoreLocation) -> None:
        self.location = location
        self.conn = Conn(self)
        self.alone = AloneConn(self)
        self._writer = asyncio.Lock()
        self.in_transaction = False

    @property
    def path(self) -> Path | None:
        return self.location.path

    @property
    def where(self) -> str:
        return self.location.where

    @property
    def dialect(self) -> Dialect:
        return self.location.dialect

    @abstractmethod
    async def run(self, sql: str, params: Params | None = None) -> Cursor:
        """Driver-specific (see the subclasses)."""

    @abstractmethod
    async def run_many(self, sql: str, rows: list[Params]) -> None:
        """Driver-specific (see the subclasses)."""

    @abstractmethod
    async def script(self, sql: str) -> None:
        """Several statements at once (a migration file), by the driver's own script call."""

    @abstractmethod
    async def driver_connection(self) -> Any:
        """The driver's own connection (aiosqlite or asyncpg), for what only it can do: tracing in tests."""

    async def listen(self, channel: str, heard: Callable[[], None]) -> None:  # noqa: B027  (only PostgreSQL)
        """Call `heard` whenever another process (or this one) sends `notify(channel)`; SQLite has no such thing.

        PostgreSQL's LISTEN/NOTIFY: a deliverer hears at once that a poll committed alerts, instead of
        at its next `[delivery] interval`. A notification lost with a connection costs only that wait.
        """

    def check_file(self) -> None:  # noqa: B027  (a hook: only SQLite has a file that can be swapped)
        """Before each transaction: is the store still the one opened? (SQLite: the file under its path.)"""

    @abstractmethod
    async def _begin(self, serial: bool = True) -> None:
        """Driver-specific (see the subclasses)."""

    @asynccontextmanager
    async def transaction(self, *, serial: bool = True) -> AsyncIterator[Conn]:
        """BEGIN … COMMIT: all of it lands, or none of it; one writer at a time across every process.

        One connection is shared by every task (poller, delivery, lease, slash
        commands), so transactions take turns: without the lock one task's
        statements would land inside another's transaction.

        `serial=False` (PostgreSQL; SQLite has one writer whatever is asked): no writer lock across
        processes, for the outbox's claims and marks, which touch only rows that row locks already
        keep apart (`SKIP LOCKED` claims, rows this process claimed): several deliverers work at once
        instead of queueing behind each other's and the poller's transactions.
        """
        async with self._writer:
            self.check_file()
            try:
                await self._begin(serial)
            except StoreError:
                await self._rollback()
                raise
            try:
                yield self.conn
            except BaseException as exc:
                await self._rollback()
                if (isinstance(exc, sqlite3.Error) or is_driver_error(exc)) and is_store_fault(exc):
                    raise store_error(self.where, exc) from exc
                raise
            try:
                await self.run("COMMIT")
            except BaseException:
                await self._rollback()
                raise
            self.in_transaction = False

    async def write_alone(self, sql: str, params: Params | None = None) -> Cursor:
        """One statement that is a whole transaction by itself (an outbox mark), without the one-writer lock.

        On PostgreSQL it is sent alone, committed by the server as it runs: one round trip instead of
        BEGIN, the statement and COMMIT (a deliverer marks every post twice; at a thousand posts a second
        the round trips are most of its work). On SQLite it is an ordinary transaction. Either way it
        waits for this process's open transaction, which shares the connection, to end first.
        """
        if self.dialect == "sqlite":
            async with self.transaction(serial=False) as conn:
                return await conn.execute(sql, params)
        async with self._writer:
            return await self.run(sql, params)  # a fault of the server is already one StoreError line

    async def _rollback(self) -> None:
        # SQLite may already have rolled back on its own (SQLITE_FULL, I/O errors); then ROLLBACK itself fails.
        if not self.in_transaction:
            return
        self.in_transaction = False
        with suppress(Exception):
            await self.run("ROLLBACK")

    @abstractmethod
    async def close(self) -> None:
        """Driver-specific (see the subclasses)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class SqliteDatabase(Database):
    """aiosqlite in autocommit mode; `?` and `:name` are SQLite's own placeholders."""

    def __init__(self, location: StoreLocation, connection: aiosqlite.Connection) -> None:
        super().__init__(location)
        self.connection = connection
        self.identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file we opened

    async def run(self, sql: str, params: Params | None = None) -> Cursor:
        try:
            async with self.connection.execute(sql, params if params is not None else ()) as cursor:
                rows = [tuple(row) for row in await cursor.fetchall()]
                return Cursor(rows, cursor.rowcount)
        except sqlite3.Error as exc:
            if is_store_fault(exc):
                raise store_error(self.where, exc) from exc
            raise

    async def run_many(self, sql: str, rows: list[Params]) -> None:
        try:
            await self.connection.executemany(sql, rows)
        except sqlite3.Error as exc:
            if is_store_fault(exc):
                raise store_error(self.where, exc) from exc
            raise

    async def script(self, sql: str) -> None:
        await self.connection.executescript(sql)

    async def driver_connection(self) -> aiosqlite.Connection:
        return self.connection

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

    async def _begin(self, serial: bool = True) -> None:
        await self.run("BEGIN IMMEDIATE")
        self.in_transaction = True

    async def _rollback(self) -> None:
        self.in_transaction = self.connection.in_transaction  # SQLite may have rolled back on its own (disk full)
        await super()._rollback()

    async def close(self) -> None:
        await self.connection.close()


class PostgresDatabase(Database):
    """One asyncpg connection, opened again after the server went away; statements take turns on it."""

    def __init__(self, location: StoreLocation) -> None:
        super().__init__(location)
        self._connection: Any = None  # asyncpg.Connection (the driver ships no type hints)
        self._turn = asyncio.Lock()  # asyncpg runs one operation at a time per connection
        self._listeners: dict[str, Callable[[], None]] = {}  # LISTEN again on every new connection

    async def _live(self) -> Any:
        import asyncpg

        if self._connection is not None and not self._connection.is_closed():
            return self._connection
        if self.in_transaction:  # the transaction died with its connection: nothing of it was written
            raise StoreTransient(f"lost the connection to {self.where}; nothing was written, reconnecting")
        try:
            self._connection = await asyncpg.connect(
                self.location.url, timeout=10, statement_cache_size=512,
                server_settings={"application_name": "trendwatch"})
            for channel, heard in self._listeners.items():
                await self._connection.add_listener(channel, _called(heard))
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise store_error(self.where, exc) from exc
        return self._connection

    async def listen(self, channel: str, heard: Callable[[], None]) -> None:
        async with self._turn:
            self._listeners[channel] = heard
            if self._connection is not None and not self._connection.is_closed():
                await self._connection.add_listener(channel, _called(heard))

    async def _call(self, call: str, sql: str, *args: Any) -> Any:
        async with self._turn:
            connection = await self._live()
            try:
                return await getattr(connection, call)(sql, *args)
            except Exception as exc:
                if is_store_fault(exc):
                    if _connection_lost(exc) or isinstance(exc, OSError | TimeoutError):
                        self._connection = None
                        with suppress(Exception):
                            connection.terminate()
                    raise store_error(self.where, exc) from exc
                raise

    async def run(self, sql: str, params: Params | None = None) -> Cursor:
        text, shape = numbered(sql)
        args = _ordered(shape, params)
        if _RETURNS_ROWS.search(sql):
            records = await self._call("fetch", text, *args)
            return Cursor([tuple(record) for record in records], len(records))
        status = await self._call("execute", text, *args) if args else await self._call("execute", text)
        tail = str(status).rsplit(" ", 1)[-1]
        return Cursor([], int(tail) if tail.isdigit() else -1)

    async def run_many(self, sql: str, rows: list[Params]) -> None:
        text, shape = numbered(sql)
        await self._call("executemany", text, [_ordered(shape, row) for row in rows])

    async def script(self, sql: str) -> None:
        await self._call("execute", sql)  # no arguments: the simple protocol, several statements at once

    async def driver_connection(self) -> Any:
        async with self._turn:
            return await self._live()

    async def _begin(self, serial: bool = True) -> None:
        self.in_transaction = False
        await self.run("BEGIN")
        self.in_transaction = True
        if serial:
            await self.run(f"SELECT pg_advisory_xact_lock({WRITER_LOCK_KEY})")

    async def _rollback(self) -> None:
        if self._connection is None or self._connection.is_closed():
            self.in_transaction = False  # the server rolled it back when the connection went
            return
        await super()._rollback()

    async def close(self) -> None:
        if self._connection is not None:
            with suppress(Exception):
                await asyncio.wait_for(self._connection.close(), timeout=5)
            self._connection = None


def _called(heard: Callable[[], None]) -> Callable[..., None]:
    """asyncpg's listener signature (connection, pid, channel, payload) → `heard()`."""
    return lambda *_: heard()


async def _schema_version(db: Database) -> int:
    if db.dialect == "postgresql":
        await db.script(f"BEGIN; SELECT pg_advisory_xact_lock({WRITER_LOCK_KEY});"
                        " CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL); COMMIT;")
    return await _applied(db.conn)


async def _applied(conn: Conn) -> int:
    """The last migration applied; inside the writer's transaction, final until it commits."""
    sql = "PRAGMA user_version" if conn.dialect == "sqlite" else "SELECT MAX(version) FROM schema_version"
    row = await (await conn.execute(sql)).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _statements(script: str) -> Iterator[str]:
    """A SQLite migration file → its statements one by one, trigger bodies kept whole.

    Python's `executescript` commits any open transaction before it runs, so a
    migration cannot be one script inside the transaction that re-reads the
    version; SQLite's own `complete_statement` says where each statement ends.
    """
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\r\n;"):
                yield pending.strip()
            pending = ""
    if pending.strip(" \t\r\n;"):
        yield pending.strip()


async def _compact_after_migrating(db: Database) -> None:
    """Give back to the file system the pages that the migrations just applied freed (SQLite).

    A migration that rebuilds a table (0008 copies every entry into the table of every list, then
    drops the old one) leaves the old pages free: the file would stay twice its size until history
    grew into them. One VACUUM after migrating (outside their transactions, as SQLite requires) costs
    about what the migration did on a year of history, and milliseconds on a new file; it runs only
    when migrations were applied, never at an ordinary start.
    """
    free = await (await db.conn.execute("PRAGMA freelist_count")).fetchone()
    if free and int(free[0]) > 0:
        log.info("compacting %s: the migrations freed %d page(s)", db.where, free[0])
        await db.run("VACUUM")


# A SQLite migration that rebuilds a table other tables point at says so with this line: dropping the old
# parent with foreign keys on would cascade into every child (SQLite's table-rebuild procedure turns them
# off around the transaction and checks them before committing).
_REBUILDS_PARENT = "-- sqlite: foreign keys off"


async def _check_foreign_keys(conn: Conn, name: str) -> None:
    async with conn.execute("PRAGMA foreign_key_check") as cursor:
        broken = await cursor.fetchall()
    if broken:
        raise StoreError(f"migration {name} would leave {len(broken)} row(s) pointing nowhere, e.g. {broken[0]}")


async def _migrate(db: Database) -> None:
    """Apply what is missing, each migration in one writer's transaction that first reads the version again.

    Two workers started together on a new store both find version 0; the
    second waits for the first's transaction and must then skip what it
    applied, not apply 0001 again ("table snapshots already exists").
    """
    current = await _schema_version(db)
    known = migrations(db.dialect)
    if current > len(known):
        raise StoreError(
            f"{db.where} is at schema version {current}, newer than this code ({len(known)}): upgrade trendwatch"
        )
    applied = 0
    for number, name, sql in known[current:]:
        rebuilds = db.dialect == "sqlite" and _REBUILDS_PARENT in sql
        if rebuilds:
            await db.run("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction: set before it
        try:
            async with db.transaction() as conn:
                if await _applied(conn) >= number:
                    continue  # another worker applied it while this one waited for the lock
                applied += 1
                if db.dialect == "sqlite":
                    log.info("applying migration %s", name)
                    for statement in _statements(sql):
                        await conn.execute(statement)
                    if rebuilds:
                        await _check_foreign_keys(conn, name)
                    await conn.execute(f"PRAGMA user_version = {number}")
                else:
                    log.info("applying migration postgresql/%s", name)
                    await db.script(sql)
                    await conn.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
        finally:
            if rebuilds:
                await db.run("PRAGMA foreign_keys = ON")
    if db.dialect == "sqlite" and applied:
        await _compact_after_migrating(db)


async def _use_wal(db: SqliteDatabase) -> None:
    """Switch the file to WAL, waiting as long as `busy_timeout` would for another process doing the same.

    SQLite does not call its busy handler for this switch: two workers opening
    a new file together, one would fail at once with "database is locked".
    """
    deadline = asyncio.get_running_loop().time() + _SQLITE_BUSY_MS / 1000
    while True:
        try:
            await db.run("PRAGMA journal_mode = WAL")
            return
        except StoreTransient as exc:
            cause = exc.__cause__
            busy = isinstance(cause, sqlite3.Error) and (cause.sqlite_errorcode & 0xFF) == sqlite3.SQLITE_BUSY
            if not busy or asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(0.02)


async def _open_sqlite(location: StoreLocation) -> SqliteDatabase:
    path = location.path
    assert path is not None
    if not path.parent.is_dir():
        raise StoreError(f"cannot open database {path}: folder {path.parent} does not exist"
                         " (create it, mount the volume, or fix [store] path)")
    try:
        connection = await aiosqlite.connect(path, isolation_level=None)
    except Exception as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from exc
    db = SqliteDatabase(location, connection)
    try:
        await db.run(f"PRAGMA busy_timeout = {_SQLITE_BUSY_MS}")
        await _use_wal(db)
        for pragma in ("synchronous = NORMAL", "foreign_keys = ON"):
            await db.run(f"PRAGMA {pragma}")
    except BaseException:
        await db.close()  # aiosqlite's thread would otherwise keep the process alive
        raise
    return db


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
    db: Database = await _open_sqlite(location) if location.path is not None else PostgresDatabase(location)
    try:
        await _migrate(db)
    except StoreError:
        await db.close()
        raise
    except Exception as exc:
        await db.close()
        if isinstance(exc, sqlite3.Error) or is_driver_error(exc):  # e.g. a migration the server refuses
            raise store_error(db.where, exc) from exc
        raise
    except BaseException:
        await db.close()
        raise
    if isinstance(db, SqliteDatabase) and location.path is not None:
        db.identity = _identity(location.path)
    return db
