"""Weekly digest on a year of hourly snapshots at depth 50: data (queries + maths), chart, `/model`.

`python -m bench.digest` — prints each figure with its goal and the ratio figure / goal (< 1 is good).
The chart is timed cold (first call: lazy matplotlib import included, as the bot's first digest
pays it) and warm.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from bench.year_db import LONG_LIVED, START, ensure
from bot.config import parse_settings
from bot.events import Digest
from store.db import open_database

T = TypeVar("T")
WEEK = "2025-W27"  # mid-year: a full year-to-date of history before it
GOALS = {"digest data": 0.200, "chart (cold)": 1.5, "chart (warm)": 1.5, "/model": 0.050}


async def timed(call: Callable[[], Awaitable[T]], repeat: int) -> tuple[T, list[float]]:
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = await call()
        times.append(time.perf_counter() - began)
    assert result is not None
    return result, times


def report(name: str, seconds: float, extra: str = "") -> None:
    goal = GOALS[name]
    print(f"{name:<14} {seconds * 1000:8.1f} ms   goal {goal * 1000:6.0f} ms   ratio {seconds / goal:5.2f}{extra}")


async def main() -> None:
    from bot.chart import digest_image
    from bot.commands import model_message
    from bot.weekly import compute_digest

    path = await ensure()
    settings = parse_settings({"store": {"path": str(path)}, "hub": {"poll_interval": "1h"}}, env={})
    db = await open_database(path)
    try:
        async with db.conn.execute("SELECT COUNT(*) FROM snapshots") as cur:
            row = await cur.fetchone()
        assert row is not None
        size = path.stat().st_size / 2**20
        print(f"database {path.name}: {size:.0f} MiB, {row[0]} snapshots from {START:%Y-%m-%d}, depth 50")
        now = datetime(2025, 7, 7, 9, tzinfo=START.tzinfo) + timedelta(days=0)
        digest: Digest
        digest, data_times = await timed(lambda: compute_digest(db.conn, settings, WEEK, now), 7)
        report("digest data", statistics.median(data_times),
               f"   (median of 7; first {data_times[0] * 1000:.1f} ms; {digest.snapshots} snapshots)")
        _, cold = await timed(lambda: asyncio.to_thread(digest_image, digest), 1)
        report("chart (cold)", cold[0], "   (incl. matplotlib import)")
        image, warm = await timed(lambda: asyncio.to_thread(digest_image, digest), 5)
        assert image is not None
        report("chart (warm)", statistics.median(warm), f"   (median of 5; {len(image.data) / 1024:.0f} KiB PNG)")
        message, model_times = await timed(lambda: model_message(db.conn, LONG_LIVED), 21)
        report("/model", statistics.median(model_times), f"   (median of 21; {message.title})")
    finally:
        await db.close()


if __name__ == "__main__":
    asyncio.run(main())
