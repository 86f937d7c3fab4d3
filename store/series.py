"""One trending list's series in the store: its snapshots, what it remembers of each item, its source health.

Every list (the default `models` and each `[[lists]]` entry) lives in the same tables keyed by list
name (`snapshots.list`, `items`, `entries`, `source_health`; migration 0008). A `Series` binds the
store's functions to one list, so the poller and the readers speak to any list the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.domain.rule_state import History
from bot.domain.snapshot import DEFAULT_LIST, Snapshot
from store import health, snapshots
from store.db import Conn
from store.health import SourceHealth
from store.snapshots import ShareSummary, StoredSnapshot


@dataclass(frozen=True, slots=True)
class Series:
    name: str = DEFAULT_LIST

    async def latest(self, conn: Conn) -> StoredSnapshot | None:
        latest = await snapshots.latest_snapshots(conn, 1, self.name)
        return latest[0] if latest else None

    async def newest(self, conn: Conn) -> StoredSnapshot | None:
        """The newest snapshot, polled or imported (`latest` is only ever a polled one)."""
        return await snapshots.newest_snapshot(conn, self.name)

    async def latest_snapshots(self, conn: Conn, count: int) -> list[StoredSnapshot]:
        return await snapshots.latest_snapshots(conn, count, self.name)

    async def history(self, conn: Conn, ids: Sequence[str]) -> History:
        return await snapshots.item_history(conn, ids, self.name)

    async def churn_history(
        self, conn: Conn, history: History, leaving: Sequence[str], climbing: Sequence[str], top_n: int,
        before: datetime, window: timedelta,
    ) -> History:
        """`history` with the stays of the models leaving and the recent places of those climbing."""
        if not leaving and not climbing:
            return history
        return replace(
            history,
            stays=await snapshots.top_stays(conn, leaving, top_n, before, before - window, self.name),
            last_at_rank=await snapshots.recent_places(conn, climbing, top_n, before - window, before, self.name),
        )

    async def seen_before(self, conn: Conn, ids: Sequence[str]) -> set[str]:
        return await snapshots.seen_before(conn, ids, self.name)

    async def save(self, conn: Conn, snapshot: Snapshot, top_n: int, source: str) -> int:
        return await snapshots.save_snapshot(conn, snapshot, top_n, source, self.name)

    async def share_summary(self, conn: Conn, since: datetime, until: datetime) -> ShareSummary:
        return await snapshots.share_summary(conn, since, until, self.name)

    async def health(self, conn: Conn) -> SourceHealth:
        return await health.get_health(conn, self.name)

    async def record_failure(self, conn: Conn, error: str, now: datetime) -> SourceHealth:
        return await health.record_failure(conn, error, now, self.name)

    async def set_failing_announced(self, conn: Conn, announced: bool) -> None:
        await health.set_failing_announced(conn, announced, self.name)

    async def record_success(self, conn: Conn, now: datetime) -> None:
        await health.record_success(conn, now, self.name)


def series_of(list_name: str) -> Series:
    return Series(list_name)
