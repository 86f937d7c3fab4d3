"""Discord at 5,000 servers over 3 shards: one alert to 10,000 channels, and the idle memory of `run`.

The fake Discord (tests/fakes/discord_api.py) serves 5,000 small servers (5 text channels, 4 roles
and the bot's own member each: what GUILD_CREATE carries with the Guilds intent only), split over the
3 shards `GET /gateway/bot` recommends, identifies one per 5 s (max_concurrency 1, as for most bots).

- fan-out: the fake runs in a child process with Discord's limits (50 requests/s for the bot, 5
  messages per 5 s per channel) and 200 ms answers; this process is the bot, its 3 shards connected
  and holding every server, 2 channels of each server subscribed (as `/alerts subscribe` leaves them).
  One alert goes to the 10,000 channels; the time is held against the least the 50/s bound allows.
- memory: `python -m bot run` as a child process, as an operator runs it, against the fake in this
  process; its resident memory once every shard is ready and the bot idle, against the same bot in
  one server (the baseline).

    python -m bench.discord_shards [--servers 5000] [--latency 0.2] [--only fanout|memory]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.discord_fanout import GLOBAL_PER_SECOND, PER_CHANNEL, PER_CHANNEL_WINDOW, bound_seconds
from bench.measure import verdict

SERVERS = 5000
SHARDS = 3
SUBSCRIBED_PER_SERVER = 2
CHANNELS_PER_SERVER = 5
ROLES_PER_SERVER = 4
FANOUT_GOAL = 1.1  # × the 50 requests/s bound
MEMORY_GOAL_MIB = 150.0
SETTLE = 10.0
BASE_MS = 300_000_000_000  # snowflake milliseconds since Discord's epoch: servers made in 2019 and after
REPO = Path(__file__).resolve().parent.parent


def servers(count: int) -> list[Any]:
    """`count` small servers whose ids spread evenly over any shard count (ids one millisecond apart)."""
    from tests.fakes.discord_api import FakeGuild

    found = []
    for n in range(count):
        gid = ((BASE_MS + n) << 22) | 1
        found.append(FakeGuild(id=gid, channel_ids=tuple(gid + 1 + c for c in range(CHANNELS_PER_SERVER)),
                               name=f"Community {n}", roles=ROLES_PER_SERVER))
    return found


def subscribed(guilds: list[Any]) -> list[int]:
    return [cid for guild in guilds for cid in guild.channel_ids[:SUBSCRIBED_PER_SERVER]]


def fake_for(count: int, **options: Any) -> Any:
    from tests.fakes.discord_api import FakeDiscord

    return FakeDiscord(guilds=servers(count), shards=SHARDS if count > 1 else 1, max_concurrency=1, **options)


# ---------------------------------------------------------------- fan-out


async def serve(count: int, latency: float) -> None:
    """Child process: the fake Discord with Discord's limits; prints its address, then a report when asked."""
    from tests.fakes.discord_api import DiscordLimits

    limits = DiscordLimits(GLOBAL_PER_SECOND, PER_CHANNEL, PER_CHANNEL_WINDOW)
    async with fake_for(count, limits=limits, strict_channels=True) as fake:
        print(json.dumps({"api_base": fake.api_base}), flush=True)
        await asyncio.to_thread(sys.stdin.readline)  # the bot is connected: answers slow down from here
        fake.delay(latency)
        print(json.dumps({"shards": fake.connected_shards}), flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        ids = subscribed(fake.guilds)
        per_channel = Counter(rec.channel_id for rec in fake.message_records)
        accepted = [r.at for r in fake.requests if r.method == "POST" and r.path.endswith("/messages")
                    and r.status == 200]
        print(json.dumps({
            "created": len(fake.message_records),
            "lost": sum(1 for cid in ids if per_channel[cid] == 0),
            "duplicated": sum(n - 1 for n in per_channel.values() if n > 1),
            "rejected_429": fake.rejected_429,
            "rejected_429_global": fake.rejected_429_global,
            "first_accepted_to_last": (max(accepted) - min(accepted)) if accepted else 0.0,
        }), flush=True)


async def subscribe(app: Any, channels: list[int]) -> None:
    """What 10,000 `/alerts subscribe` leave in the store."""
    from bot.domain.events import ALERT_KINDS
    from store.destinations import upsert_destination

    now = datetime.now(UTC)
    async with app.db.transaction() as conn:
        for channel in channels:
            await upsert_destination(conn, "discord", str(channel), ALERT_KINDS, "command", now)


async def deliver_everything(app: Any) -> tuple[Any, int]:
    """Delivery passes back to back until one sends nothing; (the summed report, passes that sent).

    A pass takes at most 5,000 due rows; `run` would start the next one at its next delivery tick
    ([delivery] interval), so 10,000 channels there cost one interval more than here."""
    from bot.delivery.drain import DeliveryReport

    total, passes = DeliveryReport(), 0
    while (report := await app.deliver()).sent or report.retried:
        passes += 1
        total.sent += report.sent
        total.retried += report.retried
        total.paused.extend(report.paused)
    return total, passes


async def fanout(count: int, latency: float) -> bool:
    from adapters.discord_commands import DiscordGateway
    from adapters.discord_out import DiscordAdapter, make_client
    from bot.app import Trendwatch
    from bot.config import DeliverySettings, Secrets, parse_settings
    from tests.fakes.hub import FakeHub, ranked

    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.discord_shards", "--serve", "--servers", str(count), "--latency", str(latency),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**20,
    )
    assert child.stdin is not None and child.stdout is not None

    async def ask() -> dict[str, Any]:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(b"next\n")
        await child.stdin.drain()
        answer: dict[str, Any] = json.loads(await child.stdout.readline())
        return answer

    api_base = json.loads(await child.stdout.readline())["api_base"]
    channels = subscribed(servers(count))
    with tempfile.TemporaryDirectory(prefix="bench-shards-") as tmp:
        async with FakeHub() as hub:
            settings = parse_settings({
                "hub": {"endpoint": hub.endpoint}, "store": {"path": str(Path(tmp) / "bench.db")},
                "console": {"enabled": False}, "discord": {"enabled": True, "api_base": api_base},
            }, env={})
            adapter = DiscordAdapter("bench-token", api_base=api_base, client=make_client(guild_ready_timeout=2.0))
            app = await Trendwatch.open(settings, Secrets.from_env({}), {"discord": adapter})
            gateway = DiscordGateway(adapter, app.db, settings, ready_timeout=120)
            try:
                await app.acquire_lease()
                ids = [f"meta-llama/l{i}" for i in range(11)]
                await subscribe(app, channels)  # before the first poll: that poll is every channel's baseline
                hub.models = ranked(ids[:10])
                await app.poll()
                began = time.perf_counter()
                await gateway.start()
                await adapter.client.wait_until_ready()
                connected = time.perf_counter() - began
                held = len(adapter.client.guilds)
                shards = (await ask())["shards"]
                hub.models = ranked(ids[:9] + ids[10:11])  # one model enters at #10: one alert
                result = await app.poll()
                assert [event.kind for event in result.events] == ["entered"], result.events
                started = time.perf_counter()
                report, passes = await deliver_everything(app)
                elapsed = time.perf_counter() - started
            finally:
                await gateway.close()
                await app.close()
    served = await ask()
    child.stdin.close()
    await child.wait()
    messages = len(channels)
    bound = bound_seconds(messages, messages, latency)
    concurrency = DeliverySettings().concurrency
    print(f"one alert to {messages:,} Discord channels in {count:,} servers, the bot's {len(shards)} shards"
          f" connected ({held:,} servers held, all ready {connected:.1f} s after start); {latency * 1000:g} ms"
          f" answers, at most {concurrency} sends in flight; limits {GLOBAL_PER_SECOND} req/s global,"
          f" {PER_CHANNEL} msgs/{PER_CHANNEL_WINDOW:g} s per channel")
    print(f"bound: {bound:.2f} s (ceil({messages}/{GLOBAL_PER_SECOND}) - 1 one-second windows + one answer);"
          f" first to last accepted message {served['first_accepted_to_last']:.2f} s")
    print(f"sent {report.sent}, created {served['created']}, lost {served['lost']}, duplicated"
          f" {served['duplicated']}, retried later {report.retried}, paused {len(report.paused)}, in {passes}"
          f" delivery passes (5,000 rows a pass);"
          f" 429s {served['rejected_429']} ({served['rejected_429_global']} global)")
    whole = served["lost"] == 0 and served["duplicated"] == 0 and held == count
    return verdict(f"alert to {messages:,} channels, {count:,} servers", elapsed, FANOUT_GOAL * bound, bound,
                   unit="s", note=f"(goal {FANOUT_GOAL}x the bound;"
                                  f" {'nothing lost or duplicated' if whole else 'LOST, DUPLICATED OR MISSING'})"
                   ) and whole


# ---------------------------------------------------------------- memory


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def until(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def idle_run(count: int, tmp: Path, settle: float) -> float:
    """Resident memory of `python -m bot run` holding `count` servers, `settle` s after every shard is ready."""
    from tests.fakes.hub import FakeHub, ranked

    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    env.update({"DISCORD_TOKEN": "bench.discord.token", "HF_HOME": str(tmp / "hf")})
    label = f"servers-{count}"
    async with FakeHub() as hub, fake_for(count) as fake:
        hub.models = ranked([f"meta-llama/l{i}" for i in range(10)])
        config = tmp / f"{label}.toml"
        config.write_text(f"""
[hub]
endpoint = "{hub.endpoint}"
poll_interval = "1h"

[store]
path = "{tmp / label}.db"

[console]
enabled = false

[digest]
enabled = false

[discord]
enabled = true
api_base = "{fake.api_base}"
""", encoding="utf-8")
        log_path = tmp / f"{label}.log"
        with log_path.open("wb") as log:
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", "--config", str(config),
                stdout=asyncio.subprocess.DEVNULL, stderr=log, env=env, cwd=REPO,
            )
            try:
                shards = SHARDS if count > 1 else 1
                last = f"discord: shard {shards - 1}/{shards} ready".encode()
                await until(lambda: last in log_path.read_bytes(), 120, f"shard {shards - 1} to be ready")
                await until(lambda: len(hub.list_requests) >= 1, 30, "the first poll")
                await asyncio.sleep(settle)
                assert fake.connected_shards == [(shard, shards) for shard in range(shards)], fake.connected_shards
                return rss_mib(child.pid)
            finally:
                if child.returncode is None:
                    child.send_signal(signal.SIGTERM)
                    await asyncio.wait_for(child.wait(), 30)


async def memory(count: int, settle: float) -> bool:
    with tempfile.TemporaryDirectory(prefix="bench-shards-memory-") as tmp:
        one = await idle_run(1, Path(tmp), settle)
        many = await idle_run(count, Path(tmp), settle)
    print(f"`python -m bot run` idle {settle:g} s after its last shard was ready: {count:,} servers over {SHARDS}"
          f" shards ({CHANNELS_PER_SERVER} channels, {ROLES_PER_SERVER + 1} roles each) vs one server (baseline)")
    return verdict(f"idle memory, {count:,} servers / {SHARDS} shards", many, MEMORY_GOAL_MIB, one, unit="MiB",
                   note=f"(one server: {one:.1f} MiB; {(many - one) * 1024 / count:.1f} KiB a server)")


async def main(count: int = SERVERS, latency: float = 0.2, only: str | None = None, settle: float = SETTLE) -> bool:
    """Both figures (also what `python -m bench` calls)."""
    os.environ.setdefault("HF_HOME", tempfile.mkdtemp(prefix="bench-hf-"))
    passed = True
    if only in (None, "memory"):
        passed = await memory(count, settle) and passed
    if only in (None, "fanout"):
        passed = await fanout(count, latency) and passed
    return passed


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=SERVERS)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the fake waits before each answer")
    parser.add_argument("--only", choices=("fanout", "memory"), default=None)
    parser.add_argument("--settle", type=float, default=SETTLE, help="idle seconds before memory is read")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.servers, args.latency))
        return
    sys.exit(0 if asyncio.run(main(args.servers, args.latency, args.only, args.settle)) else 1)


if __name__ == "__main__":
    cli()
