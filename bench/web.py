"""The web page on three years of history: two years of a daily archive (`snapshots.archive` set, top 20)
before a year of the bot's own polls every 15 minutes at depth 50 (bench/year_db.py's year).

Figures, over HTTP from a real aiohttp server on 127.0.0.1 (medians of 21 requests):
- `/api/share` at week resolution over the whole range < 50 ms;
- `/` (every list's top N with movement and headline) < 30 ms;
- the share page with its CSS and script < 300 KB;
- first paint of the share page in headless Chromium (Debian's, driven by Playwright) < 1 s (median of 5 loads).

Baseline, measured in the same run: loading the latest snapshot's entries, the least any page needs.

    python -m bench.web [--store sqlite|postgresql|URL]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import aiohttp
from aiohttp import web

from bench.measure import median_seconds, verdict
from bench.stores import BenchStore, store_settings
from bench.year_db import COUNTRIES, ORGS, OUT, START, ensure, schema_key
from bot.config import parse_settings
from bot.domain.snapshot import Attribution, Entry, Snapshot
from bot.web.site import Site
from store import snapshots
from store.db import Database, open_database

GOALS = {"api_share": 0.050, "top": 0.030, "page_kb": 300.0, "first_paint": 1.0}
ARCHIVE = "severo/trending-repos"
ARCHIVE_DAYS = 730
ARCHIVE_TOP = 20
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def three_years_path() -> Path:
    return OUT / f"web-3y-{schema_key()}.db"


async def build_three_years() -> Path:
    """The cached 15-minute year with two archived years before it (built once, ~10 s on top of the year)."""
    path = three_years_path()
    if path.exists():
        return path
    year = await ensure(15)
    tmp = path.with_suffix(".tmp")
    shutil.copyfile(year, tmp)
    rng = random.Random(3)
    pool = []
    for i in range(600):
        country = rng.choices(list(COUNTRIES), weights=list(COUNTRIES.values()))[0]
        known = country != "unknown"
        pool.append((f"{ORGS[country]}/archived-{i:03d}",
                     Attribution(country, "namespace" if known else "unknown", ORGS[country] if known else None)))
    db = await open_database(tmp)
    try:
        async with db.transaction() as conn:
            for day in range(ARCHIVE_DAYS):
                at = START - timedelta(days=ARCHIVE_DAYS - day) + timedelta(hours=9)
                window = pool[(day * 600) // ARCHIVE_DAYS // 2:][:120]  # the fashionable ones drift over time
                picked = rng.sample(window, ARCHIVE_TOP)
                entries = tuple(Entry(rank=rank, id=hub_id, likes=rng.randint(10, 5000), attribution=attribution)
                                for rank, (hub_id, attribution) in enumerate(picked, start=1))
                sid = await snapshots.save_snapshot(conn, Snapshot(at, entries), 10, "archive", "models")
                await conn.execute("UPDATE snapshots SET archive = ? WHERE id = ?", (ARCHIVE, sid))
        await db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        await db.close()
    tmp.rename(path)
    return path


PAINT = """() => new Promise(resolve => {
  const seen = performance.getEntriesByName("first-paint")[0];
  if (seen) { resolve(seen.startTime); return; }
  new PerformanceObserver(list => {
    const paint = list.getEntriesByName("first-paint")[0];
    if (paint) resolve(paint.startTime);
  }).observe({type: "paint", buffered: true});
  setTimeout(() => resolve(null), 5000);
})"""


def chromium_present() -> bool:
    return CHROMIUM.exists()


async def first_paint(url: str, loads: int = 5) -> float | None:
    """Median first-paint time (seconds) of `loads` fresh page loads, or None without chromium."""
    if not chromium_present():
        return None
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            times = []
            for _ in range(loads + 1):
                page = await browser.new_page(viewport={"width": 1100, "height": 900})
                await page.goto(url, wait_until="load")
                paint = await page.evaluate(PAINT)
                await page.close()
                if paint is not None:
                    times.append(float(paint) / 1000)
            return statistics.median(times[1:]) if len(times) > 1 else None  # the first load warms the browser
        finally:
            await browser.close()


LIVE_POLL = [(f"Qwen/poll-{i}", "CN") for i in range(6)] + [(f"meta-llama/poll-{i}", "US") for i in range(4)]
_polls = iter(range(1, 1_000_000))


async def after_poll(db: Database, fetch: Callable[[str], Awaitable[bytes]]) -> float:
    """A poll's snapshot 15 minutes after the last, then `/api/share` (timed): what a reader sees in steady state."""
    at = START + timedelta(days=365, minutes=15 * next(_polls))
    entries = tuple(Entry(rank=rank, id=hub_id, attribution=Attribution(country, "namespace", hub_id.split("/")[0]))
                    for rank, (hub_id, country) in enumerate(LIVE_POLL, start=1))
    async with db.transaction() as conn:
        await snapshots.save_snapshot(conn, Snapshot(at, entries), 10, "bench", "models")
    began = time.perf_counter()
    await fetch("/api/share?resolution=week")
    return time.perf_counter() - began


async def main(store: str = "sqlite") -> None:
    began = time.perf_counter()
    path = await build_three_years()
    async with BenchStore(store) as stores:
        target = await stores.year(path)
        settings = parse_settings({"store": store_settings(target), "web": {"enabled": True}}, env={})
        db = await open_database(target)
        runner = web.AppRunner(web.Application(), access_log=None)
        runner.app.add_routes(Site(db, settings).routes())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        base = f"http://127.0.0.1:{port}"
        try:
            async with db.conn.execute(
                "SELECT COUNT(*), SUM(CASE WHEN archive IS NULL THEN 0 ELSE 1 END), MIN(taken_at), MAX(taken_at)"
                " FROM snapshots"
            ) as cursor:
                row = await cursor.fetchone()
            assert row is not None
            print(f"{path.name} in {stores.label}: {row[0]} snapshots ({row[1]} archived daily, the rest polled every"
                  f" 15 min), {str(row[2])[:10]} to {str(row[3])[:10]}; built/copied in"
                  f" {time.perf_counter() - began:.0f} s; figures are medians of 21 requests")
            baseline = await median_seconds(lambda: snapshots.latest_snapshots(db.conn, 1))
            print(f"baseline: latest snapshot's entries  {baseline * 1000:.2f} ms")
            async with aiohttp.ClientSession() as session:
                async def fetch(path: str) -> bytes:
                    async with session.get(base + path) as response:
                        assert response.status == 200, (path, response.status, await response.text())
                        return await response.read()

                cold_began = time.perf_counter()
                data = await fetch("/api/share?resolution=week")
                cold = time.perf_counter() - cold_began
                weeks = data.count(b'"start"')
                verdict(f"/api/share (week, 3 years), {stores.label}",
                        await median_seconds(lambda: fetch("/api/share?resolution=week")), GOALS["api_share"],
                        baseline, note=f"({weeks} weeks; history held in memory, checked against the store)")
                after = [await after_poll(db, fetch) for _ in range(21)]
                verdict(f"/api/share after each new poll, {stores.label}", statistics.median(after),
                        GOALS["api_share"], baseline, note="(a snapshot added before each request)")
                print(f"{'/api/share, first request (reads it all)':<40} {cold * 1000:9.2f} ms  (once per process"
                      f" and after a re-attribution; no goal)")
                verdict(f"/ (top N, movement, headline), {stores.label}", await median_seconds(lambda: fetch("/")),
                        GOALS["top"], baseline)
                page = await fetch("/share?resolution=week")
                css, script = await fetch("/static/site.css"), await fetch("/static/site.js")
                weight = (len(page) + len(css) + len(script)) / 1000
                verdict(f"share page + CSS + script, {stores.label}", weight, GOALS["page_kb"], None, unit="KB",
                        note=f"(HTML {len(page) / 1000:.0f} KB, CSS {len(css)} B, script {len(script)} B)")
            paint = await first_paint(base + "/share?resolution=week")
            if paint is None:
                print(f"first paint: not measured ({CHROMIUM} missing, or it reported no paint)")
            else:
                verdict(f"first paint of /share, headless Chromium, {stores.label}", paint, GOALS["first_paint"],
                        None, unit="s", note="(median of 5 fresh loads)")
        finally:
            await runner.cleanup()
            await db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="sqlite", help="sqlite, postgresql (a throwaway server) or a URL")
    asyncio.run(main(parser.parse_args().store))
