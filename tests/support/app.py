"""The bot in-process against the fake Hub: settings, an opened app with the console, what it printed."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from adapters.console import ConsoleAdapter
from bot.app import Trendwatch
from bot.config import Secrets, Settings, parse_settings
from tests.fakes.hub import FakeHub
from tests.support.stores import store_env

CN = [f"Qwen/q{i}" for i in range(10)]


US = [f"meta-llama/l{i}" for i in range(10)]


def settings_for(hub: FakeHub, db: Path, hub_settings: dict[str, Any] | None = None, **extra: Any) -> Settings:
    data: dict[str, Any] = {
        "hub": {"endpoint": hub.endpoint, "retry_budget": "3s", "failures_before_notice": 2, **(hub_settings or {})},
        "store": {"path": str(db)},
        "console": {"enabled": True, "format": "jsonl"},
        "share_rules": [{"country": "CN", "above": 50, "notify_resolved": True}],
    }
    data.update(extra)
    return parse_settings(data, env=store_env())


async def open_app(settings: Settings, stream: io.StringIO | None = None, **adapters: Any) -> Trendwatch:
    chosen = {"console": ConsoleAdapter("jsonl", stream or io.StringIO()), **adapters}
    app = await Trendwatch.open(settings, Secrets.from_env({}), chosen)
    assert await app.acquire_lease() is None
    return app


def alerts(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(text) for text in stream.getvalue().splitlines() if text.strip()]


async def count(app: Trendwatch, table: str) -> int:
    async with app.db.conn.execute(f"SELECT COUNT(*) FROM {table}") as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


def dead_pid() -> int:
    """The pid of a process that has exited: what a crashed bot leaves in the lease."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


class Kicks:
    """What the worker's `Deliverer.kick` does, for a test: a delivery pass now, awaited by the test."""

    def __init__(self) -> None:
        self.app: Trendwatch | None = None
        self.passes: list[asyncio.Task[Any]] = []

    def __call__(self) -> None:
        assert self.app is not None
        self.passes.append(asyncio.ensure_future(self.app.deliver()))

    async def settle(self) -> None:
        await asyncio.gather(*self.passes)
