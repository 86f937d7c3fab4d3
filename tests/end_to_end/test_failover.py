"""Two `run` workers on one store: one polls and delivers, the other waits; `kill -9` the active one mid fan-out.

Runs on both stores (SQLite: two processes on one file; PostgreSQL: two
workers on one database, as on two hosts). The standby must take over within
`[store] lease` (plus its check interval), finish the fan-out, and nothing
decided may be lost or delivered twice (Slack with the history scope: the
standby looks an unconfirmed post up before sending it again).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from tests.fakes.hub import FakeHub, ranked
from tests.fakes.slack_api import FakeSlack
from tests.support.cli import REPO
from tests.support.stores import count, query, store_of

MODELS = [f"meta-llama/l{i}" for i in range(11)]
CHANNELS = [f"C{n:05d}" for n in range(20)]
LEASE = 3.0


async def until(predicate, seconds: float = 60.0) -> None:
    async with asyncio.timeout(seconds):
        while not predicate():
            await asyncio.sleep(0.1)


async def worker(config: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config), cwd=REPO,
        env={**os.environ, "SLACK_BOT_TOKEN": "xoxb-failover"},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )


def holder_pid(db: Path) -> int | None:
    found = query(db, "SELECT pid FROM lease WHERE name = 'worker'")
    return int(found[0][0]) if found else None


async def vanish_to_another_host(active: asyncio.subprocess.Process, url: str) -> None:
    """Stop the active worker (no renewal from here on, as if its host had vanished) and name another host in
    its lease row, so the standby cannot use the pid check and must wait for the lease to lapse.

    A worker stopped inside a transaction keeps that row locked: the rewrite then gives up after a second
    (it never waits on a process that will not run again), the worker runs on for a moment, and it is
    stopped again at another instant.
    """
    for _ in range(20):
        active.send_signal(signal.SIGSTOP)
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("UPDATE lease SET host = 'worker-host-2' WHERE name = 'worker'", timeout=1.0)
            return
        except (TimeoutError, asyncpg.QueryCanceledError):
            active.send_signal(signal.SIGCONT)
            await asyncio.sleep(0.05)
        finally:
            await conn.close(timeout=5)
    raise AssertionError("the active worker held its lease row at every stop")


@pytest.mark.parametrize("active_on", ["this host", "another host"])
async def test_the_standby_takes_over_after_kill_9_and_nothing_is_lost_or_sent_twice(
    db_path: Path, store_backend: str, active_on: str
):
    """`another host`: the lease row names a host the standby cannot look into, so it must wait for expiry."""
    if active_on == "another host" and store_backend == "sqlite":
        pytest.skip("workers on one SQLite file share a host (SQLite on a network disk is not safe)")
    routes = "".join(f'[[routes]]\nplatform = "slack"\nchannel = "{c}"\n\n' for c in CHANNELS)
    async with FakeHub() as hub, FakeSlack() as slack:
        slack.add_scope("channels:history")
        slack.delay(0.5, "chat.postMessage")
        config = db_path.parent / "c.toml"
        config.write_text(
            f'[hub]\nendpoint = "{hub.endpoint}"\npoll_interval = "1s"\nretry_budget = "2s"\n\n'
            f'[store]\npath = "{db_path}"\nlease = "{LEASE:g}s"\n\n[console]\nenabled = false\n\n'
            f'[delivery]\ninterval = "1s"\n\n[slack]\nenabled = true\napi_url = "{slack.api_url}"\n\n{routes}',
            encoding="utf-8")
        hub.models = ranked(MODELS[:10])
        active = await worker(config)
        await until(lambda: count(db_path, "SELECT COUNT(*) FROM snapshots") >= 1)
        standby = await worker(config)
        await asyncio.sleep(2)
        assert holder_pid(db_path) == active.pid  # the standby waits

        hub.models = ranked(MODELS[:9] + MODELS[10:])  # one model enters: one alert per channel
        await until(lambda: len(slack.posts()) >= 1)
        if active_on == "another host":
            await vanish_to_another_host(active, str(store_of(db_path)))
        active.send_signal(signal.SIGKILL)
        await active.wait()
        killed_at = time.monotonic()
        unconfirmed_at_kill = count(db_path, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'")

        await until(lambda: holder_pid(db_path) == standby.pid, seconds=LEASE * 3)
        took_over = time.monotonic() - killed_at
        await until(lambda: count(db_path, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'") == 0)
        standby.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(standby.communicate(), timeout=30)

    log = err.decode()
    print(f"failover ({active_on}): took over {took_over:.1f} s after the kill (lease {LEASE:g} s),"
          f" {unconfirmed_at_kill} alert(s) unconfirmed at the kill, {len(slack.posts())} posts for"
          f" {len(CHANNELS)} channels")
    assert "Traceback" not in log, log
    assert "holds the lease; waiting" in log
    assert took_over <= LEASE + 0.5, f"took over after {took_over:.1f} s"  # 0.5 s: this test's own polling
    if active_on == "another host":
        assert took_over >= 1.0, "took over before the lease lapsed"
    assert unconfirmed_at_kill > 0, "the kill came after the fan-out ended: nothing was tested"
    copies = Counter(post["channel"] for post in slack.posts())
    assert set(copies) == set(CHANNELS), f"lost: {sorted(set(CHANNELS) - set(copies))}"
    assert max(copies.values()) == 1, f"sent twice: {[c for c, n in copies.items() if n > 1]}"
