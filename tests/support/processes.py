"""`python -m bot run` as a child process: started, waited on by what it stores, stopped with a signal."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.support.cli import REPO
from tests.support.stores import count


async def start(config: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(os.environ), cwd=REPO,
    )


def snapshots(db: Path) -> int:
    """Snapshots stored so far in the test's store (0 while the file or its tables do not exist yet)."""
    return count(db, "SELECT COUNT(*) FROM snapshots")


async def wait_for(predicate) -> None:
    async with asyncio.timeout(20):
        while not predicate():
            await asyncio.sleep(0.1)


_READ: dict[int, list[str]] = {}  # pid → stderr lines `wait_for_line` already read


async def wait_for_line(process: asyncio.subprocess.Process, text: str) -> str:
    """Read the process's log until a line holds `text`: an event to wait on, where a fixed sleep would be a
    guess that a loaded machine (or pytest-xdist's other workers) proves wrong. `stop` still returns them all."""
    assert process.stderr is not None
    seen = _READ.setdefault(process.pid, [])
    async with asyncio.timeout(30):
        while True:
            raw = await process.stderr.readline()
            if not raw:
                raise AssertionError(f"the process ended before logging {text!r}:\n{''.join(seen)}")
            seen.append(raw.decode())
            if text in seen[-1]:
                return seen[-1]


async def stop(process: asyncio.subprocess.Process) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode is not None
    return process.returncode, "".join(_READ.pop(process.pid, [])) + err.decode()
