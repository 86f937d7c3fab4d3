"""Two stored days of snapshots for daily digest tests, on whichever store the test runs (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from store import snapshots
from store.db import open_database, utc_iso
from tests.conftest import snap
from tests.support.stores import store_of

DAY = "2025-07-22"
DAY_START = datetime(2025, 7, 22, tzinfo=UTC)
DUE = datetime(2025, 7, 23, 9, tzinfo=UTC)  # `daily = "09:00"` UTC: the 2025-07-22 digest
ARCHIVE = "hf-trending-archive"

CN = [f"Qwen/q{i}" for i in range(10)]
US = [f"meta-llama/l{i}" for i in range(10)]
COUNTRIES = {**dict.fromkeys(CN, "CN"), **dict.fromkeys(US, "US")}
BEFORE = CN[:6] + US[:4]  # the day before, and the 22nd until noon: Qwen/q0 first, China 6 of 10
AFTER = [US[0], *CN[:7], *US[1:3]]  # from noon: meta-llama/l0 takes #1 (from #7), Qwen/q6 enters, China 7 of 10


async def store_days(db_path: Path) -> None:
    """The 21st every 6 hours, then the 22nd every 3 hours (UTC); the 22nd's 03:00 snapshot came from an archive."""
    database = await open_database(store_of(db_path))
    try:
        async with database.transaction() as conn:
            for hour in range(0, 24, 6):
                await snapshots.save_snapshot(conn, snap(BEFORE, DAY_START - timedelta(days=1, hours=-hour),
                                                         COUNTRIES), 10, "t")
            for hour in range(0, 24, 3):
                ids = BEFORE if hour < 12 else AFTER
                await snapshots.save_snapshot(conn, snap(ids, DAY_START + timedelta(hours=hour), COUNTRIES), 10, "t")
            await conn.execute("UPDATE snapshots SET archive = ? WHERE taken_at = ?",
                               (ARCHIVE, utc_iso(DAY_START + timedelta(hours=3))))
    finally:
        await database.close()
