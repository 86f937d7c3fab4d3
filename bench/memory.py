"""Resident memory of `python -m bot run` after it sent a weekly digest with its chart.

The bot runs as a child process, as an operator runs it, against the fakes served by this
process: the Hub, then also Discord (REST + gateway) and Slack (Web API + Socket Mode). Its
database holds last week's hourly snapshots; once the bot is up and idle its memory is read
(the baseline), then `python -m bot digest` queues last week's digest, the bot's delivery job
sends it with its chart to every output, and the memory is read again 20 s later. The chart is
drawn in a child of the bot (`bot.digest.chart_worker`): matplotlib must not be mapped into the bot.

    python -m bench.memory [--settle 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.measure import verdict
from bot.digest.week import previous_week, week_bounds
from bot.domain.snapshot import Attribution, Entry, Snapshot
from store import snapshots
from store.db import open_database
from tests.fakes.discord_api import FakeDiscord, FakeGuild
from tests.fakes.hub import FakeHub, ranked
from tests.fakes.slack_api import FakeSlack

GOAL_MIB = 90.0
DISCORD_CHANNEL = 1_300_000_000_000_000_777
SLACK_CHANNEL = "C0BENCH"
MODELS = [f"{org}/model-{i}" for i, org in enumerate(["Qwen", "meta-llama", "mistralai", "google", "deepseek-ai"] * 4)]
COUNTRY = {"Qwen": "CN", "meta-llama": "US", "mistralai": "FR", "google": "US", "deepseek-ai": "CN"}
REPO = Path(__file__).resolve().parent.parent


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def maps_matplotlib(pid: int) -> bool:
    return "matplotlib" in Path(f"/proc/{pid}/maps").read_text()


async def seed(path: Path, week: str) -> None:
    """Hourly snapshots over `week` (UTC), so its digest has a chart to draw."""
    start, end = week_bounds(week, ZoneInfo("UTC"))
    db = await open_database(path)
    try:
        async with db.transaction() as conn:
            moment, hour = start, 0
            while moment < end:
                order = MODELS[hour % 7:] + MODELS[:hour % 7]
                entries = tuple(
                    Entry(rank=rank, id=model, likes=100 - rank, downloads=1000,
                          attribution=Attribution(COUNTRY[model.split("/")[0]], "namespace", model.split("/")[0]))
                    for rank, model in enumerate(order, start=1)
                )
                await snapshots.save_snapshot(conn, Snapshot(moment, entries), 10, "bench")
                moment += timedelta(hours=1)
                hour += 1
    finally:
        await db.close()


def config_text(hub: FakeHub, db: Path, discord: FakeDiscord | None, slack: FakeSlack | None) -> str:
    text = f"""
[hub]
endpoint = "{hub.endpoint}"
poll_interval = "1h"

[store]
path = "{db}"

[console]
enabled = true

[digest]
enabled = false

[delivery]
interval = "1s"
"""
    if discord is not None:
        text += f"""
[discord]
enabled = true
api_base = "{discord.api_base}"

[[routes]]
platform = "discord"
channel = "{DISCORD_CHANNEL}"
"""
    if slack is not None:
        text += f"""
[slack]
enabled = true
api_url = "{slack.api_url}"

[[routes]]
platform = "slack"
channel = "{SLACK_CHANNEL}"
"""
    return text


def digest_rows(db: Path) -> tuple[int, int]:
    """(digest outbox rows, of which delivered)."""
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(o.status = 'delivered'), 0) FROM outbox o"
            " JOIN events e ON e.id = o.event_id WHERE e.kind = 'digest'"
        ).fetchone()
    return int(row[0]), int(row[1])


async def until(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def run_bot(label: str, tmp: Path, settle: float, with_platforms: bool) -> tuple[float, float, bool]:
    """(idle RSS before the digest, RSS `settle` s after it was sent, matplotlib mapped) of one `run`."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    env.update({"DISCORD_TOKEN": "bench.discord.token", "SLACK_BOT_TOKEN": "xoxb-bench",
                "SLACK_APP_TOKEN": "xapp-bench", "HF_HOME": str(tmp / "hf")})
    week = previous_week(datetime.now(UTC), ZoneInfo("UTC"))
    db = tmp / f"{label}.db"
    await seed(db, week)
    async with FakeHub() as hub, FakeDiscord(guilds=[FakeGuild(channel_ids=(DISCORD_CHANNEL,))]) as discord, \
            FakeSlack() as slack:
        hub.models = ranked(MODELS[:10])
        config = tmp / f"{label}.toml"
        config.write_text(config_text(hub, db, discord if with_platforms else None,
                                      slack if with_platforms else None), encoding="utf-8")
        log = (tmp / f"{label}.log").open("wb")
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--config", str(config),
            stdout=asyncio.subprocess.DEVNULL, stderr=log, env=env, cwd=REPO,
        )
        try:
            await until(lambda: b"trendwatch running" in (tmp / f"{label}.log").read_bytes(), 60, "the bot to start")
            await until(lambda: len(hub.list_requests) >= 1, 30, "the first poll")
            await asyncio.sleep(3)
            idle = rss_mib(child.pid)
            queue = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "digest", "--week", week, "--config", str(config),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env, cwd=REPO,
            )
            _, err = await queue.communicate()
            if queue.returncode != 0:
                raise RuntimeError(f"python -m bot digest failed: {err.decode().strip()}")
            expected = 3 if with_platforms else 1
            await until(lambda: digest_rows(db) == (expected, expected), 90, "the digest to be delivered")
            if with_platforms:
                assert slack.uploads, "no chart reached Slack"
                assert any(r.files for r in discord.requests), "no chart reached Discord"
            await asyncio.sleep(settle)
            after = rss_mib(child.pid)
            mapped = maps_matplotlib(child.pid)
        finally:
            if child.returncode is None:
                child.send_signal(signal.SIGTERM)
                await asyncio.wait_for(child.wait(), 30)
            log.close()
    return idle, after, mapped


async def main(settle: float = 20.0) -> None:
    print(f"`python -m bot run` against the fakes; resident memory (VmRSS) {settle:g} s after a weekly digest"
          " with its chart was sent; baseline = the same process idle before the digest")
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        for label, with_platforms in (("console", False), ("discord+slack", True)):
            idle, after, mapped = await run_bot(label.replace("+", "-"), Path(tmp), settle, with_platforms)
            verdict(f"idle memory after digest, {label}", after, GOAL_MIB, idle, unit="MiB",
                    note=f"(idle before: {idle:.1f} MiB; matplotlib mapped in the bot: {'yes' if mapped else 'no'})")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle", type=float, default=20.0, help="seconds to wait after the digest was sent")
    asyncio.run(main(parser.parse_args().settle))


if __name__ == "__main__":
    cli()
