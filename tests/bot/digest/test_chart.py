"""The share chart: the figure is inspected before saving (legend, axis), the PNG decoded for its size."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image as PILImage

from bot.digest.chart import SIZE_PX, build_share_figure, digest_image, render_png
from bot.digest.week import share_chart
from bot.domain.events import Digest, Gap
from bot.domain.week_rows import SnapshotRow

MON = datetime(2025, 7, 21, tzinfo=UTC)


def chart_of(counts_per_hour: list[dict[str, int]], gaps: tuple[Gap, ...] = ()):
    snapshots = [SnapshotRow(i, MON + timedelta(hours=i), 10) for i in range(len(counts_per_hour))]
    return share_chart(snapshots, dict(enumerate(counts_per_hour)), gaps)


def legend_labels(fig) -> list[str]:
    return [text.get_text() for legend in fig.legends for text in legend.get_texts()]


def test_legend_names_the_countries_of_the_data():
    chart = chart_of([{"CN": 6, "US": 3, "unknown": 1}, {"CN": 5, "US": 3, "FR": 1, "unknown": 1}])
    fig = build_share_figure(chart, "Week 30")
    assert legend_labels(fig) == ["China", "United States", "France", "Unknown origin"]
    assert fig.axes[0].get_ylim() == (0.0, 100.0)
    assert fig.get_suptitle() == "Week 30"


def test_gaps_are_marked_and_named_in_the_legend():
    gap = Gap(start=MON + timedelta(hours=1), end=MON + timedelta(hours=4))
    fig = build_share_figure(chart_of([{"CN": 10}, {"CN": 9, "US": 1}], (gap,)), "t")
    assert legend_labels(fig) == ["China", "United States", "no data"]


def test_png_decodes_at_chat_preview_size():
    png = render_png(build_share_figure(chart_of([{"CN": 6, "US": 4}] * 3), "t"))
    with PILImage.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        assert image.size == SIZE_PX == (1200, 675)


def test_digest_image_is_titled_with_the_dates_and_an_empty_week_has_none():
    chart = chart_of([{"CN": 6, "US": 4}] * 3)
    start, end = MON, MON + timedelta(days=7)
    base = {"taken_at": end, "week": "2025-W30", "start": start, "end": end, "timezone": "UTC", "top_n": 10}
    image = digest_image(Digest(snapshots=3, chart=chart, **base))
    assert image is not None and image.filename == "trendwatch-2025-W30.png"
    assert image.description == "Trending top 10 by country, 21 Jul – 27 Jul 2025 (2025-W30)"
    assert image.data.startswith(b"\x89PNG")
    assert digest_image(Digest(snapshots=0, **base)) is None


def test_the_bot_starts_without_importing_matplotlib():
    code = "import sys, bot.__main__, bot.app, bot.digest.chart, bot.delivery.drain; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_the_bot_draws_a_digest_chart_without_loading_matplotlib_itself():
    """The chart worker is a child process: the PNG comes back, matplotlib stays out of the bot."""
    code = """
import asyncio, sys
from datetime import UTC, datetime, timedelta
from bot.digest.chart_worker import digest_image
from bot.digest.week import share_chart
from bot.domain.week_rows import SnapshotRow
from bot.domain.events import Digest
start = datetime(2025, 7, 21, tzinfo=UTC)
rows = [SnapshotRow(i, start + timedelta(hours=i), 10) for i in range(3)]
chart = share_chart(rows, {i: {"CN": 6, "US": 4} for i in range(3)}, ())
digest = Digest(taken_at=start, week="2025-W30", start=start, end=start + timedelta(days=7), timezone="Europe/Paris",
                top_n=10, snapshots=3, chart=chart)
image = asyncio.run(digest_image(digest))
print(image.filename, image.data[:4] == b"\\x89PNG", len(image.data) > 10_000, "matplotlib" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["trendwatch-2025-W30.png", "True", "True", "False"]


async def test_a_chart_the_worker_cannot_draw_is_one_clear_error():
    from bot.digest.chart_worker import ChartError, draw

    chart = chart_of([{"CN": 6, "US": 4}] * 2)
    with pytest.raises(ChartError, match=r"^chart: ZoneInfoNotFoundError: .*Mars/Olympus"):
        await draw(chart, "t", (MON, MON + timedelta(days=1)), "Mars/Olympus")


def test_the_worker_reads_json_and_writes_png():
    chart = chart_of([{"CN": 6, "US": 4}] * 2)
    request = {"chart": chart.model_dump(mode="json"), "title": "t", "span": None, "timezone": None}
    result = subprocess.run([sys.executable, "-m", "bot.digest.chart"], input=json.dumps(request).encode(),
                            capture_output=True, check=True)
    with PILImage.open(io.BytesIO(result.stdout)) as image:
        assert image.size == SIZE_PX
    broken = subprocess.run([sys.executable, "-m", "bot.digest.chart"], input=b"{not json", capture_output=True)
    assert broken.returncode == 1 and broken.stdout == b""
    assert broken.stderr.decode().count("\n") == 1 and broken.stderr.startswith(b"chart: JSONDecodeError")


async def test_a_worker_that_hangs_is_killed_and_reported(monkeypatch: pytest.MonkeyPatch):
    import bot.digest.chart_worker as worker

    monkeypatch.setattr(worker, "WORKER", "import time; time.sleep(30)")
    monkeypatch.setattr(worker, "TIMEOUT", timedelta(seconds=0.5))
    with pytest.raises(worker.ChartError, match=r"took longer than 0\.5 s"):
        await worker.draw(chart_of([{"CN": 6, "US": 4}] * 2), "t")


def test_the_worker_gets_no_secrets(monkeypatch: pytest.MonkeyPatch):
    from bot.digest.chart_worker import worker_environment

    monkeypatch.setenv("DISCORD_TOKEN", "secret")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret")
    monkeypatch.setenv("MPLCONFIGDIR", "/tmp/mpl")
    env = worker_environment()
    assert "DISCORD_TOKEN" not in env and "SLACK_BOT_TOKEN" not in env and env["MPLCONFIGDIR"] == "/tmp/mpl"
