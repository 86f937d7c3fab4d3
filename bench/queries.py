"""`trending`, `share` over 7/30/90/365 days and `/model` on a year of hourly snapshots at depth 50,
and the size of a year's file at the default 15-minute interval (the hourly file is its baseline).

`/model` runs on a copy holding 100,000 models (the year's ~400 plus 99,600 seen once at depth),
for an id that is stored (found case-insensitively) and one that is not (which also searches
"did you mean" hints). Baseline, measured in the same run: loading the latest snapshot's entries,
the least any answer needs.

    python -m bench.queries [--store sqlite|postgresql|URL]
"""

from __future__ import annotations

import argparse
import asyncio
import random
from pathlib import Path

from bench.measure import median_seconds, verdict
from bench.stores import BenchStore
from bench.year_db import LONG_LIVED, ensure
from bot.commands.answers import model_message, share_view, trending_view
from bot.commands.caller import CommandError
from store.db import open_database
from store.snapshots import latest_snapshots

MODELS = 100_000
GOALS = {"trending": 0.030, "share": 0.030, "model": 0.005}
GOAL_YEAR_MB = 60.0  # decimal megabytes, as the goal is written
MISSING = "deepseek-ai/DeepSeek-V4-Preview"


async def add_models(path: Path | str, total: int) -> None:
    """Fill the default list's items up to `total` rows with plausible ids, as a bot at depth 1000 would see."""
    rng = random.Random(11)
    words = ["llama", "qwen", "mistral", "phi", "gemma", "coder", "instruct", "chat", "vision", "tiny", "moe",
             "reasoning", "distill", "base", "lora", "merge", "gguf", "awq", "sft", "dpo"]
    db = await open_database(path)
    try:
        async with db.conn.execute("SELECT COUNT(*) FROM items WHERE list = 'models'") as cursor:
            row = await cursor.fetchone()
        have = int(row[0]) if row else 0
        rows = []
        for i in range(total - have):
            name = "-".join(rng.sample(words, 3)) + f"-{rng.randint(1, 70)}B-v{i}"
            rows.append((f"user{rng.randint(1, 20_000)}/{name}", "2025-03-01T00:00:00.000000Z",
                         "2025-03-01T00:00:00.000000Z", rng.randint(11, 1000), "2025-03-01T00:00:00.000000Z"))
        async with db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO items (list, hub_id, first_seen, last_seen, best_rank, best_rank_at)"
                " VALUES ('models', ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", rows)
        if conn.dialect == "postgresql":
            await conn.execute("ANALYZE items")
    finally:
        await db.close()


async def model_miss(conn: object) -> None:
    try:
        await model_message(conn, MISSING)  # type: ignore[arg-type]
    except CommandError:
        return
    raise AssertionError(f"{MISSING} is stored")


async def main(store: str = "sqlite") -> None:
    path = await ensure()
    async with BenchStore(store) as stores:
        db = await open_database(await stores.year(path))
        try:
            async with db.conn.execute("SELECT COUNT(*), (SELECT COUNT(*) FROM entries) FROM snapshots") as cursor:
                row = await cursor.fetchone()
            assert row is not None
            print(f"{path.name} in {stores.label}: {path.stat().st_size / 2**20:.1f} MiB as SQLite, {row[0]} hourly"
                  f" snapshots, {row[1]} entries; figures are medians of 21 runs")
            baseline = await median_seconds(lambda: latest_snapshots(db.conn, 1))
            print(f"baseline: latest snapshot's entries  {baseline * 1000:.2f} ms")
            verdict(f"trending (top 10), {stores.label}", await median_seconds(lambda: trending_view(db.conn)),
                    GOALS["trending"], baseline)
            for days in (7, 30, 90, 365):
                seconds = await median_seconds(lambda days=days: share_view(db.conn, days))  # type: ignore[misc]
                verdict(f"share ({days} days), {stores.label}", seconds, GOALS["share"], baseline)
        finally:
            await db.close()
        copy = await stores.year(path)
        await add_models(copy, MODELS)
        db = await open_database(copy)
        try:
            hit = await median_seconds(lambda: model_message(db.conn, LONG_LIVED.lower()))
            verdict(f"/model hit ({MODELS // 1000}k models), {stores.label}", hit, GOALS["model"], baseline,
                    note="(id in lower case)")
            miss = await median_seconds(lambda: model_miss(db.conn))
            verdict(f"/model miss ({MODELS // 1000}k models), {stores.label}", miss, GOALS["model"], baseline,
                    note="(with 'did you mean' hints)")
        finally:
            await db.close()
    if stores.kind != "sqlite":
        return  # the size goal is the SQLite file's (a PostgreSQL server's disk is its operator's to size)
    quarterly = await ensure(15)
    size = quarterly.stat().st_size / 1e6
    verdict("database, a year every 15 minutes", size, GOAL_YEAR_MB, path.stat().st_size / 1e6, unit="MB",
            note=f"({quarterly.name}; baseline: the hourly year, {path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="sqlite", help="sqlite, postgresql (a throwaway server) or a URL")
    asyncio.run(main(parser.parse_args().store))
