"""Two workers started together on a store that does not exist yet: both run, one active and one waiting.

Both find schema version 0 and both try to apply every migration; the second
must wait for the first and then see that there is nothing left to apply,
rather than apply 0001 again ("table snapshots already exists") and exit.
Opening the store twice at once in one process races the same way (each
SQLite connection runs in its own thread, each PostgreSQL one on its own
server connection), so most of the repeats are in-process; a few real
`python -m bot run` pairs check the whole start.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from store.db import Database, StoreLocation, migrations, open_database
from tests.fakes.hub import FakeHub, ranked
from tests.support.cli import REPO
from tests.support.postgres import PostgresServer

ACTIVE = "holding the worker lease"
WAITING = "holds the lease; waiting"


def fresh_store(tmp_path: Path, store_backend: str, request: pytest.FixtureRequest, n: int) -> StoreLocation:
    """A store nobody has opened yet: a new file name, or a new empty PostgreSQL database."""
    if store_backend == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        return StoreLocation(url=server.fresh_url())
    return StoreLocation(path=tmp_path / f"tw{n}.db")


async def schema_version(db: Database) -> int:
    sql = "PRAGMA user_version" if db.dialect == "sqlite" else "SELECT MAX(version) FROM schema_version"
    row = await (await db.conn.execute(sql)).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


async def test_opening_a_new_store_twice_at_once_migrates_it_once(
    tmp_path: Path, store_backend: str, request: pytest.FixtureRequest
):
    latest = len(migrations("sqlite" if store_backend == "sqlite" else "postgresql"))
    for n in range(50):
        location = fresh_store(tmp_path, store_backend, request, n)
        opened = await asyncio.gather(open_database(location), open_database(location), return_exceptions=True)
        failures = [str(result) for result in opened if isinstance(result, BaseException)]
        for result in opened:
            if isinstance(result, Database):
                assert await schema_version(result) == latest
                await result.close()
        assert not failures, f"start {n + 1} of 50: {failures}"


async def until_started(worker: asyncio.subprocess.Process, seconds: float = 30.0) -> str:
    """Read the worker's log until it says it is active or waiting; its whole log so far if it exits first."""
    assert worker.stderr is not None
    seen: list[str] = []
    async with asyncio.timeout(seconds):
        while line := (await worker.stderr.readline()).decode():
            seen.append(line)
            if ACTIVE in line or WAITING in line:
                return line
    await worker.wait()
    return f"exited {worker.returncode}: {''.join(seen)}"


async def test_two_run_workers_started_together_on_a_new_store_are_one_active_one_waiting(
    tmp_path: Path, store_backend: str, request: pytest.FixtureRequest
):
    async with FakeHub() as hub:
        hub.models = ranked([f"meta-llama/l{i}" for i in range(10)])
        for n in range(4):
            location = fresh_store(tmp_path, store_backend, request, n)
            config = tmp_path / f"c{n}.toml"
            config.write_text(
                f'[hub]\nendpoint = "{hub.endpoint}"\npoll_interval = "1h"\n\n'
                f'[store]\npath = "{location.path or tmp_path / "unused.db"}"\nlease = "30s"\n\n'
                "[console]\nenabled = true\n", encoding="utf-8")
            env = {**os.environ, "DATABASE_URL": location.url} if location.url else dict(os.environ)
            workers = [await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", "--config", str(config), cwd=REPO, env=env,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE) for _ in range(2)]
            try:
                said = await asyncio.gather(*(until_started(worker) for worker in workers))
            finally:
                for worker in workers:
                    if worker.returncode is None:
                        worker.kill()
                    await worker.wait()
            states = sorted("active" if ACTIVE in line else "waiting" if WAITING in line else line for line in said)
            assert states == ["active", "waiting"], f"pair {n + 1}: {states}"
