"""`trending` and `share` on a year of hourly snapshots at depth 50.

Baseline, measured in the same process: loading the latest snapshot's entries
(the least any answer needs). The ratio says what the views cost on top of it;
the share view also scans a week of history.

    python -m bench.queries
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from bench.year_db import ensure
from bot.commands import share_view, trending_view
from store.db import open_database
from store.snapshots import latest_snapshots

REPEAT = 21


async def median_time(call: Callable[[], Awaitable[object]]) -> float:
    times = []
    for _ in range(REPEAT):
        began = time.perf_counter()
        await call()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


async def main() -> None:
    path = await ensure()
    db = await open_database(path)
    try:
        async with db.conn.execute("SELECT COUNT(*), (SELECT COUNT(*) FROM entries) FROM snapshots") as cursor:
            row = await cursor.fetchone()
        assert row is not None
        print(f"database {path.name}: {path.stat().st_size / 2**20:.1f} MiB, {row[0]} snapshots, {row[1]} entries")
        baseline = await median_time(lambda: latest_snapshots(db.conn, 1))
        print(f"baseline: latest snapshot's entries   {baseline * 1000:7.2f} ms")
        for name, call in (
            ("trending (top 10)", lambda: trending_view(db.conn)),
            ("trending --country CN", lambda: trending_view(db.conn, None, "CN")),
            ("share (7 days)", lambda: share_view(db.conn, 7)),
            ("share (30 days)", lambda: share_view(db.conn, 30)),
        ):
            seconds = await median_time(call)
            print(f"{name:<22} {seconds * 1000:7.2f} ms   ratio to baseline {seconds / baseline:5.1f}x")
    finally:
        await db.close()


if __name__ == "__main__":
    asyncio.run(main())
