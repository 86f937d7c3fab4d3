"""`python -m bot run` as an operator runs it: scheduled polls, one worker per database, clean stop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.fakes.hub import FakeHub, ranked
from tests.support.cli import write_config
from tests.support.processes import snapshots, start, stop, wait_for, wait_for_line

US = [f"meta-llama/l{i}" for i in range(10)]


async def test_run_polls_on_schedule_and_a_second_process_waits_for_the_lease(
    fake_hub: FakeHub, db_path: Path, tmp_path: Path
):
    db = db_path
    config = write_config(tmp_path / "c.toml", fake_hub, db, hub_extra='poll_interval = "1s"',
                          store_extra='lease = "3s"')
    fake_hub.models = ranked(US)

    first = await start(config)
    await wait_for(lambda: snapshots(db) >= 2)
    second = await start(config)
    await wait_for_line(second, "holds the lease; waiting")
    polls_by_first = len(fake_hub.list_requests)

    code, err = await stop(first)
    assert code == 0, err
    assert "shutting down" in err
    await wait_for(lambda: len(fake_hub.list_requests) > polls_by_first + 1)  # the second one took over

    code, err = await stop(second)
    assert code == 0, err
    assert "holds the lease; waiting" in err


async def test_sigterm_lets_a_poll_in_flight_finish(fake_hub: FakeHub, db_path: Path, tmp_path: Path):
    db = db_path
    config = write_config(tmp_path / "c.toml", fake_hub, db)
    fake_hub.models = ranked(US)
    fake_hub.slow(2.0)

    process = await start(config)
    await wait_for(lambda: len(fake_hub.list_requests) == 1)
    code, err = await stop(process)

    assert code == 0, err
    assert "Traceback" not in err
    assert snapshots(db) == 1  # the answer came within the shutdown grace and was stored


async def test_sigterm_cuts_a_long_retry_short_without_a_traceback(fake_hub: FakeHub, db_path: Path, tmp_path: Path):
    db = db_path
    config = write_config(tmp_path / "c.toml", fake_hub, db)
    config.write_text(config.read_text().replace('retry_budget = "2s"', 'retry_budget = "5m"'))
    fake_hub.fail(503, retry_after=120, times=100)

    process = await start(config)
    await wait_for(lambda: len(fake_hub.list_requests) == 1)
    started = asyncio.get_running_loop().time()
    code, err = await stop(process)

    assert code == 0, err
    assert asyncio.get_running_loop().time() - started < 12  # the grace, not the 120 s Retry-After
    assert "Traceback" not in err
    assert "poll interrupted by shutdown" in err
    assert snapshots(db) == 0
