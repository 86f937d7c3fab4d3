"""The digest end to end on a real SQLite file: scheduled, missed, restarted, empty, on demand, delivered."""

from __future__ import annotations

import io
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image as PILImage

from adapters.console import ConsoleAdapter
from bot.app import Trendwatch, digest_trigger
from bot.config import Secrets, Settings, parse_settings
from store.db import open_database
from tests.support.cli import REPO
from tests.support.digest import DUE, store_week


def settings_for(db: Path, **digest: Any) -> Settings:
    return parse_settings({"store": {"path": str(db)}, "console": {"enabled": True, "format": "text"},
                           "digest": {"schedule": "mon 09:00", "grace": "12h", **digest}}, env={})


async def open_app(settings: Settings, stream: io.StringIO, image_dir: Path | None = None) -> Trendwatch:
    app = await Trendwatch.open(settings, Secrets.from_env({}), {"console": ConsoleAdapter("text", stream, image_dir)})
    assert await app.acquire_lease() is None
    return app


def count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


async def test_a_missed_digest_is_sent_once_within_grace_even_across_a_restart(db_path: Path, tmp_path: Path):
    await store_week(db_path)
    stream = io.StringIO()
    app = await open_app(settings_for(db_path), stream, tmp_path / "charts")
    try:
        outcome = await app.digest_due(DUE + timedelta(hours=3))  # down at 09:00, back at 12:00
        assert outcome.created and outcome.week == "2025-W30" and outcome.reason == "catch-up"
        assert (await app.deliver()).sent == 1
        assert not (await app.digest_due(DUE + timedelta(hours=3, minutes=1))).created  # a second firing
    finally:
        await app.close()
    text = stream.getvalue()
    assert "Trending digest for 21 Jul – 27 Jul 2025 (2025-W30)" in text
    # 28 snapshots: 12 (Mon–Wed) at 60% then 16 at 70% → (720 + 1120) / 28 = 65.7; US (480 + 480) / 28 = 34.3.
    assert "🇨🇳 China: 65.7%\n" in text and "🇺🇸 United States: 34.3%\n" in text
    assert "28 snapshots" in text
    chart = tmp_path / "charts" / "trendwatch-2025-W30.png"
    assert f"chart: {chart}" in text
    with PILImage.open(chart) as image:
        assert image.size == (1200, 675)

    again = io.StringIO()
    restarted = await open_app(settings_for(db_path), again)
    try:
        assert not (await restarted.digest_due(DUE + timedelta(hours=4))).created
        assert (await restarted.deliver()).sent == 0
    finally:
        await restarted.close()
    assert again.getvalue() == ""
    assert count(db_path, "digests") == 1 and count(db_path, "events") == 1


async def test_a_digest_missed_beyond_grace_is_skipped(db_path: Path):
    await store_week(db_path)
    app = await open_app(settings_for(db_path), io.StringIO())
    try:
        outcome = await app.digest_due(DUE + timedelta(hours=13))
        assert not outcome.created and "beyond the grace period" in outcome.reason
        assert (await app.digest_due(DUE - timedelta(hours=1))).week == "2025-W29"  # before 09:00: last week's slot
    finally:
        await app.close()
    assert count(db_path, "digests") == 0


async def test_on_time_digest_and_a_week_with_no_data_says_so(db_path: Path):
    stream = io.StringIO()
    app = await open_app(settings_for(db_path), stream)
    try:
        outcome = await app.digest_due(DUE)
        assert outcome.created and outcome.reason == "schedule" and outcome.digest is not None
        assert outcome.digest.snapshots == 0
        await app.deliver()
    finally:
        await app.close()
    assert "No trending digest for 21 Jul – 27 Jul 2025 (2025-W30)" in stream.getvalue()
    assert "No snapshot of the trending list was stored that week" in stream.getvalue()


def test_the_cron_trigger_fires_on_the_configured_local_time(db_path: Path):
    trigger = digest_trigger(settings_for(db_path, timezone="Europe/Paris"))
    after = datetime(2025, 7, 23, 12, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, after) == datetime(2025, 7, 28, 7, tzinfo=UTC)  # 09:00 CEST


def run_bot(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=REPO,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(home), "MPLCONFIGDIR": str(home / "mpl")},
                          timeout=120)


async def test_cli_dry_run_prints_the_digest_and_posts_nothing(db_path: Path, tmp_path: Path):
    await store_week(db_path, step=12)
    config = tmp_path / "trendwatch.toml"
    config.write_text(f'[store]\npath = "{db_path}"\n', encoding="utf-8")
    png = tmp_path / "w30.png"
    result = run_bot(tmp_path, "digest", "--config", str(config), "--week", "2025-W30", "--out", str(png), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "Trending digest for 21 Jul – 27 Jul 2025 (2025-W30)" in result.stdout
    assert "14 snapshots" in result.stdout
    assert png.read_bytes().startswith(b"\x89PNG")
    assert count(db_path, "digests") == 0 and count(db_path, "events") == 0 and count(db_path, "outbox") == 0

    posted = run_bot(tmp_path, "digest", "--config", str(config), "--week", "2025-W30")
    assert posted.returncode == 0, posted.stderr
    assert "Trending digest for 21 Jul" in posted.stdout  # the console channel got it
    assert count(db_path, "digests") == 1
    twice = run_bot(tmp_path, "digest", "--config", str(config), "--week", "2025-W30")
    assert twice.returncode == 1 and "already created" in twice.stderr
    bad = run_bot(tmp_path, "digest", "--config", str(config), "--week", "2025-30", "--dry-run")
    assert bad.returncode == 1 and "ISO week" in bad.stderr


async def test_share_chart_covers_the_days_asked_for(db_path: Path, tmp_path: Path):
    await store_week(db_path, step=12)
    config = tmp_path / "trendwatch.toml"
    config.write_text(f'[store]\npath = "{db_path}"\n', encoding="utf-8")
    png = tmp_path / "share.png"
    result = run_bot(tmp_path, "share", "--config", str(config), "--chart", str(png), "--days", "30")
    assert result.returncode == 0, result.stderr
    assert f"chart written to {png}" in result.stdout
    with PILImage.open(png) as image:
        assert image.size == (1200, 675)
    database = await open_database(db_path)
    try:
        from bot.commands.answers import share_chart
        from bot.commands.caller import CommandError

        chart = await share_chart(database.conn, 7)
        assert chart.description.startswith("Trending top 10 by country, last 7 days")
        try:
            await share_chart(database.conn, 0)
        except CommandError as exc:
            assert "between 1 and 366 days" in str(exc)
        else:
            raise AssertionError("0 days was accepted")
    finally:
        await database.close()
