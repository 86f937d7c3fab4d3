"""Duplicates per crash: `python -m bot run` killed with SIGKILL in the middle of a fan-out, then restarted.

The fakes live in this process, so they outlive the bot: one alert goes to `--channels` channels,
the bot is killed once the first posts have landed (while the rest are waiting for their answer),
a second `run` finishes the fan-out, and every channel's copies of the alert are counted.

- Slack without a history scope: a post sent before the kill has no confirmation, so it is posted
  once more (the bound: one extra copy per alert in flight at the kill, never two).
- Slack with `channels:history`: the restart looks for the alert key first (goal: none).
- Discord: the resend carries the same nonce, which Discord deduplicates for a few minutes (goal: none).

    python -m bench.crash_duplicates [--channels 100] [--latency 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sqlite3
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from tests.fakes.discord_api import FakeDiscord, FakeGuild
from tests.fakes.hub import FakeHub, ranked

MODELS = [f"meta-llama/l{i}" for i in range(11)]
CHANNEL_BASE = 1_300_000_000_000_100_000
REPO = Path(__file__).resolve().parent.parent


def rows(db: Path, query: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute(query).fetchone()[0])
    except sqlite3.OperationalError:
        return 0


async def until(predicate: Any, seconds: float = 120.0) -> None:
    async with asyncio.timeout(seconds):
        while not predicate():
            await asyncio.sleep(0.05)


async def start(config: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config), cwd=REPO, env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )


def write_config(path: Path, hub: FakeHub, db: Path, platform_toml: str, routes: list[str], platform: str) -> Path:
    route_toml = "".join(f'[[routes]]\nplatform = "{platform}"\nchannel = "{c}"\n\n' for c in routes)
    path.write_text(
        f'[hub]\nendpoint = "{hub.endpoint}"\npoll_interval = "1s"\nretry_budget = "2s"\n\n'
        f'[store]\npath = "{db}"\n\n[console]\nenabled = false\n\n[delivery]\ninterval = "1s"\n\n'
        f"{platform_toml}\n{route_toml}", encoding="utf-8")
    return path


async def crash_and_restart(tmp: Path, hub: FakeHub, platform_toml: str, routes: list[str], platform: str,
                            env: dict[str, str], posts: Any, latency: float) -> dict[str, int]:
    """Run, let one alert start fanning out, SIGKILL, run again until the outbox is empty."""
    db = tmp / "t.db"
    config = write_config(tmp / "c.toml", hub, db, platform_toml, routes, platform)
    hub.models = ranked(MODELS[:10])
    first = await start(config, env)
    await until(lambda: rows(db, "SELECT COUNT(*) FROM snapshots") >= 1)
    hub.models = ranked(MODELS[:9] + MODELS[10:])  # one model enters: one alert per channel
    await until(lambda: len(posts()) >= 1)
    await asyncio.sleep(latency / 2)  # posts landed, their answers still on the way
    first.send_signal(signal.SIGKILL)
    await first.wait()
    at_kill = len(posts())
    pending_at_kill = rows(db, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
    second = await start(config, env)
    await until(lambda: rows(db, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'") == 0
                and rows(db, "SELECT COUNT(*) FROM outbox") >= len(routes))
    second.send_signal(signal.SIGTERM)
    await second.wait()
    copies = Counter(posts())
    return {"posted_at_kill": at_kill, "pending_at_kill": pending_at_kill,
            "lost": len(routes) - len(copies), "duplicated": sum(n - 1 for n in copies.values()),
            "most_copies": max(copies.values(), default=0)}


async def slack_case(channels: int, latency: float, history: bool) -> dict[str, int]:
    from tests.fakes.slack_api import FakeSlack

    routes = [f"C{n:05d}" for n in range(channels)]
    with tempfile.TemporaryDirectory(prefix="bench-crash-") as tmp:
        async with FakeHub() as hub, FakeSlack() as fake:
            if history:
                fake.add_scope("channels:history")
            fake.delay(latency, "chat.postMessage")

            def posts() -> list[str]:
                return [f'{p["channel"]}/{p["metadata"]["event_payload"]["key"]}' for p in fake.posts()]

            toml = f'[slack]\nenabled = true\napi_url = "{fake.api_url}"\n'
            return await crash_and_restart(Path(tmp), hub, toml, routes, "slack", {"SLACK_BOT_TOKEN": "xoxb-bench"},
                                           posts, latency)


async def discord_case(channels: int, latency: float) -> dict[str, int]:
    ids = tuple(CHANNEL_BASE + n for n in range(channels))
    with tempfile.TemporaryDirectory(prefix="bench-crash-") as tmp:
        async with FakeHub() as hub, FakeDiscord(guilds=[FakeGuild(channel_ids=ids)]) as fake:
            fake.delay(latency)

            def posts() -> list[str]:
                return [str(record.channel_id) for record in fake.message_records]

            toml = f'[discord]\nenabled = true\napi_base = "{fake.api_base}"\n'
            figures = await crash_and_restart(Path(tmp), hub, toml, [str(i) for i in ids], "discord",
                                              {"DISCORD_TOKEN": "bench-token"}, posts, latency)
            figures["deduplicated_by_nonce"] = fake.deduplicated
            return figures


async def main(argv: list[str] | None = None) -> bool:
    parser = argparse.ArgumentParser(prog="python -m bench.crash_duplicates", description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds each post waits for its answer")
    args = parser.parse_args(argv if argv is not None else [])
    os.environ.setdefault("HF_HOME", tempfile.mkdtemp(prefix="bench-hf-"))
    for proxy in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):  # slack_sdk ignores NO_PROXY
        os.environ.pop(proxy, None)
    print(f"one alert to {args.channels} channels, SIGKILL mid fan-out ({args.latency:g} s answers), restart")
    print("goal: nothing lost; Slack without history scope at most one extra copy per alert in flight at the kill;"
          " Slack with channels:history and Discord none")
    passed = True
    cases: list[tuple[str, Any, int]] = [
        ("slack, no history scope", slack_case(args.channels, args.latency, history=False), 2),
        ("slack, channels:history", slack_case(args.channels, args.latency, history=True), 1),
        ("discord (nonce)", discord_case(args.channels, args.latency), 1),
    ]
    for name, case, most_allowed in cases:
        figures = await case
        ok = figures["lost"] == 0 and figures["most_copies"] <= most_allowed
        if most_allowed == 1:
            ok = ok and figures["duplicated"] == 0
        passed &= ok
        print(f"{name:26} posted before the kill {figures['posted_at_kill']:4}, duplicated {figures['duplicated']:4},"
              f" most copies of one alert {figures['most_copies']}, lost {figures['lost']}"
              + (f", nonce repeats answered {figures['deduplicated_by_nonce']}" if "deduplicated_by_nonce" in figures
                 else "") + f"  {'PASS' if ok else 'FAIL'}")
    return passed


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(main(sys.argv[1:])) else 1)
