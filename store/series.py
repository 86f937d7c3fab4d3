"""One trending list's series in the store: its snapshots, per-item memory and source health.

The default list keeps the tables it always had (`entries`, `models`, `source_health`); every other
list lives in `list_entries`, `list_items` and `list_health`. The poller speaks to either through
this one interface, so polling one list is one piece of code (`bot.poller.poll.poll_list`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot.domain.rule_state import History
from bot.domain.snapshot import DEFAULT_LIST, Snapshot
from store import health, snapshots
from store import lists as list_store
from store.db import Conn
from store.health import SourceHealth
from store.snapshots import StoredSnapshot


class Series(Protocol):
    async def latest(self, conn: Conn) -> StoredSnapshot | None: ...

    async def history(self, conn: Conn, ids: Sequence[str]) -> History: ...

    async def save(self, conn: Conn, snapshot: Snapshot, top_n: int, source: str) -> int: ...

    async def health(self, conn: Conn) -> SourceHealth: ...

    async def record_failure(self, conn: Conn, error: str, now: datetime) -> SourceHealth: ...

    async def set_failing_announced(self, conn: Conn, announced: bool) -> None: ...

    async def record_success(self, conn: Conn, now: datetime) -> None: ...


class DefaultSeries:
    """The Hub's overall trending models: the tables the bot had before `[[lists]]`."""

    async def latest(self, conn: Conn) -> StoredSnapshot | None:
        latest = await snapshots.latest_snapshots(conn, 1)
        return latest[0] if latest else None

    async def history(self, conn: Conn, ids: Sequence[str]) -> History:
        return await snapshots.model_history(conn, ids)

    async def save(self, conn: Conn, snapshot: Snapshot, top_n: int, source: str) -> int:
        return await snapshots.save_snapshot(conn, snapshot, top_n, source)

    async def health(self, conn: Conn) -> SourceHealth:
        return await health.get_health(conn)

    async def record_failure(self, conn: Conn, error: str, now: datetime) -> SourceHealth:
        return await health.record_failure(conn, error, now)

    async def set_failing_announced(self, conn: Conn, announced: bool) -> None:
        await health.set_failing_announced(conn, announced)

    async def record_success(self, conn: Conn, now: datetime) -> None:
        await health.record_success(conn, now)


class OtherSeries:
    """A `[[lists]]` entry: its rows carry its name."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def latest(self, conn: Conn) -> StoredSnapshot | None:
        latest = await list_store.latest_list_snapshots(conn, self.name, 1)
        return latest[0] if latest else None

    async def history(self, conn: Conn, ids: Sequence[str]) -> History:
        return await list_store.list_history(conn, self.name, ids)

    async def save(self, conn: Conn, snapshot: Snapshot, top_n: int, source: str) -> int:
        return await list_store.save_list_snapshot(conn, self.name, snapshot, top_n, source)

    async def health(self, conn: Conn) -> SourceHealth:
        return await list_store.list_health(conn, self.name)

    async def record_failure(self, conn: Conn, error: str, now: datetime) -> SourceHealth:
        return await list_store.record_list_failure(conn, self.name, error, now)

    async def set_failing_announced(self, conn: Conn, announced: bool) -> None:
        await list_store.set_list_failing_announced(conn, self.name, announced)

    async def record_success(self, conn: Conn, now: datetime) -> None:
        await list_store.record_list_success(conn, self.name, now)


def series_of(list_name: str) -> Series:
    return DefaultSeries() if list_name == DEFAULT_LIST else OtherSeries(list_name)
