"""A simulated year of hourly trending snapshots at depth 50, built through the store's own functions.

~400 models come and go: each rises to a peak and fades over days to weeks (a few labs' flagships
stay for months); countries are weighted like the 2025 list (CN and US ahead, then FR, KR, ...).
The database is cached in bench/out/ so benchmarks rerun fast: `python -m bench.year_db` builds it.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from bot.snapshot import Attribution, Entry, Snapshot
from store import snapshots
from store.db import open_database

OUT = Path(__file__).resolve().parent / "out"
START = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday: ISO week 2025-W02
HOURS = 365 * 24
DEPTH, TOP_N, MODELS = 50, 10, 400
LONG_LIVED = "Qwen/Qwen3-8B"
COUNTRIES = {"CN": 0.38, "US": 0.30, "FR": 0.06, "KR": 0.04, "JP": 0.03, "GB": 0.03, "DE": 0.02, "AE": 0.02,
             "CA": 0.02, "unknown": 0.10}
ORGS = {"CN": "Qwen", "US": "meta-llama", "FR": "mistralai", "KR": "LGAI", "JP": "sakana", "GB": "deepmind",
        "DE": "aleph", "AE": "tiiuae", "CA": "CohereLabs", "unknown": "someone"}
VERSION = 1


def db_path() -> Path:
    return OUT / f"year-v{VERSION}.db"


def simulate(seed: int = 7) -> tuple[list[str], list[str], np.ndarray]:
    """Model ids, their countries, and an hours × models score matrix (higher = more trending)."""
    rng = random.Random(seed)
    ids, countries = [LONG_LIVED], ["CN"]
    peaks = [HOURS / 2]
    widths = [HOURS / 2.5]  # in the list almost all year
    heights = [0.8]
    for i in range(1, MODELS):
        country = rng.choices(list(COUNTRIES), weights=list(COUNTRIES.values()))[0]
        ids.append(f"{ORGS[country]}/model-{i:03d}")
        countries.append(country)
        peaks.append(rng.uniform(-24 * 14, HOURS + 24 * 14))
        widths.append(24 * rng.choice([rng.uniform(3, 14), rng.uniform(14, 60)]))
        heights.append(rng.uniform(0.4, 1.5))
    t = np.arange(HOURS, dtype=float)[:, None]
    scores = np.array(heights) * np.exp(-(((t - np.array(peaks)) / np.array(widths)) ** 2))
    noise = np.random.default_rng(seed).normal(1.0, 0.08, scores.shape)
    return ids, countries, scores * noise


async def build(path: Path) -> None:
    ids, countries, scores = simulate()
    order = np.argsort(-scores, axis=1)[:, :DEPTH]
    tmp = path.with_suffix(".tmp")
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)
    db = await open_database(tmp)
    try:
        for day in range(0, HOURS, 24 * 7):
            async with db.transaction() as conn:
                for hour in range(day, min(day + 24 * 7, HOURS)):
                    entries = tuple(
                        Entry(rank=rank, id=ids[m], trending_score=float(scores[hour, m]),
                              attribution=Attribution(countries[m], "namespace", ids[m].split("/")[0]))
                        for rank, m in enumerate(order[hour], start=1)
                    )
                    await snapshots.save_snapshot(conn, Snapshot(START + timedelta(hours=hour), entries), TOP_N, "sim")
        await db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        await db.close()
    tmp.rename(path)


async def ensure() -> Path:
    """The cached year database, built on first use (about a minute)."""
    path = db_path()
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        print(f"building {path.name}: {HOURS} hourly snapshots at depth {DEPTH} ...", file=sys.stderr)
        await build(path)
        print(f"built in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    return path


if __name__ == "__main__":
    print(asyncio.run(ensure()))
