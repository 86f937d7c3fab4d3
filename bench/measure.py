"""Small measuring helpers shared by the benchmarks, and the verdicts `python -m bench` sums up."""

from __future__ import annotations

import resource
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

VERDICTS: list[tuple[str, bool]] = []  # (figure, passed) of every `verdict` in this process


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


async def median_seconds(call: Callable[[], Awaitable[object]], repeat: int = 21, warm: int = 1) -> float:
    """Median wall time of `repeat` awaited calls, after `warm` untimed ones (caches, first compiles)."""
    for _ in range(warm):
        await call()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        await call()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def verdict(name: str, figure: float, goal: float, baseline: float | None, unit: str = "ms",
            note: str = "") -> bool:
    """One line: the figure, its goal (figure < goal passes), the ratio to this run's baseline, PASS/FAIL."""
    passed = figure < goal
    scale = 1000.0 if unit == "ms" else 1.0
    ratio = f"{figure / baseline:6.2f}x baseline" if baseline else "   (no baseline)"
    print(f"{name:<40} {figure * scale:9.2f} {unit:<3}  goal < {goal * scale:g} {unit:<3}  {ratio}  "
          f"{'PASS' if passed else 'FAIL'}{'  ' + note if note else ''}")
    VERDICTS.append((name, passed))
    return passed
