"""The daily digest end to end on both stores: scheduled, raced, restarted, missed, unwanted, on demand."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.console import ConsoleAdapter
from bot.app import Trendwatch, daily_digest_trigger
from bot.config import ConfigError, Secrets, Settings, parse_settings
from bot.digest.daily import create_due_daily_digest
from tests.support.cli import bot
from tests.support.daily import ARCHIVE, DAY, DUE, store_days
from tests.support.stores import count, store_env


def settings_for(db: Path, console: bool = True, **digest: Any) -> Settings:
    return parse_settings({"store": {"path": str(db)}, "console": {"enabled": console, "format": "text"},
                           "hub": {"poll_interval": "3h"},
                           "digest": {"daily": "09:00", "grace": "12h", **digest}}, env=store_env())


async def open_app(settings: Settings, stream: io.StringIO, lease: bool = True) -> Trendwatch:
    app = await Trendwatch.open(settings, Secrets.from_env({}), {"console": ConsoleAdapter("text", stream)})
    if lease:
        assert await app.acquire_lease() is None
    return app


EXPECTED = (
    "Daily trending digest for Tue 22 Jul 2025",
    "  #1 (changed once):\n    🇨🇳 Qwen/q0 — from 00:00, 12 h\n    🇺🇸 meta-llama/l0 — from 12:00, 12 h",
    "  New in the top 10:\n    #8 at best 🇨🇳 Qwen/q6 — entered 12:00, 12 h in the top 10",
    "  Biggest climbers over the day:\n    🇺🇸 meta-llama/l0 — #7 → #1",
    # China held 6 of 10 in the four morning snapshots and 7 in the four afternoon ones; 6 all the day before.
    "    🇨🇳 China: 70% — 7 of 10; 65% on average (+5 pts)\n"
    "    🇺🇸 United States: 30% — 3 of 10; 35% on average (-5 pts)",
    f"    8 snapshots\n    1 of them imported from {ARCHIVE}",
)


async def test_two_schedulers_firing_at_once_post_the_day_once_and_a_restart_does_not_repost(db_path: Path):
    await store_days(db_path)
    stream = io.StringIO()
    settings = settings_for(db_path)
    first, second = await open_app(settings, stream), await open_app(settings, io.StringIO(), lease=False)
    try:
        outcomes = await asyncio.gather(create_due_daily_digest(first.db, settings, DUE),
                                        create_due_daily_digest(second.db, settings, DUE))
        assert sorted(o.created for o in outcomes) == [False, True]
        made = next(o for o in outcomes if o.created)
        assert made.day == DAY and made.reason == "schedule" and made.recipients == 1
        missed = next(o for o in outcomes if not o.created)
        assert DAY in missed.reason and ("already created" in missed.reason or "meanwhile" in missed.reason)
        assert (await first.deliver()).sent == 1
        assert not (await first.daily_digest_due(DUE + timedelta(minutes=1))).created  # the job firing again
    finally:
        await first.close()
        await second.close()
    text = stream.getvalue()
    for part in EXPECTED:
        assert part in text
    assert text.count("Daily trending digest") == 1

    again = io.StringIO()
    restarted = await open_app(settings, again)
    try:
        assert not (await restarted.daily_digest_due(DUE + timedelta(hours=2))).created  # start-up catch-up
        assert (await restarted.deliver()).sent == 0
    finally:
        await restarted.close()
    assert again.getvalue() == ""
    assert count(db_path, "SELECT COUNT(*) FROM daily_digests") == 1
    assert count(db_path, "SELECT COUNT(*) FROM events WHERE kind = 'digest-daily'") == 1
    assert count(db_path, "SELECT COUNT(*) FROM daily_digests WHERE day = '2025-07-22' AND trigger = 'schedule'") == 1


async def test_a_missed_day_is_caught_up_within_grace_and_skipped_beyond(db_path: Path):
    await store_days(db_path)
    stream = io.StringIO()
    app = await open_app(settings_for(db_path), stream)
    try:
        late = await app.daily_digest_due(DUE + timedelta(hours=13))  # down from before 09:00 until 22:00
        assert not late.created and late.day == DAY and "beyond the grace period" in late.reason
        early = await app.daily_digest_due(DUE - timedelta(hours=1))  # 08:00: yesterday's 09:00 was 23 h ago
        assert not early.created and early.day == "2025-07-21"
        back = await app.daily_digest_due(DUE + timedelta(hours=3))  # down at 09:00, back at 12:00
        assert back.created and back.day == DAY and back.reason == "catch-up"
        assert (await app.deliver()).sent == 1
    finally:
        await app.close()
    assert "Daily trending digest for Tue 22 Jul 2025" in stream.getvalue()
    assert count(db_path, "SELECT COUNT(*) FROM daily_digests WHERE trigger = 'catch-up'") == 1


async def test_a_day_without_snapshots_says_so_and_nobody_subscribed_means_no_digest(db_path: Path):
    stream = io.StringIO()
    app = await open_app(settings_for(db_path), stream)
    try:
        empty = await app.daily_digest_due(DUE)
        assert empty.created and empty.digest is not None and empty.digest.snapshots == 0
        await app.deliver()
    finally:
        await app.close()
    assert "No daily trending digest for Tue 22 Jul 2025" in stream.getvalue()
    assert "No snapshot of the trending list was stored that day" in stream.getvalue()

    quiet = await open_app(settings_for(db_path, console=False), io.StringIO())  # no console, no channel
    try:
        nobody = await quiet.daily_digest_due(DUE + timedelta(days=1))
        assert not nobody.created and "no channel takes the daily digest (kind digest-daily)" in nobody.reason
    finally:
        await quiet.close()
    assert count(db_path, "SELECT COUNT(*) FROM daily_digests") == 1


async def test_daily_off_or_digests_disabled_schedules_nothing(db_path: Path):
    settings = settings_for(db_path, daily="off")
    assert settings.digest.daily is None and daily_digest_trigger(settings) is None
    app = await open_app(settings, io.StringIO())
    try:
        outcome = await app.daily_digest_due(DUE)
        assert not outcome.created and outcome.reason == 'daily digests are off ([digest] daily = "off")'
    finally:
        await app.close()
    none = settings_for(db_path, enabled=False)  # no digest of either kind, though `daily` keeps its default
    assert none.digest.daily == "09:00" and daily_digest_trigger(none) is None
    app = await open_app(none, io.StringIO())
    try:
        outcome = await app.daily_digest_due(DUE)
        assert not outcome.created and outcome.reason == "digests are disabled ([digest] enabled = false)"
    finally:
        await app.close()


def test_the_cron_trigger_fires_every_day_at_the_local_time(db_path: Path):
    trigger = daily_digest_trigger(settings_for(db_path, daily="08:00", timezone="America/Los_Angeles"))
    assert trigger is not None
    after = datetime(2026, 3, 7, 17, tzinfo=UTC)  # 09:00 PST on the 7th
    assert trigger.get_next_fire_time(None, after) == datetime(2026, 3, 8, 15, tzinfo=UTC)  # 08:00 PDT on the 8th


async def test_cli_dry_run_prints_the_day_and_stores_nothing(db_path: Path, tmp_path: Path):
    await store_days(db_path)
    config = tmp_path / "trendwatch.toml"
    config.write_text(f'[store]\npath = "{db_path}"\n[hub]\npoll_interval = "3h"\n', encoding="utf-8")
    before = count(db_path, "SELECT COUNT(*) FROM events")
    run = await bot("digest", "--config", str(config), "--daily", "--day", DAY, "--dry-run")
    assert run.code == 0, run.err
    for part in EXPECTED:
        assert part in run.out
    assert count(db_path, "SELECT COUNT(*) FROM daily_digests") == 0
    assert count(db_path, "SELECT COUNT(*) FROM events") == before

    posted = await bot("digest", "--config", str(config), "--daily", "--day", DAY)
    assert posted.code == 0, posted.err
    assert "Daily trending digest for Tue 22 Jul 2025" in posted.out  # the console route of the default config
    assert "daily digest 2025-07-22 posted to 1 channel(s)" in posted.err
    twice = await bot("digest", "--config", str(config), "--daily", "--day", DAY)
    assert twice.code == 1 and twice.out == ""
    assert twice.err.startswith("trendwatch: the daily digest for 2025-07-22 was already created on ")
    assert count(db_path, "SELECT COUNT(*) FROM daily_digests WHERE trigger = 'command'") == 1


async def test_cli_bad_day_is_one_clear_line(tmp_path: Path):
    config = tmp_path / "trendwatch.toml"
    config.write_text(f'[store]\npath = "{tmp_path / "t.db"}"\n', encoding="utf-8")
    for args, says in (
        (("--daily", "--day", "2025-13-01"), "trendwatch: --day: 2025-13-01 is not a date on the calendar\n"),
        (("--daily", "--day", "22/07/2025"),
         "trendwatch: --day: expected a day like '2026-05-14' (YYYY-MM-DD), got '22/07/2025'\n"),
        (("--day", DAY), "trendwatch: --day picks the day of a daily digest: add --daily"
                         " (the weekly one takes --week)\n"),
        (("--daily", "--week", "2025-W30"), "trendwatch: --week is for the weekly digest; the daily one takes --day"
                                            " and has no chart\n"),
    ):
        run = await bot("digest", "--config", str(config), *args, "--dry-run")
        assert (run.code, run.out, run.err) == (1, "", says), args


async def test_the_worker_runs_the_daily_job_at_start_up_and_on_its_cron(db_path: Path):
    from bot.worker import Worker

    # A grace over a day: the job's last firing is always within it, whenever the test runs.
    app = await open_app(settings_for(db_path, daily="07:30", timezone="Europe/Paris", grace="25h"), io.StringIO())
    try:
        worker = Worker(app)
        worker.schedule()
        job = worker.scheduler.get_job("digest-daily")
        assert job is not None and job.next_run_time is not None  # soon: yesterday's, if missed while down
        assert job.next_run_time - datetime.now(UTC) < timedelta(seconds=10)
        after = datetime(2025, 7, 22, 12, tzinfo=UTC)
        assert job.trigger.get_next_fire_time(None, after) == datetime(2025, 7, 23, 5, 30, tzinfo=UTC)  # CEST

        app.has_lease = False  # a standby process makes nothing, whatever its clock says
        await worker.daily_digest.digest()
        assert count(db_path, "SELECT COUNT(*) FROM daily_digests") == 0
        app.has_lease = True
        await worker.daily_digest.digest()  # yesterday, by the real clock: no snapshot, said so on the console
        assert count(db_path, "SELECT COUNT(*) FROM daily_digests") == 1

        off = Worker(await open_app(settings_for(db_path, daily="off"), io.StringIO(), lease=False))
        off.schedule()
        assert off.scheduler.get_job("digest-daily") is None and off.scheduler.get_job("digest") is not None
        await off.app.close()
    finally:
        await app.close()


async def test_the_console_jsonl_line_carries_the_day(db_path: Path):
    await store_days(db_path)
    stream = io.StringIO()
    app = await Trendwatch.open(settings_for(db_path), Secrets.from_env({}),
                                {"console": ConsoleAdapter("jsonl", stream)})
    try:
        assert await app.acquire_lease() is None
        assert (await app.daily_digest_due(DUE)).created
        assert (await app.deliver()).sent == 1
    finally:
        await app.close()
    [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert (line["kind"], line["day"], line["timezone"], line["snapshots"], line["leader_changes"]) == (
        "digest-daily", DAY, "UTC", 8, 1)
    assert [(lead["id"], lead["hours"]) for lead in line["leaders"]] == [("Qwen/q0", 12.0), ("meta-llama/l0", 12.0)]
    assert [n["id"] for n in line["newcomers"]] == ["Qwen/q6"]
    assert [(h["country"], h["count"]) for h in line["closing"]] == [("CN", 7), ("US", 3)]
    assert line["archives"] == [[ARCHIVE, 1]]


def test_the_daily_key_is_a_time_of_day_or_off():
    assert parse_settings({}, env={}).digest.daily == "09:00"
    assert parse_settings({"digest": {"daily": " 07:05 "}}, env={}).digest.daily == "07:05"
    assert parse_settings({"digest": {"daily": "Off"}}, env={}).digest.daily is None
    for bad in ("9am", "24:00", 9):
        with pytest.raises(ConfigError) as raised:
            parse_settings({"digest": {"daily": bad}}, env={})
        assert str(raised.value) == ("config: digest.daily: expected a time of day like '08:00' (24-hour HH:MM)"
                                     f" or 'off', got {bad!r}")
