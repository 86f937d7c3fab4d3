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
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from tests.fakes.discord_api import FakeDiscord, FakeGuild
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


async def _collect(stream: asyncio.StreamReader, into: list[bytes]) -> None:
    """A process's stderr as it comes, so a test can wait for a line and still read the whole log after."""
    while line := await stream.readline():
        into.append(line)


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
        assert standby.stderr is not None
        standby_log: list[bytes] = []
        reading = asyncio.create_task(_collect(standby.stderr, standby_log))
        # the standby has started and found the lease held (a loaded machine may take seconds to start it)
        await until(lambda: b"holds the lease; waiting" in b"".join(standby_log), seconds=60)
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
        await asyncio.wait_for(standby.wait(), timeout=30)
        await reading

    log = b"".join(standby_log).decode()
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


FAN_OUT = [f"C{n:05d}" for n in range(60)]
DISCORD_BASE = 1_300_000_000_000_200_000
CLAIM = 3.0


def claimers_in_flight(db: Path) -> dict[int, int]:
    """pid → alerts it holds and has not delivered yet (its live claims): what a kill now leaves to the others."""
    rows = query(db, "SELECT claimed_by, COUNT(*) FROM outbox WHERE status = 'pending' AND claimed_by IS NOT NULL"
                     " GROUP BY claimed_by")
    return {int(str(claimer).rsplit(":", 2)[1]): int(n) for claimer, n in rows}


async def move_claims_to_another_host(victim: asyncio.subprocess.Process, url: str) -> None:
    """Stop the victim and rename its claims to a process on a host the others cannot look into, so they must
    wait for the claims to lapse (as when a deliverer's host vanishes). Stopped inside a transaction it keeps
    its rows locked: the rename gives up after a second, the victim runs on for a moment, and is stopped again."""
    for _ in range(20):
        victim.send_signal(signal.SIGSTOP)
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("UPDATE outbox SET claimed_by = 'deliverer-host-2:1:gone'"
                               f" WHERE claimed_by LIKE '%:{victim.pid}:%'", timeout=1.0)
            return
        except (TimeoutError, asyncpg.QueryCanceledError):
            victim.send_signal(signal.SIGCONT)
            await asyncio.sleep(0.05)
        finally:
            await conn.close(timeout=5)
    raise AssertionError("the victim held its claimed rows locked at every stop")


@asynccontextmanager
async def platform_for(platform: str) -> AsyncIterator[tuple[str, dict[str, str], Callable[[], list[str]],
                                                            Callable[[], int], list[str]]]:
    """The fake platform answering each post after 0.5 s: its config, token, posts (channel each), how many
    resends it recognised as one already posted, and the channels routed."""
    if platform == "slack":
        async with FakeSlack() as slack:
            slack.add_scope("channels:history")  # a post the victim sent unanswered is looked up, not repeated
            slack.delay(0.5, "chat.postMessage")
            yield (f'[slack]\nenabled = true\napi_url = "{slack.api_url}"\n', {"SLACK_BOT_TOKEN": "xoxb-failover"},
                   lambda: [str(post["channel"]) for post in slack.posts()],
                   lambda: len(slack.calls_to("conversations.history")), FAN_OUT)
        return
    ids = tuple(DISCORD_BASE + n for n in range(len(FAN_OUT)))
    async with FakeDiscord(guilds=[FakeGuild(channel_ids=ids)]) as discord:
        discord.delay(0.5)  # a resend carries the same nonce: Discord answers with the first message
        yield (f'[discord]\nenabled = true\napi_base = "{discord.api_base}"\n', {"DISCORD_TOKEN": "failover-token"},
               lambda: [str(record.channel_id) for record in discord.message_records],
               lambda: discord.deduplicated, [str(i) for i in ids])


@pytest.mark.parametrize("platform", ["slack", "discord"])
@pytest.mark.parametrize("deliverers", [2, 3])
@pytest.mark.parametrize("victim_on", ["this host", "another host"])
async def test_several_deliverers_share_a_fan_out_and_kill_9_of_one_loses_and_repeats_nothing(
    db_path: Path, store_backend: str, deliverers: int, victim_on: str, platform: str, tmp_path: Path
):
    """Every `run` delivers on PostgreSQL; the one holding the most channels mid fan-out is killed.

    `this host`: the others see its pid is gone and take its channels at once; `another host`: its claims
    name a host they cannot look into, so they take them when the claims lapse (`[delivery] claim`).
    A post the victim sent without seeing the answer is not repeated: Slack (history scope) finds it,
    Discord recognises the resend's nonce.
    """
    if store_backend == "sqlite":
        pytest.skip("on SQLite only the lease holder delivers (one writer): the test above covers it")
    async with FakeHub() as hub, platform_for(platform) as (platform_toml, token, posts, recognised, channels):
        routes = "".join(f'[[routes]]\nplatform = "{platform}"\nchannel = "{c}"\n\n' for c in channels)
        config = tmp_path / "c.toml"
        config.write_text(
            f'[hub]\nendpoint = "{hub.endpoint}"\npoll_interval = "1s"\nretry_budget = "2s"\n\n'
            f'[store]\npath = "{db_path}"\nlease = "{LEASE:g}s"\n\n[console]\nenabled = false\n\n'
            f'[delivery]\ninterval = "1s"\nconcurrency = 4\nclaim = "{CLAIM:g}s"\n\n{platform_toml}\n{routes}',
            encoding="utf-8")
        hub.models = ranked(MODELS[:10])
        logs = [tmp_path / f"worker-{n}.log" for n in range(deliverers)]
        workers = []
        for log_file in logs:
            with log_file.open("wb") as err:
                workers.append(await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "run", "--config", str(config), cwd=REPO,
                    env={**os.environ, **token}, stdout=asyncio.subprocess.DEVNULL, stderr=err))
        by_pid = {worker.pid: worker for worker in workers}
        try:
            await until(lambda: count(db_path, "SELECT COUNT(*) FROM snapshots") >= 1)
            hub.models = ranked(MODELS[:9] + MODELS[10:])  # one model enters: one alert per channel
            # Every deliverer at work (channels claimed, posts out and not yet answered); one is picked mid-delivery.
            await until(lambda: len(claimers_in_flight(db_path)) == deliverers and len(posts()) >= deliverers)
            in_flight = claimers_in_flight(db_path)
            victim = by_pid[max(in_flight, key=lambda pid: in_flight[pid])]
            if victim_on == "another host":
                await move_claims_to_another_host(victim, str(store_of(db_path)))
            # What the victim holds, read before the kill: on this host a survivor takes a dead process's claims
            # back at once, so after the kill they may already be someone else's.
            held = dict(query(db_path, "SELECT id, claimed_until FROM outbox WHERE status = 'pending' AND (claimed_by"
                                       f" LIKE '%:{victim.pid}:%' OR claimed_by LIKE 'deliverer-host-2:%')"))
            victim.send_signal(signal.SIGKILL)
            await victim.wait()
            killed_at = time.monotonic()
            posted_at_kill = len(posts())
            await until(lambda: count(db_path, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'") == 0)
            finished = time.monotonic() - killed_at
            shares = query(db_path, "SELECT claimed_by, COUNT(*) FROM outbox GROUP BY claimed_by")
            delivered = dict(query(db_path, "SELECT id, delivered_at FROM outbox"))
        finally:
            for worker in workers:
                if worker.returncode is None:
                    worker.send_signal(signal.SIGTERM)
            for worker in workers:
                await asyncio.wait_for(worker.wait(), timeout=30)
        resends_caught = recognised()

    print(f"{platform}, {deliverers} deliverers, victim on {victim_on}: {posted_at_kill} posted at the kill, the"
          f" rest delivered {finished:.1f} s after it (claim {CLAIM:g} s); channels held per pid at the kill"
          f" {in_flight}; rows per last claimer {sorted(n for _, n in shares)}; {len(posts())} posts for"
          f" {len(channels)} channels; the victim held {len(held)} row(s); {resends_caught} resend(s) caught")
    for n, log_file in enumerate(logs):
        if workers[n] is not victim:
            assert "Traceback" not in log_file.read_text(), log_file.read_text()
    assert len(in_flight) == deliverers, f"not every process was delivering at once: {in_flight}"
    assert held, "the victim held no claim at the kill"
    assert resends_caught > 0, "no post of the victim was left unanswered at the kill: nothing was tested"
    if victim_on == "another host":  # nobody could tell it was dead: its channels waited for the claims to lapse
        early = [row for row, until_at in held.items() if delivered[row] < until_at]
        assert not early, f"delivered before the victim's claim lapsed: rows {early}"
    copies = Counter(posts())
    assert set(copies) == set(channels), f"lost: {sorted(set(channels) - set(copies))}"
    assert max(copies.values()) == 1, f"sent twice: {[c for c, n in copies.items() if n > 1]}"
