"""Bad command-line input gets one clear line (never a traceback, never a wrong answer), through `python -m bot`."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.fakes.hub import FakeHub, ranked
from tests.support.cli import CN, REPO, US, Run, bot, write_config


def one_line(run: Run) -> str:
    assert "Traceback" not in run.err, run.err
    lines = [text for text in run.err.splitlines() if text.strip()]
    assert len(lines) == 1, run.err
    return lines[0]


@pytest.fixture
async def polled(fake_hub: FakeHub, db_path: Path, tmp_path: Path) -> Path:
    config = write_config(tmp_path / "c.toml", fake_hub, db_path)
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


async def test_once_fails_with_exactly_one_line_at_the_default_log_level(
    fake_hub: FakeHub, db_path: Path, tmp_path: Path
):
    config = write_config(tmp_path / "c.toml", fake_hub, db_path)
    fake_hub.fail(503, times=-1)
    run = await bot("once", "--config", str(config))
    assert run.code == 1
    assert one_line(run) == "trendwatch: poll failed: the Hub answered HTTP 503"
    fake_hub.faults.clear()
    fake_hub.models = ranked(US)
    fake_hub.short(4)
    run = await bot("once", "--config", str(config))
    assert run.code == 1 and "fewer than the top 10" in one_line(run)


async def test_log_level_set_in_the_file_still_wins(fake_hub: FakeHub, db_path: Path, tmp_path: Path):
    config = write_config(tmp_path / "c.toml", fake_hub, db_path, extra='\n[log]\nlevel = "INFO"\n')
    fake_hub.fail(503, times=-1)
    run = await bot("once", "--config", str(config))
    assert run.code == 1 and "retry" in run.err and run.err.strip().splitlines()[-1].startswith("trendwatch:")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('[hub]\n# café\n'.encode("latin-1"), "not UTF-8"),
        (b'[hub]\npoll_interval = "99999999999d"\n', "hub.poll_interval"),
        (b'[share_rules]\ncountry = "CN"\nabove = 50\n', "[[share_rules]]"),
    ],
)
async def test_check_config_says_what_is_wrong_in_one_line(tmp_path: Path, content: bytes, words: str):
    config = tmp_path / "c.toml"
    config.write_bytes(content)
    run = await bot("check-config", "--config", str(config))
    assert run.code == 2 and words in one_line(run)


async def test_a_route_to_a_platform_that_cannot_send_is_flagged(fake_hub: FakeHub, db_path: Path, tmp_path: Path):
    routes = ('\n[[routes]]\nplatform = "slack"\nchannel = "C0123"\n'
              '\n[[routes]]\nplatform = "discord"\nchannel = "123456789012345678"\n'
              '\n[discord]\nenabled = true\n')
    config = write_config(tmp_path / "c.toml", fake_hub, db_path, extra=routes)
    checked = await bot("check-config", "--config", str(config))
    assert checked.code == 0, checked.err
    warnings = [text for text in checked.out.splitlines() if text.startswith("warning:")]
    assert len(warnings) == 2
    assert "slack:C0123" in warnings[0] and "[slack] enabled = false" in warnings[0]
    assert "discord:123456789012345678" in warnings[1] and "DISCORD_TOKEN is not set" in warnings[1]
    fine = await bot("check-config", "--config", str(config), env={"DISCORD_TOKEN": "x"})
    assert [text for text in fine.out.splitlines() if text.startswith("warning:")] == warnings[:1]

    fake_hub.models = ranked(US)
    assert (await bot("once", "--config", str(config))).code == 0
    listed = await bot("channels", "--config", str(config))
    slack = next(text for text in listed.out.splitlines() if text.startswith("slack:C0123"))
    assert "NOT SENT: [slack] enabled = false" in slack
    as_json = __import__("json").loads((await bot("channels", "--json", "--config", str(config))).out)
    assert {row["channel"]: row["not_sent"] for row in as_json if row["platform"] != "console"} == {
        "C0123": "[slack] enabled = false", "123456789012345678": "DISCORD_TOKEN is not set"}


async def run_until(config: Path, wanted: list[str]) -> str:
    """`run` until every wanted text is in its log, then SIGTERM; the whole log."""
    from tests.support.processes import start, stop

    process = await start(config)
    assert process.stderr is not None
    seen = ""
    try:
        async with asyncio.timeout(20):
            while not all(text in seen for text in wanted):
                line = await process.stderr.readline()
                if not line:
                    break
                seen += line.decode()
    finally:
        if process.returncode is None:
            _, rest = await stop(process)
            seen += rest
    return seen


async def test_run_warns_once_about_channels_that_get_nothing(fake_hub: FakeHub, db_path: Path, tmp_path: Path):
    routes = '\n[[routes]]\nplatform = "slack"\nchannel = "C0123"\n'
    config = write_config(tmp_path / "c.toml", fake_hub, db_path, extra=routes,
                          hub_extra='poll_interval = "1s"', store_extra='lease = "3s"')
    fake_hub.models = ranked(US)
    log = await run_until(config, ["stored snapshot 2"])
    warnings = [text for text in log.splitlines() if "get nothing" in text]
    assert len(warnings) == 1 and "1 slack channel(s)" in warnings[0] and "[slack] enabled = false" in warnings[0]


async def test_run_logs_which_host_failed_and_when_it_polls_next(fake_hub: FakeHub, db_path: Path, tmp_path: Path):
    config = write_config(tmp_path / "c.toml", fake_hub, db_path, hub_extra='poll_interval = "2s"',
                          store_extra='lease = "3s"')
    fake_hub.fail(503, times=-1)
    log = await run_until(config, ["next poll at"])
    assert "Traceback" not in log
    failed = next(text for text in log.splitlines() if "next poll at" in text)
    assert f"poll of 127.0.0.1:{fake_hub.port} failed: the Hub answered HTTP 503" in failed
    assert "WARNING" in failed and " UTC" in failed
