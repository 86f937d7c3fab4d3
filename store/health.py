"""The Hub's health as the poller saw it: consecutive failures and whether we said so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from store.db import Conn, from_iso, utc_iso


@dataclass(frozen=True, slots=True)
class SourceHealth:
    failures: int
    last_error: str | None
    last_failure_at: datetime | None
    last_success_at: datetime | None
    failing_announced: bool


async def get_health(conn: Conn) -> SourceHealth:
    async with conn.execute(
        "SELECT failures, last_error, last_failure_at, last_success_at, failing_announced"
        " FROM source_health WHERE id = 1"
    ) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    failures, error, failed_at, success_at, announced = row
    return SourceHealth(
        failures=int(failures),
        last_error=error,
        last_failure_at=from_iso(failed_at) if failed_at else None,
        last_success_at=from_iso(success_at) if success_at else None,
        failing_announced=bool(announced),
    )


async def record_failure(conn: Conn, error: str, now: datetime) -> SourceHealth:
    await conn.execute(
        "UPDATE source_health SET failures = failures + 1, last_error = ?, last_failure_at = ? WHERE id = 1",
        (error[:500], utc_iso(now)),
    )
    return await get_health(conn)


async def set_failing_announced(conn: Conn, announced: bool) -> None:
    await conn.execute("UPDATE source_health SET failing_announced = ? WHERE id = 1", (int(announced),))


async def record_success(conn: Conn, now: datetime) -> None:
    await conn.execute(
        "UPDATE source_health SET failures = 0, last_success_at = ?, failing_announced = 0 WHERE id = 1",
        (utc_iso(now),),
    )
