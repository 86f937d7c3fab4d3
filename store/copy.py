"""Moving a bot: copy a SQLite store into an empty PostgreSQL one, whole, and prove it by counting.

Everything is copied (every list's history and items, subscriptions and channel rules,
labels, rule state, the outbox with what is still pending, digests, lineage)
except the worker lease, which belongs to the old host. The source is held
in one read transaction that also keeps any writer out, and the target is
written in one transaction: a failed copy leaves the target as empty as it
was. Ids are copied as they are, then each identity sequence moves past them.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

from store.db import Database, StoreError, is_driver_error, utc_iso

BATCH = 2000
SKIPPED = frozenset({"lease", "sqlite_sequence", "schema_version"})
# Rows the schema itself inserts (singletons, counters): the copy replaces them with the source's.
SEEDED = frozenset({"source_health", "attribution_state", "store_versions"})


class CopyRefused(StoreError):
    """The copy did not start (the target holds data, or a worker still writes the source); nothing changed."""


@dataclass(frozen=True, slots=True)
class CopyReport:
    counts: dict[str, int]  # table → rows copied (equal in source and target, checked)
    unknown: dict[str, int]  # table → values no column type could hold (the bot read them as unknown): now NULL


async def _tables_in_order(source: Database) -> list[str]:
    """Every table of the source, parents before children (foreign keys), so no row waits for its parent."""
    rows = await (await source.conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " AND name NOT LIKE 'items_search%' ORDER BY name"
    )).fetchall()
    names = [str(name) for (name,) in rows if str(name) not in SKIPPED]
    parents: dict[str, set[str]] = {}
    for name in names:
        found = await (await source.conn.execute(f"SELECT \"table\" FROM pragma_foreign_key_list('{name}')")).fetchall()
        parents[name] = {str(parent) for (parent,) in found if str(parent) != name}
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [name for name in names if name not in ordered and parents[name] <= set(ordered)]
        if not ready:
            raise StoreError(f"cannot order tables by their foreign keys: {sorted(set(names) - set(ordered))}")
        ordered.extend(ready)
    return ordered


async def _columns(source: Database, table: str) -> list[str]:
    rows = await (await source.conn.execute(f"SELECT name FROM pragma_table_info('{table}') ORDER BY cid")).fetchall()
    return [str(name) for (name,) in rows]


async def _key(source: Database, table: str) -> list[str]:
    """The primary key to page through `table` in order (rowid when it declares none)."""
    rows = await (await source.conn.execute(
        f"SELECT name FROM pragma_table_info('{table}') WHERE pk > 0 ORDER BY pk")).fetchall()
    return [str(name) for (name,) in rows] or ["rowid"]


async def _target_types(target: Database, table: str) -> dict[str, str]:
    rows = await (await target.conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND table_name = ? ORDER BY ordinal_position", (table,))).fetchall()
    return {str(name): str(kind) for name, kind in rows}


def _as(kind: str, value: object) -> object:
    """A SQLite value in the type of its PostgreSQL column.

    SQLite keeps any value in any column: 3.0 or '3' in an INTEGER column, 7 in
    TEXT, or garbage an older version wrote (likes = 'lots', a numpy integer
    stored as 8 bytes). What the bot reads as a number stays that number; what
    it reads as unknown (`stored_int`, `stored_float`) is copied as NULL, which
    it reads the same way. Anything else raises ValueError with the value.
    """
    if value is None:
        return None
    if kind == "bigint":
        if isinstance(value, int | float | str):
            with suppress(ValueError, OverflowError):
                number = float(value)
                if number.is_integer():
                    return int(number)
        return _UNKNOWN
    if kind == "double precision":
        if isinstance(value, int | float | str):
            with suppress(ValueError, OverflowError):
                return float(value)
        return _UNKNOWN
    if kind == "text":
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return value


_UNKNOWN = object()  # a value the bot reads as unknown: copied as NULL, and counted


async def _count(db: Database, table: str) -> int:
    row = await (await db.conn.execute(f"SELECT COUNT(*) FROM {table}")).fetchone()
    return int(row[0]) if row else 0


async def holding_worker(source: Database, now: datetime) -> str | None:
    """A `run` still holding the source's lease (not expired), named; None when no worker holds it."""
    row = await (await source.conn.execute(
        "SELECT holder, host, pid FROM lease WHERE expires_at > ? ORDER BY expires_at DESC LIMIT 1", (utc_iso(now),)
    )).fetchone()
    return f"pid {row[2]} on {row[1]}" if row else None


async def copy_store(source: Database, target: Database, now: datetime,
                     progress: Callable[[str, int], None] | None = None) -> CopyReport:
    """Copy every row of `source` (SQLite) into `target` (PostgreSQL, migrated, empty)."""
    if source.dialect != "sqlite" or target.dialect != "postgresql":
        raise CopyRefused("db copy moves a SQLite store into PostgreSQL")
    if (worker := await holding_worker(source, now)) is not None:
        raise CopyRefused(f"a trendwatch run ({worker}) is using {source.where}: stop it first, then copy"
                          " (a copy taken while it polls would miss what it writes next)")
    tables = await _tables_in_order(source)
    missing = [table for table in tables if not await _target_types(target, table)]
    if missing:
        raise CopyRefused(f"{target.where} has no table {', '.join(missing)}: is it a newer or older trendwatch?")
    holding = [f"{table} ({n})" for table in tables if table not in SEEDED and (n := await _count(target, table))]
    if holding:
        raise CopyRefused(f"{target.where} is not empty: {', '.join(holding[:5])}; copy into an empty database"
                          " (a copy over data would mix two bots' histories)")
    counts: dict[str, int] = {}
    unknown: dict[str, int] = {}
    # The source's write lock for the whole copy: a `run` started meanwhile waits, and sees nothing half-read.
    async with source.transaction() as reading, target.transaction() as writing:
        for table in reversed(tables):
            if table in SEEDED:
                await writing.execute(f"DELETE FROM {table}")
        for table in tables:
            types = await _target_types(target, table)
            columns = await _columns(source, table)
            if lost := [column for column in columns if column not in types]:
                raise CopyRefused(f"{target.where} has no column {table}.{', '.join(lost)}: the two schemas differ"
                                  " (upgrade trendwatch where they were made); nothing was kept")
            key = await _key(source, table)
            names = ", ".join(columns)
            insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
            select = f"SELECT {', '.join(key)}, {names} FROM {table}"
            order = f" ORDER BY {', '.join(key)} LIMIT {BATCH}"
            after = f" WHERE ({', '.join(key)}) > ({', '.join('?' * len(key))})"
            copied = 0
            last: tuple[object, ...] | None = None
            while True:
                rows = await (await reading.execute(select + (after if last else "") + order, last or ())).fetchall()
                if not rows:
                    break
                values = []
                for row in rows:
                    converted = [_as(types[column], value)
                                 for column, value in zip(columns, row[len(key):], strict=True)]
                    if _UNKNOWN in converted:
                        unknown[table] = unknown.get(table, 0) + converted.count(_UNKNOWN)
                        converted = [None if value is _UNKNOWN else value for value in converted]
                    values.append(tuple(converted))
                try:
                    await writing.executemany(insert, values)
                except Exception as exc:
                    if not is_driver_error(exc):
                        raise
                    reason = (str(exc) or type(exc).__name__).splitlines()[0]
                    raise StoreError(f"PostgreSQL refused a row of {table} ({reason}); nothing was kept") from exc
                last = tuple(rows[-1][:len(key)])
                copied += len(rows)
            counts[table] = copied
            if "id" in columns:
                await writing.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false)"
                    f" FROM {table} WHERE pg_get_serial_sequence('{table}', 'id') IS NOT NULL")
            if progress:
                progress(table, copied)
        for table in tables:
            in_source, in_target = await _count(source, table), await _count(target, table)
            if not in_source == counts[table] == in_target:
                raise StoreError(f"copy check failed: {table} has {in_source} rows in the source, {counts[table]}"
                                 f" were read and {in_target} are in the target; nothing was kept")
    return CopyReport(counts, unknown)
