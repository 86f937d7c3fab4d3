"""A simulated year of trending snapshots at depth 50, built through the store's own functions.

~400 models come and go: each rises to a peak and fades over days to weeks (a few labs' flagships
stay for months); countries are weighted like the 2025 list (CN and US ahead, then FR, KR, ...).
Entries carry what the Hub sends (likes, downloads, an integer trending score) and attributions of
the usual shapes (a namespace, or a base model's id), so the file's size is a fair estimate.

Two cadences: hourly (the query benchmarks) and every 15 minutes (the default `poll_interval`,
for the size of a year's file). Each is cached in bench/out/ under a name that includes a hash of
the store's migrations, so a schema change rebuilds it: `python -m bench.year_db [--every 15]`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from bot.domain.snapshot import Attribution, Entry, Snapshot
from store import snapshots
from store.db import migrations, open_database

OUT = Path(__file__).resolve().parent / "out"
START = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday: ISO week 2025-W02
HOURS = 365 * 24
DEPTH, TOP_N, MODELS = 50, 10, 400
LONG_LIVED = "Qwen/Qwen3-8B"
COUNTRIES = {"CN": 0.38, "US": 0.30, "FR": 0.06, "KR": 0.04, "JP": 0.03, "GB": 0.03, "DE": 0.02, "AE": 0.02,
             "CA": 0.02, "unknown": 0.10}
ORGS = {"CN": "Qwen", "US": "meta-llama", "FR": "mistralai", "KR": "LGAI", "JP": "sakana", "GB": "deepmind",
        "DE": "aleph", "AE": "tiiuae", "CA": "CohereLabs", "unknown": "someone"}
BASES = {"CN": "Qwen/Qwen3-30B-A3B-Instruct-2507", "US": "meta-llama/Llama-3.1-8B-Instruct",
         "FR": "mistralai/Mistral-Small-3.2-24B-Instruct-2506", "KR": "LGAI-EXAONE/EXAONE-4.0-32B",
         "JP": "SakanaAI/TinySwallow-1.5B", "GB": "google/gemma-3-27b-it", "DE": "aleph-alpha/Pharia-1-LLM-7B",
         "AE": "tiiuae/Falcon-H1-34B-Instruct", "CA": "CohereLabs/command-a-03-2025", "unknown": ""}
VERSION = 3  # bump when the simulation itself changes


def schema_key() -> str:
    """Changes whenever a migration is added or edited: the cached file is rebuilt then."""
    digest = hashlib.sha256()
    for number, name, sql in migrations():
        digest.update(f"{number}:{name}:{sql}".encode())
    return digest.hexdigest()[:10]


def db_path(every_minutes: int = 60) -> Path:
    cadence = "hourly" if every_minutes == 60 else f"every{every_minutes}m"
    return OUT / f"year-v{VERSION}-{cadence}-{schema_key()}.db"


def simulate(steps: int, step_hours: float, seed: int = 7) -> tuple[list[str], list[Attribution], np.ndarray]:
    """Model ids, their attributions, and a steps × models score matrix (higher = more trending)."""
    rng = random.Random(seed)
    ids, attributions = [LONG_LIVED], [Attribution("CN", "namespace", "Qwen")]
    peaks = [HOURS / 2]
    widths = [HOURS / 2.5]  # in the list almost all year
    heights = [0.8]
    for i in range(1, MODELS):
        country = rng.choices(list(COUNTRIES), weights=list(COUNTRIES.values()))[0]
        if country != "unknown" and rng.random() < 0.3:  # someone's fine-tune or quantization
            ids.append(f"user{i % 37}/{BASES[country].split('/')[1]}-ft-{i:03d}-GGUF")
            attributions.append(Attribution(country, "base_model", BASES[country]))
        else:
            ids.append(f"{ORGS[country]}/model-{i:03d}")
            attributions.append(Attribution(country, "namespace" if country != "unknown" else "unknown",
                                            ORGS[country] if country != "unknown" else None))
        peaks.append(rng.uniform(-24 * 14, HOURS + 24 * 14))
        widths.append(24 * rng.choice([rng.uniform(3, 14), rng.uniform(14, 60)]))
        heights.append(rng.uniform(0.4, 1.5))
    t = (np.arange(steps, dtype=float) * step_hours)[:, None]
    scores = np.array(heights) * np.exp(-(((t - np.array(peaks)) / np.array(widths)) ** 2))
    noise = np.random.default_rng(seed).normal(1.0, 0.08, scores.shape)
    return ids, attributions, scores * noise


async def build(path: Path, every_minutes: int) -> None:
    steps = HOURS * 60 // every_minutes
    step = timedelta(minutes=every_minutes)
    ids, attributions, scores = simulate(steps, every_minutes / 60)
    order = np.argsort(-scores, axis=1)[:, :DEPTH]
    tmp = path.with_suffix(".tmp")
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)
    db = await open_database(tmp)
    per_transaction = 24 * 7 * 60 // every_minutes
    try:
        for first in range(0, steps, per_transaction):
            async with db.transaction() as conn:
                for k in range(first, min(first + per_transaction, steps)):
                    entries = tuple(
                        Entry(rank=rank, id=ids[m], trending_score=float(int(scores[k, m] * 400)),
                              likes=int(scores[k, m] * 900) + int(m),
                              downloads=int(scores[k, m] * 250_000) + 37 * int(m),
                              attribution=attributions[m])
                        for rank, m in enumerate(order[k], start=1)
                    )
                    await snapshots.save_snapshot(conn, Snapshot(START + k * step, entries), TOP_N, "sim")
        await db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        await db.close()
    tmp.rename(path)


async def ensure(every_minutes: int = 60) -> Path:
    """The cached year database at this cadence, built on first use (1–5 minutes)."""
    path = db_path(every_minutes)
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        for stale in OUT.glob(f"year-*-{path.name.split('-')[2]}-*.db"):
            stale.unlink()
        began = time.perf_counter()
        print(f"building {path.name}: a year of snapshots every {every_minutes} min at depth {DEPTH} ...",
              file=sys.stderr)
        await build(path, every_minutes)
        print(f"built in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=60, help="minutes between snapshots (60 or 15)")
    print(asyncio.run(ensure(parser.parse_args().every)))
