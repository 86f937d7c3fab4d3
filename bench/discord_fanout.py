"""One alert fanned out to 1,000 subscribed Discord channels, through the fake Discord enforcing limits.

The fake (tests/fakes/discord_api.py) runs in a child process with Discord-like
limits: 50 requests per second for the whole bot and 5 messages per 5 s per
channel, answering 429 with the real headers. This process is the bot: the real
outbox, `deliver_due` and `DiscordAdapter` on discord.py. Prints the delivery
time, the lower bound the limits allow, their ratio against the goal (PASS/FAIL),
lost and duplicated messages, 429s, and this process's peak memory.

Every answer takes `--latency` seconds (default 200 ms; real round trips to
Discord are 50-250 ms), so the fan-out has to keep enough sends in flight to
fill the rate limit: at 0 ms any concurrency would do.

    python -m bench.discord_fanout [--channels 1000] [--latency 0.2] [--concurrency N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.measure import peak_rss_mib

CHANNEL_BASE = 1_300_000_000_000_100_000
GLOBAL_PER_SECOND = 50
PER_CHANNEL, PER_CHANNEL_WINDOW = 5, 5.0
GOAL_RATIO = 1.15
DEFAULT_LATENCY = 0.2


async def serve(channels: int, latency: float) -> None:
    """Child process: the fake Discord; prints its port, then a report when stdin says so."""
    from tests.fakes.discord_api import DiscordLimits, FakeDiscord, FakeGuild

    ids = tuple(CHANNEL_BASE + i for i in range(channels))
    limits = DiscordLimits(GLOBAL_PER_SECOND, PER_CHANNEL, PER_CHANNEL_WINDOW)
    async with FakeDiscord(limits=limits, guilds=[FakeGuild(channel_ids=ids)], strict_channels=True) as fake:
        fake.delay(latency)
        print(json.dumps({"api_base": fake.api_base}), flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        posts = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/messages")]
        accepted = [r.at for r in posts if r.status == 200]
        per_channel = Counter(rec.channel_id for rec in fake.message_records)
        print(json.dumps({
            "created": len(fake.message_records),
            "lost": sum(1 for cid in ids if per_channel[cid] == 0),
            "duplicated": sum(n - 1 for n in per_channel.values() if n > 1),
            "deduplicated_by_nonce": fake.deduplicated,
            "rejected_429": fake.rejected_429,
            "rejected_429_global": fake.rejected_429_global,
            "requests": len(fake.requests),
            "first_accepted_to_last": (max(accepted) - min(accepted)) if accepted else 0.0,
        }), flush=True)


def bound_seconds(messages: int, channels: int, latency: float = 0.0) -> float:
    """The least time the limits allow for `messages` sends spread evenly over `channels`.

    Windows are fixed and open with the first request, so N requests need
    ceil(N / limit) windows and the last one can start no earlier than
    (windows - 1) periods after the first request; its answer comes one
    `latency` later at the earliest.
    """
    global_bound = (math.ceil(messages / GLOBAL_PER_SECOND) - 1) * 1.0
    per_channel = math.ceil(messages / channels)
    channel_bound = (math.ceil(per_channel / PER_CHANNEL) - 1) * PER_CHANNEL_WINDOW
    return max(global_bound, channel_bound) + latency


async def fan_out(channels: int, concurrency: int, latency: float) -> dict[str, Any]:
    from adapters.discord_out import DiscordAdapter
    from bot.app import Trendwatch
    from bot.config import Secrets, parse_settings
    from tests.fakes.hub import FakeHub, ranked

    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.discord_fanout", "--serve", "--channels", str(channels), "--latency", str(latency),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    api_base = json.loads(await child.stdout.readline())["api_base"]
    rss_before = peak_rss_mib()
    with tempfile.TemporaryDirectory(prefix="bench-discord-") as tmp:
        async with FakeHub() as hub:
            settings = parse_settings({
                "hub": {"endpoint": hub.endpoint},
                "store": {"path": str(Path(tmp) / "bench.db")},
                "console": {"enabled": False},
                "routes": [{"platform": "discord", "channel": str(CHANNEL_BASE + i)} for i in range(channels)],
                "delivery": {"concurrency": concurrency},
                "discord": {"enabled": True, "api_base": api_base},
            }, env={})
            adapter = DiscordAdapter("bench-token", api_base=api_base)
            app = await Trendwatch.open(settings, Secrets.from_env({}), {"discord": adapter})
            try:
                await app.acquire_lease()
                ids = [f"meta-llama/l{i}" for i in range(11)]
                hub.models = ranked(ids[:10])
                await app.poll()
                hub.models = ranked(ids[:9] + ids[10:11])  # one model enters at #10: one alert
                result = await app.poll()
                # l9 also left the top 10, but `left` is opt-in and the routes take the default kinds: one alert
                assert sorted(event.kind for event in result.events) == ["entered", "left"], result.events
                started = time.perf_counter()
                report = await app.deliver()
                elapsed = time.perf_counter() - started
            finally:
                await app.close()
    child.stdin.write(b"report\n")
    await child.stdin.drain()
    served = json.loads(await child.stdout.readline())
    await child.wait()
    return {"elapsed": elapsed, "sent": report.sent, "retried": report.retried, "paused": len(report.paused),
            "in_flight": report.in_flight.get("discord", 0),
            "rss_before": rss_before, **served}


async def main(channels: int = 1000, concurrency: int | None = None, latency: float = DEFAULT_LATENCY) -> bool:
    """Run the fan-out and print its figures (also what `python -m bench` calls)."""
    from bot.config import DeliverySettings

    os.environ.setdefault("HF_HOME", tempfile.mkdtemp(prefix="bench-hf-"))
    concurrency = concurrency or DeliverySettings().concurrency
    figures = await fan_out(channels, concurrency, latency)
    bound = bound_seconds(channels, channels, latency)
    ratio = figures["elapsed"] / bound if bound else float("nan")
    passed = ratio <= GOAL_RATIO and figures["lost"] == 0 and figures["duplicated"] == 0
    print(f"one alert to {channels} Discord channels (at most {concurrency} sends in flight,"
          f" {latency * 1000:g} ms answer latency), limits {GLOBAL_PER_SECOND} req/s global,"
          f" {PER_CHANNEL} msgs/{PER_CHANNEL_WINDOW:g} s per channel")
    print(f"time:  {figures['elapsed']:.2f} s   (first to last accepted message:"
          f" {figures['first_accepted_to_last']:.2f} s)")
    print(f"bound: {bound:.2f} s   (ceil({channels}/{GLOBAL_PER_SECOND}) - 1 fixed one-second windows,"
          f" + one answer)")
    print(f"goal: <= {GOAL_RATIO}x the bound, nothing lost or duplicated")
    print(f"sent {figures['sent']}, created {figures['created']}, lost {figures['lost']},"
          f" duplicated {figures['duplicated']}, retried later {figures['retried']}, paused {figures['paused']}")
    print(f"429s: {figures['rejected_429']} ({figures['rejected_429_global']} global) of"
          f" {figures['requests']} requests")
    print(f"most sends in flight at once: {figures['in_flight']} (sized from 48/s × the observed answer time)")
    print(f"peak memory (this process, max RSS): {peak_rss_mib():.1f} MiB"
          f" ({figures['rss_before']:.1f} MiB before delivering)")
    print(f"ratio: {ratio:.3f}x  {'PASS' if passed else 'FAIL'}")
    return passed


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=None,
                        help="most sends in flight; default: [delivery] concurrency's default")
    parser.add_argument("--latency", type=float, default=DEFAULT_LATENCY,
                        help="seconds the fake waits before each answer (default 0.2)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.channels, args.latency))
        return
    sys.exit(0 if asyncio.run(main(args.channels, args.concurrency, args.latency)) else 1)


if __name__ == "__main__":
    cli()
