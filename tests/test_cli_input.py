"""Bad command-line input gets one clear line (never a traceback, never a wrong answer), through `python -m bot`."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.fakes.hub import FakeHub, ranked
from tests.test_cli import CN, REPO, US, Run, bot, write_config


def one_line(run: Run) -> str:
    assert "Traceback" not in run.err, run.err
    lines = [text for text in run.err.splitlines() if text.strip()]
    assert len(lines) == 1, run.err
    return lines[0]


@pytest.fixture
async def polled(fake_hub: FakeHub, tmp_path: Path) -> Path:
    config = write_config(tmp_path / "c.toml", fake_hub, tmp_path / "t.db")
    fake_hub.models = ranked(CN[:4] + US[:6])
    assert (await bot("once", "--config", str(config))).code == 0
    return config


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["trending", "--count", "-5"], "--count"),
        (["trending", "--count", "0"], "--count"),
        (["trending", "--count", "²"], "--count"),
        (["trending", "--count", "99999999999999999999"], "--count"),
        (["trending", "--country", "ZZ"], "ISO 3166-1"),
        (["trending", "--country", "china"], "ISO 3166-1"),
        (["share", "--days", "0"], "--days"),
        (["share", "--days", "-3"], "--days"),
        (["share", "--days", "400"], "--days"),
        (["share", "--chart", "chart.jpg"], ".png"),
        (["share", "--chart", "no/such/folder/chart.png"], "does not exist"),
        (["digest", "--dry-run", "--out", "x.svg"], ".png"),
    ],
)
async def test_bad_arguments_are_refused_with_one_line(polled: Path, args: list[str], words: str):
    run = await bot(*args, "--config", str(polled))
    assert run.code == 2 and run.out == ""
    assert words in one_line(run)


async def test_count_and_country_filter_what_is_shown(polled: Path):
    run = await bot("trending", "--count", "3", "--country", "cn", "--json", "--config", str(polled))
    assert run.code == 0, run.err
    assert [row["id"] for row in __import__("json").loads(run.out)] == CN[:3]


@pytest.mark.parametrize("week", ["9999-W52", "0001-W01", "2025-W60", "soon"])
async def test_a_week_out_of_range_is_one_line(polled: Path, week: str):
    for extra in (["--dry-run"], []):
        run = await bot("digest", "--week", week, *extra, "--config", str(polled))
        assert run.code == 1 and "week" in one_line(run).lower()


async def test_share_labels_its_figures_by_the_real_window(polled: Path):
    three = await bot("share", "--days", "3", "--config", str(polled))
    assert three.code == 0, three.err
    assert "3-day avg" in three.out and "over the last 3 days" in three.out
    assert "7-day" not in three.out and "week" not in three.out
    week = await bot("share", "--config", str(polled))
    assert "7-day avg" in week.out and "over the last 7 days" in week.out


async def test_share_chart_is_written_as_png(polled: Path, tmp_path: Path):
    chart = tmp_path / "share.PNG"
    run = await bot("share", "--chart", str(chart), "--config", str(polled))
    assert run.code == 0, run.err
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_demo_refuses_a_config_it_would_ignore(tmp_path: Path):
    run = await bot("demo", "--config", str(tmp_path / "mine.toml"))
    assert run.code == 2 and "does not read --config" in one_line(run)


@pytest.mark.parametrize("command", [["trending"], ["trending", "--json"], ["share"], ["channels"], ["check-config"]])
async def test_a_reader_that_leaves_early_ends_the_command_quietly(polled: Path, command: list[str]):
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head -0`: whoever reads has gone before the first line
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *command, "--config", str(polled),
            stdout=write_end, stderr=asyncio.subprocess.PIPE, cwd=REPO,
        )
    finally:
        os.close(write_end)
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert err.decode() == "" and process.returncode == 1


async def test_once_fails_with_exactly_one_line_at_the_default_log_level(fake_hub: FakeHub, tmp_path: Path):
    config = write_config(tmp_path / "c.toml", fake_hub, tmp_path / "t.db")
    fake_hub.fail(503, times=-1)
    run = await bot("once", "--config", str(config))
    assert run.code == 1
    assert one_line(run) == "trendwatch: poll failed: the Hub answered HTTP 503"
    fake_hub.faults.clear()
    fake_hub.models = ranked(US)
    fake_hub.short(4)
    run = await bot("once", "--config", str(config))
    assert run.code == 1 and "fewer than the top 10" in one_line(run)


async def test_log_level_set_in_the_file_still_wins(fake_hub: FakeHub, tmp_path: Path):
    config = write_config(tmp_path / "c.toml", fake_hub, tmp_path / "t.db", extra='\n[log]\nlevel = "INFO"\n')
    fake_hub.fail(503, times=-1)
    run = await bot("once", "--config", str(config))
    assert run.code == 1 and "retry" in run.err and run.err.strip().splitlines()[-1].startswith("trendwatch:")
