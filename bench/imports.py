"""`python -m bot import` on a year of hourly snapshots (8,760 commits of ~20 rows, a git archive built here
with `git fast-import`) and on the park-onezero archive (its bundle, 145 commits), into an empty store.

Goals (issue 18): the year under 60 s, park-onezero under 10 s, both including reading the git history.
Baseline, measured in the same run: reading that history alone (`read_source`: git log, one
`git cat-file --batch`, parsing), the least an import needs; the ratio is what storing adds.

    python -m bench.imports [--store sqlite|postgresql|URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.measure import verdict
from bench.stores import BenchStore, store_settings
from bot.archive.importer import import_reading
from bot.archive.reading import read_source
from bot.config import parse_settings
from store.db import open_database

REPO = Path(__file__).resolve().parents[1]
# The bundled archive sits in the shared reference folder beside the checkout (`../shared/...`); a work tree
# one level deeper finds it one level further up. `--park PATH` names another.
PARK_NAME = Path("shared") / "reference" / "archives" / "park-onezero-2026-03-to-05.bundle"
PARK_PLACES = (REPO.parent / PARK_NAME, REPO.parent.parent / PARK_NAME)
HOURS = 8760
ROWS = 20
GOALS = {"year": 60.0, "park": 10.0}


def year_of_versions(seed: int = 7) -> list[tuple[datetime, str]]:
    """Hourly `trending.json` versions of a plausible top 20: a pool of labs' models drifting through the ranks."""
    rng = random.Random(seed)
    labs = ["Qwen", "deepseek-ai", "meta-llama", "google", "mistralai", "zai-org", "moonshotai", "unsloth",
            "black-forest-labs", "openai", "microsoft", "nvidia", "tencent", "MiniMaxAI", "LiquidAI", "someone"]
    pool = [f"{rng.choice(labs)}/model-{i}" for i in range(400)]
    start = datetime(2025, 1, 1, tzinfo=UTC)
    window = 0
    versions = []
    for hour in range(HOURS):
        if hour % 6 == 0:
            window = min(window + rng.randint(0, 1), len(pool) - 40)
        chosen = rng.sample(pool[window:window + 40], ROWS)
        items = [{"rank": rank, "id": model_id, "trendingScore": 500 - 10 * rank, "likes": rng.randint(10, 9000),
                  "downloads": rng.randint(100, 900_000), "pipeline_tag": "text-generation"}
                 for rank, model_id in enumerate(chosen, start=1)]
        versions.append((start + timedelta(hours=hour), json.dumps(items)))
    return versions


def build_git_archive(repo: Path, versions: list[tuple[datetime, str]]) -> Path:
    """One commit per version with its own commit time, streamed through `git fast-import` (seconds, not the
    minutes 8,760 `git commit` processes would take)."""
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main", str(repo)], check=True)
    stream: list[bytes] = []
    for number, (when, text) in enumerate(versions, start=1):
        data = text.encode()
        stamp = f"{int(when.timestamp())} +0000"
        message = f"update trending.json {when.isoformat()}".encode()
        stream += [b"commit refs/heads/main\n", f"mark :{number}\n".encode(),
                   f"author bench <bench@example.org> {stamp}\n".encode(),
                   f"committer bench <bench@example.org> {stamp}\n".encode(),
                   f"data {len(message)}\n".encode(), message, b"\n"]
        if number > 1:
            stream.append(f"from :{number - 1}\n".encode())
        stream += [f"M 100644 inline trending.json\ndata {len(data)}\n".encode(), data, b"\n"]
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=b"".join(stream), check=True)
    subprocess.run(["git", "-C", str(repo), "checkout", "--quiet", "main"], check=True)
    return repo


async def timed_import(stores: BenchStore, source: Path) -> tuple[float, float, int]:
    """(seconds to read the history alone, seconds for the whole import, snapshots imported)."""
    began = time.perf_counter()
    read_source(source)
    reading_only = time.perf_counter() - began
    target = await stores.empty()
    settings = parse_settings({"store": store_settings(target)}, env={}, origin="bench")
    db = await open_database(target)
    try:
        began = time.perf_counter()
        report = await import_reading(db, settings, read_source(source), progress=lambda total: _Quiet())
        whole = time.perf_counter() - began + 0.0
    finally:
        await db.close()
    return reading_only, whole, report.snapshots


class _Quiet:
    def update(self, done: int) -> None:
        pass

    def close(self) -> None:
        pass


async def main(store: str = "sqlite", park: Path | None = None) -> None:
    park = park or next((place for place in PARK_PLACES if place.is_file()), PARK_PLACES[0])
    with tempfile.TemporaryDirectory(prefix="bench-imports-") as tmp:
        began = time.perf_counter()
        repo = build_git_archive(Path(tmp) / "year", year_of_versions())
        print(f"a year of hourly snapshots: {HOURS} commits of {ROWS} rows built in"
              f" {time.perf_counter() - began:.1f} s (git fast-import)")
        async with BenchStore(store) as stores:
            reading, whole, imported = await timed_import(stores, repo)
            assert imported == HOURS, imported
            print(f"baseline: reading the year's git history alone  {reading:.2f} s")
            verdict(f"import a year hourly ({HOURS} snapshots), {stores.label}", whole, GOALS["year"], reading,
                    unit="s")
            if not park.is_file():
                print(f"park-onezero archive: missing ({park} not found; --park PATH); not measured")
                return
            reading, whole, imported = await timed_import(stores, park)
            print(f"baseline: reading park-onezero's git history alone  {reading:.2f} s ({imported} snapshots)")
            verdict(f"import park-onezero ({imported} snapshots), {stores.label}", whole, GOALS["park"], reading,
                    unit="s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="sqlite", help="sqlite, postgresql (a throwaway server) or a URL")
    parser.add_argument("--park", type=Path, default=None, help="the park-onezero .bundle (or a clone of it)")
    options = parser.parse_args()
    asyncio.run(main(options.store, options.park))
