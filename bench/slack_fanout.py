"""One poll's alerts fanned out to 100 Slack channels, against FakeSlack enforcing Slack-like limits.

The whole path is real: FakeHub → poll → outbox (3 alerts × 100 routed channels) → deliver_due →
SlackAdapter → slack_sdk → FakeSlack, which allows one post a second per channel (burst 1) and a
workspace-wide sliding window, answers 429 with an integer `Retry-After` beyond either, and
takes `--latency` seconds (default 200 ms, a real round trip) to answer each call.

The bound is the least time any sender could take under those limits: the workspace lets
`limit` posts through per `window` seconds, so post k (counting from 0) cannot go before
floor(k / limit) × window; a channel's third alert cannot go before 2 s after its first; and the
last answer comes one latency after the last post. Slack's workspace window is a minute; it is
shrunk here to keep the run short, which makes the 1-second granularity of `Retry-After` weigh
more, not less.

    python -m bench.slack_fanout [--channels 100] [--latency 0.2] [--concurrency N] [--limit 300] [--window 6]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import time
from collections import Counter
from pathlib import Path

from bot.app import Trendwatch
from bot.config import Secrets, parse_settings
from store import outbox
from tests.fakes.hub import FakeHub, ranked
from tests.fakes.slack_api import FakeSlack, SlackLimits

CN = [f"Qwen/q{i}" for i in range(10)]
US = [f"meta-llama/l{i}" for i in range(10)]
GOAL_RATIO = 1.2
DEFAULT_LATENCY = 0.2


def bound(posts: int, per_channel: int, limit: int, window: float, burst: int, rate: float,
          latency: float = 0.0) -> float:
    workspace = ((posts - 1) // limit) * window
    channel = max(per_channel - burst, 0) / rate
    return max(workspace, channel) + latency


async def run(channels: int, concurrency: int, limit: int, window: float, latency: float) -> bool:
    os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="bench-hf-")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    for proxy in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):  # slack_sdk ignores NO_PROXY
        os.environ.pop(proxy, None)
    limits = SlackLimits(per_channel_per_second=1.0, burst=1, workspace_per_minute=limit,
                         workspace_window_seconds=window)
    ids = [f"C{n:05d}" for n in range(channels)]
    with tempfile.TemporaryDirectory(prefix="bench-slack-") as tmp:
        async with FakeHub() as hub, FakeSlack(limits=limits) as fake:
            fake.delay(latency)
            settings = parse_settings({
                "hub": {"endpoint": hub.endpoint},
                "store": {"path": str(Path(tmp) / "bench.db")},
                "console": {"enabled": False},
                "delivery": {"concurrency": concurrency},
                "slack": {"enabled": True, "api_url": fake.api_url},
                "share_rules": [{"country": "CN", "above": 50}],
                "routes": [{"platform": "slack", "channel": c} for c in ids],
            }, env={})
            app = await Trendwatch.open(settings, Secrets.from_env({"SLACK_BOT_TOKEN": "xoxb-bench"}))
            try:
                await app.acquire_lease()
                hub.models = ranked(US[:6] + CN[:4])
                await app.poll()
                hub.models = ranked(CN[:6] + US[:4])  # 2 entries, a new #1, China crosses 50%: 3 alerts
                await app.poll()
                queued = (await outbox.counts(app.db.conn)).get("pending", 0)
                per_channel = queued // channels
                started = time.perf_counter()
                passes = retried = in_flight = 0
                while (await outbox.counts(app.db.conn)).get("pending", 0):
                    report = await app.deliver()
                    passes += 1
                    retried += report.retried
                    in_flight = max(in_flight, report.in_flight.get("slack", 0))
                    if report.retried:  # rows put back with a backoff: a real bot waits for the next pass
                        await asyncio.sleep(1)
                        async with app.db.transaction() as conn:
                            await conn.execute("UPDATE outbox SET next_attempt_at = created_at"
                                               " WHERE status = 'pending'")
                elapsed = time.perf_counter() - started
            finally:
                await app.close()
            keys = Counter(p["metadata"]["event_payload"]["key"] for p in fake.posts())
            order_ok = all([p["blocks"][0]["text"]["text"][:12] for p in fake.posts(c)] ==
                           [p["blocks"][0]["text"]["text"][:12] for p in fake.posts(ids[0])] for c in ids)
    least = bound(queued, per_channel, limit, window, limits.burst, limits.per_channel_per_second, latency)
    lost = queued - len(keys)
    duplicated = sum(n - 1 for n in keys.values())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ratio = elapsed / least
    passed = ratio <= GOAL_RATIO and lost == 0 and duplicated == 0 and order_ok
    print(f"fan-out: {channels} channels × {per_channel} alerts = {queued} posts; limits: 1/s per channel"
          f" (burst {limits.burst}), {limit} per {window:g} s workspace-wide; {latency * 1000:g} ms answers;"
          f" at most {concurrency} sends in flight")
    print(f"goal: ≤ {GOAL_RATIO}x the bound, nothing lost or duplicated, same order in every channel")
    print(f"time {elapsed:.2f} s   bound {least:.2f} s (limits + one answer)")
    print(f"lost {lost}   duplicated {duplicated}; same order in every channel: {order_ok}")
    print(f"most sends in flight at once: {in_flight}")
    print(f"429 answers {fake.rejected_429}; deliver passes {passes}, rows put back for later {retried};"
          f" peak RSS {peak:.0f} MiB (bot and fakes in one process)")
    print(f"ratio: {ratio:.2f}x  {'PASS' if passed else 'FAIL'}")
    return passed


async def main(argv: list[str] | None = None) -> bool:
    from bot.config import DeliverySettings

    parser = argparse.ArgumentParser(prog="python -m bench.slack_fanout", description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--latency", type=float, default=DEFAULT_LATENCY,
                        help="seconds FakeSlack takes to answer each call (default 0.2)")
    parser.add_argument("--concurrency", type=int, default=DeliverySettings().concurrency,
                        help="[delivery] concurrency: most sends in flight")
    parser.add_argument("--limit", type=int, default=300, help="workspace-wide posts per window")
    parser.add_argument("--window", type=float, default=6.0, help="workspace window in seconds")
    args = parser.parse_args(argv if argv is not None else [])
    return await run(args.channels, args.concurrency, args.limit, args.window, args.latency)


if __name__ == "__main__":
    import sys

    sys.exit(0 if asyncio.run(main(sys.argv[1:])) else 1)
