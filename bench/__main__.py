"""`python -m bench` (make bench): every benchmark in turn."""

from __future__ import annotations

import asyncio

from bench import attribution, digest, discord_fanout, poll_cycle, queries, slack_fanout

if __name__ == "__main__":
    for bench in (poll_cycle, queries, digest, discord_fanout, slack_fanout, attribution):
        print(f"\n== {bench.__name__} ==")
        asyncio.run(bench.main())
