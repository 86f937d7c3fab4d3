"""One poll cycle on a year of history, with 1, 1,000 and 10,000 routed channels.

fetch (fake Hub, real huggingface_hub) → attribute → detect → one transaction (SQLite or PostgreSQL): snapshot,
rule state, events and an outbox row per (event, channel). Every round the list churns, so each
poll has alerts to fan out. The database is a copy of the hourly year (`bench.year_db`).

Own work = median cycle − median bare fetch through huggingface_hub, both measured in this run;
the bare fetch is the baseline the ratio is taken to.

    python -m bench.poll_cycle [--channels 1 1000 10000] [--rounds 20] [--store sqlite|postgresql|URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.measure import verdict
from bench.stores import BenchStore, store_settings
from bench.year_db import ensure
from bot.app import Trendwatch
from bot.config import Secrets, parse_settings
from bot.source.hub import HubSource
from store import outbox
from tests.fakes.hub import FakeHub, hub_model

DEPTH = 50
NAMESPACES = ["Qwen", "deepseek-ai", "meta-llama", "google", "mistralai", "unsloth", "bartowski", "jane"]
GOALS = {1: 0.020, 1000: 0.020, 10_000: 0.100}
WARM_ROUNDS = 2


def models_for(round_number: int) -> list[dict[str, object]]:
    """A list that churns every round (entries, exits, sometimes a new #1), with quantizations to attribute."""
    ids = [f"{NAMESPACES[(i + round_number) % len(NAMESPACES)]}/model-{(i * 7 + round_number) % 90}"
           for i in range(DEPTH + 10)]
    unique = list(dict.fromkeys(ids))[:DEPTH]
    return [
        hub_model(model_id, 5000 - 10 * rank, tags=["base_model:quantized:Qwen/Qwen3-8B"]
                  if model_id.startswith(("unsloth", "bartowski")) else [])
        for rank, model_id in enumerate(unique)
    ]


async def measure(year: Path, channels: int, rounds: int, store: BenchStore) -> tuple[float, float, float, int]:
    """(median cycle, median bare fetch, start-up seconds, outbox rows per poll) with `channels` routes."""
    target = await store.year(year)
    async with FakeHub() as hub:
        settings = parse_settings({
            "hub": {"endpoint": hub.endpoint, "depth": DEPTH},
            "store": store_settings(target),
            "console": {"enabled": False},
            "share_rules": [{"country": "CN", "above": 50}, {"country": "US", "below": 20}],
            "routes": [{"platform": "discord", "channel": str(1_300_000_000_000_000_000 + i)}
                       for i in range(channels)],
        }, env={})
        began = time.perf_counter()
        app = await Trendwatch.open(settings, Secrets.from_env({}), {})
        opened = time.perf_counter() - began
        bare = HubSource(hub.endpoint, depth=DEPTH)
        fetch_times, cycle_times = [], []
        try:
            await app.acquire_lease()
            for round_number in range(WARM_ROUNDS + rounds):
                hub.models = models_for(round_number)
                started = time.perf_counter()
                await bare.fetch()
                fetch = time.perf_counter() - started
                started = time.perf_counter()
                result = await app.poll()
                cycle = time.perf_counter() - started
                assert result.error is None, result.error
                if round_number >= WARM_ROUNDS:
                    fetch_times.append(fetch)
                    cycle_times.append(cycle)
            rows = (await outbox.counts(app.db.conn)).get("pending", 0) // (WARM_ROUNDS + rounds)
        finally:
            await app.close()
    return statistics.median(cycle_times), statistics.median(fetch_times), opened, rows


async def main(channel_counts: tuple[int, ...] = (1, 1000, 10_000), rounds: int = 20, store: str = "sqlite") -> None:
    os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="bench-hf-")
    year = await ensure()
    async with BenchStore(store) as stores:
        print(f"poll cycle on {year.name} (a year of hourly snapshots) in {stores.label}, depth {DEPTH},"
              f" median of {rounds} polls; own work = cycle - bare fetch; baseline = the bare fetch")
        for channels in channel_counts:
            cycle, fetch, opened, rows = await measure(year, channels, rounds, stores)
            own = max(cycle - fetch, 0.0)
            verdict(f"own work, {channels:,} routed channel(s), {stores.label}", own, GOALS.get(channels, 0.100),
                    fetch, note=f"(cycle {cycle * 1000:.1f} ms, fetch {fetch * 1000:.1f} ms,"
                                f" ~{rows:,} outbox rows/poll, start-up {opened:.1f} s)")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, nargs="+", default=[1, 1000, 10_000])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--store", default="sqlite", help="sqlite, postgresql (a throwaway server) or a URL")
    args = parser.parse_args()
    asyncio.run(main(tuple(args.channels), args.rounds, args.store))


if __name__ == "__main__":
    cli()
