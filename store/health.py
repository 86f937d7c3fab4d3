"""The Hub's health as each list's poller saw it: consecutive failures and whether we said so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.snapshot import DEFAULT_LIST
from store.db import Conn, from_iso, stored_text, utc_iso


@dataclass(frozen=True, slots=True)
class SourceHealth:
    failures: int
    last_error: str | None
    last_failure_at: datetime | None
    last_success_at: datetime | None
    failing_announced: bool


async def get_health(conn: Conn, list_name: str = DEFAULT_LIST) -> SourceHealth:
    """A list never polled (or never failing) has no row: healthy, nothing known."""
    row = await (await conn.execute(
        "SELECT failures, last_error, last_failure_at, last_success_at, failing_announced"
        " FROM source_health WHERE list = ?", (list_name,))).fetchone()
    if row is None:
        return SourceHealth(0, None, None, None, False)
    failures, error, failed_at, success_at, announced = row
    return SourceHealth(
        failures=int(failures),
        last_error=stored_text(error),
        last_failure_at=from_iso(failed_at) if failed_at else None,
        last_success_at=from_iso(success_at) if success_at else None,
        failing_announced=bool(announced),
    )


async def record_failure(conn: Conn, error: str, now: datetime, list_name: str = DEFAULT_LIST) -> SourceHealth:
    await conn.execute(
        "INSERT INTO source_health (list, failures, last_error, last_failure_at) VALUES (?, 1, ?, ?)"
        " ON CONFLICT (list) DO UPDATE SET failures = source_health.failures + 1,"
        " last_error = excluded.last_error, last_failure_at = excluded.last_failure_at",
        (list_name, error[:500], utc_iso(now)),
    )
    return await get_health(conn, list_name)


async def set_failing_announced(conn: Conn, announced: bool, list_name: str = DEFAULT_LIST) -> None:
    await conn.execute("UPDATE source_health SET failing_announced = ? WHERE list = ?", (int(announced), list_name))


async def record_success(conn: Conn, now: datetime, list_name: str = DEFAULT_LIST) -> None:
    await conn.execute(
        "INSERT INTO source_health (list, last_success_at) VALUES (?, ?)"
        " ON CONFLICT (list) DO UPDATE SET failures = 0, last_success_at = excluded.last_success_at,"
        " failing_announced = 0",
        (list_name, utc_iso(now)),
    )
