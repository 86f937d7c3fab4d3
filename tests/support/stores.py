"""Helpers for tests that run on both store backends (see `store_backend` in conftest.py)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from store.db import open_database


def store_of(db_path: Path) -> Path | str:
    """What to open in a test: `DATABASE_URL` when the test runs on PostgreSQL, else the SQLite file."""
    return os.environ.get("DATABASE_URL") or db_path


def store_env() -> dict[str, str]:
    """The environment `parse_settings(env=…)` should see: only `DATABASE_URL`, when this run has one."""
    url = os.environ.get("DATABASE_URL")
    return {"DATABASE_URL": url} if url else {}


def query(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the store the way an operator would, outside the bot: sqlite3, or a separate PostgreSQL connection.

    Synchronous (a thread with its own event loop for PostgreSQL), so it can be
    used between steps of an async test like `sqlite3.connect` was.
    """
    target = store_of(db_path)
    if isinstance(target, Path):
        with sqlite3.connect(target) as conn:
            return [tuple(row) for row in conn.execute(sql, params).fetchall()]

    async def read() -> list[tuple[Any, ...]]:
        db = await open_database(target)
        try:
            return list(await (await db.conn.execute(sql, params)).fetchall())
        finally:
            await db.close()

    found: list[list[tuple[Any, ...]]] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            found.append(asyncio.run(read()))
        except BaseException as exc:  # handed to the caller's thread, where the test sees it
            failed.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if failed:
        raise failed[0]
    return found[0]


def count(db_path: Path, sql: str) -> int:
    """One number read from the store; 0 while a `run` starting up has not made its file or tables yet."""
    target = store_of(db_path)
    if isinstance(target, Path) and not target.exists():
        return 0  # sqlite3.connect would create the file the bot is about to make
    try:
        return int(query(db_path, sql)[0][0])
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        return 0
