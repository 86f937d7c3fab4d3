"""`--store` for the benchmarks: the same year of history in a SQLite file or in PostgreSQL.

`--store sqlite` (the default) copies the cached year file per measurement.
`--store postgresql` starts a throwaway PostgreSQL server (tests/postgres.py,
Debian's package); `--store postgresql://user@host:port/db` uses a server of
yours, which must let that user CREATE DATABASE. On PostgreSQL the year is
copied in once with `db copy`'s own code (`store.copy`), and each measurement
gets a fresh database cloned from it (`CREATE DATABASE … TEMPLATE`); all of
them are dropped at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from types import TracebackType

import asyncpg  # type: ignore[import-untyped]

from store.copy import copy_store
from store.db import open_database, postgres_url
from tests.support.postgres import PostgresServer, start_server


class BenchStore:
    """Hands out fresh stores holding the year: `await store.year(path)` → a SQLite path or a PostgreSQL URL."""

    def __init__(self, spec: str = "sqlite") -> None:
        self.spec = spec
        self.kind = "sqlite" if spec == "sqlite" else "postgresql"
        self._tmp = tempfile.mkdtemp(prefix="bench-store-")
        self._server: PostgresServer | None = None
        self._admin: str | None = None  # a libpq URL for CREATE/DROP DATABASE
        self._base = ""
        self._templates: dict[Path, str] = {}
        self._made: list[str] = []
        self._numbers = count(1)

    @property
    def label(self) -> str:
        return "SQLite" if self.kind == "sqlite" else "PostgreSQL"

    async def __aenter__(self) -> BenchStore:
        if self.kind == "postgresql":
            if self.spec == "postgresql":
                self._server = start_server()
                self._admin, self._base = self._server.admin_url, self._server.base
            else:
                self._admin = postgres_url(self.spec)  # ValueError names what is wrong
                self._base = self._admin.rsplit("/", 1)[0]
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        trace: TracebackType | None) -> None:
        if self._admin is not None and self._server is None:
            for name in reversed(self._made):
                await self._sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if self._server is not None:
            self._server.stop()
        shutil.rmtree(self._tmp, ignore_errors=True)

    async def _sql(self, statement: str) -> None:
        assert self._admin is not None
        conn = await asyncpg.connect(self._admin)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    async def year(self, sqlite_year: Path) -> Path | str:
        """A fresh store holding `sqlite_year`'s history, free to be written by one measurement."""
        if self.kind == "sqlite":
            path = Path(self._tmp) / f"{next(self._numbers)}-{sqlite_year.name}"
            shutil.copyfile(sqlite_year, path)
            return path
        if sqlite_year not in self._templates:
            template = f"bench_year_{os.getpid()}_{next(self._numbers)}"
            await self._sql(f"CREATE DATABASE {template}")
            self._made.append(template)
            source = await open_database(sqlite_year)
            target = await open_database(f"{self._base}/{template}")
            try:
                await copy_store(source, target, datetime.now(UTC))
                await (await target.conn.execute("ANALYZE")).fetchall()
            finally:
                await target.close()
                await source.close()
            self._templates[sqlite_year] = template
        name = f"bench_{os.getpid()}_{next(self._numbers)}"
        await self._sql(f"CREATE DATABASE {name} TEMPLATE {self._templates[sqlite_year]}")
        self._made.append(name)
        return f"{self._base}/{name}"

    async def empty(self) -> Path | str:
        """A fresh, empty store (a new SQLite path, or a new PostgreSQL database) for a measurement that fills it."""
        if self.kind == "sqlite":
            return Path(self._tmp) / f"{next(self._numbers)}-empty.db"
        name = f"bench_{os.getpid()}_{next(self._numbers)}"
        await self._sql(f"CREATE DATABASE {name}")
        self._made.append(name)
        return f"{self._base}/{name}"


def store_settings(target: Path | str) -> dict[str, str]:
    """The `[store]` table for a bench's settings: a path, or a url."""
    return {"path": str(target)} if isinstance(target, Path) else {"url": target}
