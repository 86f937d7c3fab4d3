"""`python -m bot run` as an operator runs it: scheduled polls, one worker per database, clean stop."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

from tests.fakes.hub import FakeHub, ranked
from tests.test_cli import REPO, write_config

US = [f"meta-llama/l{i}" for i in range(10)]


async def start(config: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(os.environ), cwd=REPO,
    )


def snapshots(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


async def wait_for(predicate) -> None:
    async with asyncio.timeout(20):
        while not predicate():
            await asyncio.sleep(0.1)


async def stop(process: asyncio.subprocess.Process) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode is not None
    return process.returncode, err.decode()


async def test_run_polls_on_schedule_and_a_second_process_waits_for_the_lease(fake_hub: FakeHub, tmp_path: Path):
    db = tmp_path / "t.db"
    config = write_config(tmp_path / "c.toml", fake_hub, db, hub_extra='poll_interval = "1s"',
                          store_extra='lease = "3s"')
    fake_hub.models = ranked(US)

    first = await start(config)
    await wait_for(lambda: snapshots(db) >= 2)
    second = await start(config)
    await asyncio.sleep(2.5)
    polls_by_first = len(fake_hub.list_requests)

    code, err = await stop(first)
    assert code == 0, err
    assert "shutting down" in err
    await wait_for(lambda: len(fake_hub.list_requests) > polls_by_first + 1)  # the second one took over

    code, err = await stop(second)
    assert code == 0, err
    assert "holds the lease; waiting" in err
