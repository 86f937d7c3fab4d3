"""The web page in a real browser: Debian's chromium, driven by Playwright's Python package.

Every page opens with no console error (a CSP violation is one) and no failed request; the share
chart has one band per country plus unknown, each with as many points as the table has buckets;
the chart fits a phone's width; the table reads with JavaScript off. The share page's screenshot
is kept in docs/screenshots/share.png for the README.

Playwright's own browser download is never used: `executable_path` points at the system chromium.
Without it the test is skipped on a workstation and fails in CI (`CI` set), which installs it.
"""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.events import Entered, EnteredModel
from store.db import Database
from tests.fakes.hub import FakeHub
from tests.fakes.hub import ranked as hub_ranked
from tests.support.archives import PARK_TOP10, park_archive, real_snapshots
from tests.support.cli import REPO, bot, write_config
from tests.support.web import add_sent_alert, add_snapshot, ranked, site_client

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
SCREENSHOT = REPO / "docs" / "screenshots" / "share.png"
START = datetime(2025, 1, 6, 12, tzinfo=UTC)
ARCHIVE = "park-onezero/daily-hf-trending"

LABS = {
    "CN": ["Qwen/Qwen3-8B", "deepseek-ai/DeepSeek-V3", "moonshotai/Kimi-K2-Instruct", "zai-org/GLM-4.5",
           "tencent/HunyuanWorld-1", "Wan-AI/Wan2.2-T2V", "Qwen/Qwen3-Omni", "baidu/ERNIE-4.5"],
    "US": ["meta-llama/Llama-3.3-70B", "google/gemma-3-27b-it", "microsoft/phi-4", "openai/gpt-oss-20b",
           "black-forest-labs/FLUX.1-dev", "nvidia/Nemotron-H", "ibm-granite/granite-4.0",
           "HuggingFaceTB/SmolLM3-3B"],
    "FR": ["mistralai/Mistral-Small-3.2"],
    "unknown": ["someone/merged-7b", "anon/uncensored-v2"],
}


def mix(day: int) -> list[tuple[str, str]]:
    """A plausible top 10 on a day: China's share grows through the half-year, a little noise on top."""
    china = min(8, 3 + day // 30 + (1 if math.sin(day / 3) > 0.6 else 0))
    unknown = 1 if day % 9 == 0 else 0
    france = 1 if day % 5 < 2 else 0
    us = 10 - china - unknown - france
    picked = ([(m, "CN") for m in LABS["CN"][:china]] + [(m, "US") for m in LABS["US"][:us]]
              + [(m, "FR") for m in LABS["FR"][:france]] + [(m, "unknown") for m in LABS["unknown"][:unknown]])
    return picked[day % 10:] + picked[:day % 10]


async def fill(db: Database) -> None:
    """Half a year of a daily archive, then three weeks of the bot's own polls every six hours."""
    for day in range(168):
        await add_snapshot(db, START + timedelta(days=day), ranked(*mix(day)), archive=ARCHIVE)
    live = START + timedelta(days=168)
    for poll in range(21 * 4):
        await add_snapshot(db, live + timedelta(hours=6 * poll), ranked(*mix(168 + poll // 4)))
    await add_sent_alert(db, Entered(taken_at=live, top_n=10, models=(
        EnteredModel(id="Qwen/Qwen3-Omni", rank=3, country="CN"),)), live)


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: `apt-get install chromium` (Debian) runs the browser test"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must run it: see .ci/run)")
        pytest.skip(message)
    return CHROMIUM


@pytest.mark.sqlite_only
async def test_every_page_in_a_real_browser(db_path: Path, chromium: Path, tmp_path: Path) -> None:
    from playwright.async_api import ConsoleMessage, Request, Response, async_playwright

    async with site_client(db_path) as (client, db):
        await fill(db)
        base = str(client.make_url("")).rstrip("/")
        share_query = "/share?list=models&resolution=week"
        expected = await (await client.get("/api" + share_query)).json()
        problems: list[str] = []

        def on_console(message: ConsoleMessage) -> None:
            if message.type in ("error", "warning"):
                problems.append(f"console {message.type}: {message.text}")

        def on_failed(request: Request) -> None:
            problems.append(f"request failed: {request.url} {request.failure}")

        def on_response(response: Response) -> None:
            if response.status >= 400:
                problems.append(f"HTTP {response.status}: {response.url}")

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(chromium), headless=True,
                                                       args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1100, "height": 900})
                page.on("console", on_console)
                page.on("requestfailed", on_failed)
                page.on("response", on_response)
                for path in ["/", share_query, "/model/Qwen/Qwen3-8B", "/attribution", "/alerts",
                             "/share?resolution=month&from=2025-03-01&to=2025-05-31"]:
                    await page.goto(base + path, wait_until="load")
                    assert await page.locator("h1").count() == 1, path
                assert problems == []

                await page.goto(base + share_query, wait_until="load")
                bands = page.locator("svg.chart path.band")
                drawn = [(await bands.nth(i).get_attribute("data-country"),
                          await bands.nth(i).get_attribute("data-points")) for i in range(await bands.count())]
                weeks = len(expected["buckets"])
                assert weeks == 28  # 24 archived weeks, then the polls from Monday noon to a Monday past midnight
                assert drawn == [(country, str(weeks)) for country in expected["countries"]]
                assert expected["countries"][-1] == "unknown" and set(expected["countries"]) == {"CN", "US", "FR",
                                                                                                  "unknown"}
                coordinates = await bands.first.get_attribute("d")
                assert coordinates is not None and coordinates.count(",") == 4 * weeks  # two corners per step
                sources = page.locator("svg.chart rect.source")
                assert await sources.count() == weeks
                assert await page.locator('rect.source[data-source="live"]').count() == 4  # 3 weeks and a few hours
                assert await page.locator("table.figures tbody tr").count() == weeks
                await page.screenshot(path=str(tmp_path / "share-weeks.png"), full_page=False)

                phone = await browser.new_page(viewport={"width": 390, "height": 800}, device_scale_factor=2)
                await phone.goto(base + share_query, wait_until="load")
                box = await phone.locator("svg.chart").bounding_box()
                assert box is not None and box["width"] <= 390 and box["height"] > 100

                no_script = await browser.new_context(java_script_enabled=False)
                plain = await no_script.new_page()
                await plain.goto(base + share_query, wait_until="load")
                assert await plain.locator("table.figures tbody tr").count() == weeks
                assert await plain.locator("svg.chart path.band").count() == len(expected["countries"])
                await no_script.close()
            finally:
                await browser.close()
        assert problems == []
    assert (tmp_path / "share-weeks.png").stat().st_size > 10_000


@pytest.mark.sqlite_only
async def test_the_park_onezero_archive_beside_the_bots_own_polls(db_path: Path, chromium: Path, tmp_path: Path,
                                                                   fake_hub: FakeHub) -> None:
    """The README's screenshot: the real archive imported through `python -m bot import`, then two polls."""
    from playwright.async_api import async_playwright

    recorded = real_snapshots(PARK_TOP10)
    # A git-scraped archive commits only when its file changed: a snapshot equal to the one before is no commit.
    history = [snapshot for i, snapshot in enumerate(recorded)
               if i == 0 or [r["model_id"] for r in snapshot[1]] != [r["model_id"] for r in recorded[i - 1][1]]]
    repo = park_archive(tmp_path / "daily-hf-trending", broken=False, source=PARK_TOP10)
    config = write_config(tmp_path / "trendwatch.toml", fake_hub, db_path)
    run = await bot("import", str(repo), "--config", str(config), "--archive", ARCHIVE)
    assert run.code == 0 and f"imported {len(history)} snapshots" in run.out, run.err
    fake_hub.models = hub_ranked(row["model_id"] for row in history[-1][1])
    for _ in range(2):
        run = await bot("once", "--config", str(config))
        assert run.code == 0, run.err
    this_month = datetime.now(UTC).date().replace(day=1).isoformat()
    async with site_client(db_path) as (client, _db):
        query = "/share?list=models&resolution=month"
        expected = await (await client.get("/api" + query)).json()
        assert [(b["start"], b["sources"]) for b in expected["buckets"]] == [
            ("2026-03-01", [ARCHIVE]), ("2026-04-01", [ARCHIVE]), ("2026-05-01", [ARCHIVE]), (this_month, ["live"])]
        assert [b["snapshots"] for b in expected["buckets"]][:3] == [
            sum(1 for when, _ in history if when.month == month) for month in (3, 4, 5)]
        problems: list[str] = []
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(chromium), headless=True,
                                                       args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1100, "height": 900})
                page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
                        if message.type in ("error", "warning") else None)
                page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
                await page.goto(str(client.make_url(query)), wait_until="load")
                bands = page.locator("svg.chart path.band")
                assert await bands.count() == len(expected["countries"])
                assert await page.locator('rect.source[data-source="archive"]').count() == 3
                assert await page.locator('rect.source[data-source="live"]').count() == 1
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(SCREENSHOT), full_page=False)
            finally:
                await browser.close()
        assert problems == []
    assert SCREENSHOT.stat().st_size > 10_000
