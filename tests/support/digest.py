"""A stored week of snapshots for digest tests, built at test time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from store import snapshots
from store.db import open_database
from tests.conftest import snap

W30 = datetime(2025, 7, 21, tzinfo=UTC)  # Monday of 2025-W30


CN = {f"Qwen/q{i}": "CN" for i in range(10)}


US = {f"meta-llama/l{i}": "US" for i in range(10)}


DUE = datetime(2025, 7, 28, 9, tzinfo=UTC)  # "mon 09:00" UTC: the 2025-W30 digest


async def store_week(db: Path, start: datetime = W30, hours: int = 168, step: int = 6) -> None:
    """A snapshot every `step` hours: China holds 6 of the top 10, then 7 from Thursday."""
    database = await open_database(db)
    try:
        async with database.transaction() as conn:
            for hour in range(0, hours, step):
                cn = 6 if hour < 72 else 7
                ids = list(CN)[:cn] + list(US)[: 10 - cn]
                await snapshots.save_snapshot(conn, snap(ids, start + timedelta(hours=hour), {**CN, **US}), 10, "t")
    finally:
        await database.close()
