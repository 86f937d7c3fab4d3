"""Weekly digest on a year of hourly snapshots at depth 50: data (queries + maths), chart, `/model`.

`python -m bench.digest` — prints each figure with its goal and the ratio figure / goal (< 1 is good).
The chart is drawn as the bot draws it, in a child process (`bot.digest.chart_worker`), and timed with
how long it stalls the event loop (a 1 ms ticker's worst lateness while it draws); the baseline
is the same chart drawn in a thread of this process (`asyncio.to_thread`), as the bot used to.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from bench.measure import verdict
from bench.year_db import LONG_LIVED, START, ensure
from bot.config import parse_settings
from bot.domain.events import Digest
from store.db import open_database

T = TypeVar("T")
WEEK = "2025-W27"  # mid-year: a full year-to-date of history before it
GOALS = {"digest data": 0.200, "chart (worker)": 2.5, "/model": 0.050}
GOAL_STALL = 0.005


async def timed(call: Callable[[], Awaitable[T]], repeat: int) -> tuple[T, list[float]]:
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = await call()
        times.append(time.perf_counter() - began)
    assert result is not None
    return result, times


async def _tick(done: asyncio.Event, worst: list[float]) -> None:
    """Sleep 1 ms at a time until `done`, keeping in worst[0] the most any wake-up came late."""
    while not done.is_set():
        began = time.perf_counter()
        await asyncio.sleep(0.001)
        worst[0] = max(worst[0], time.perf_counter() - began - 0.001)


async def stalled(call: Callable[[], Awaitable[T]], repeat: int) -> tuple[T, list[float], list[float]]:
    """Result, wall times and the worst lateness of a 1 ms ticker on this loop during each call."""
    times, stalls, result = [], [], None
    for _ in range(repeat):
        done, worst = asyncio.Event(), [0.0]
        ticker = asyncio.create_task(_tick(done, worst))
        await asyncio.sleep(0.01)
        began = time.perf_counter()
        result = await call()
        times.append(time.perf_counter() - began)
        done.set()
        await ticker
        stalls.append(worst[0])
    assert result is not None
    return result, times, stalls


def report(name: str, seconds: float, extra: str = "") -> None:
    goal = GOALS[name]
    print(f"{name:<14} {seconds * 1000:8.1f} ms   goal {goal * 1000:6.0f} ms   ratio {seconds / goal:5.2f}{extra}")


async def main() -> None:
    from bot.commands.answers import model_message
    from bot.digest.chart import digest_image
    from bot.digest.chart_worker import digest_image as worker_digest_image
    from bot.digest.weekly import compute_digest

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
        _, _, idle_stalls = await stalled(lambda: asyncio.sleep(0.75, result=True), 7)
        worker_image, worker_times, worker_stalls = await stalled(lambda: worker_digest_image(digest), 7)
        assert worker_image is not None
        report("chart (worker)", statistics.median(worker_times),
               f"   (median of 7, child start-up included; {len(worker_image.data) / 1024:.0f} KiB PNG)")
        _, _, thread_stalls = await stalled(lambda: asyncio.to_thread(digest_image, digest), 8)
        thread_stall = statistics.median(thread_stalls[1:])  # the first pays matplotlib's import
        verdict("chart: event-loop stall", statistics.median(worker_stalls), GOAL_STALL, thread_stall,
                note=f"(median of 7; baseline: drawn in a thread, {thread_stall * 1000:.1f} ms;"
                     f" this machine's idle loop: {statistics.median(idle_stalls) * 1000:.1f} ms)")
        message, model_times = await timed(lambda: model_message(db.conn, LONG_LIVED), 21)
        report("/model", statistics.median(model_times), f"   (median of 21; {message.title})")
    finally:
        await db.close()


if __name__ == "__main__":
    asyncio.run(main())
