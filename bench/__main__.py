"""`python -m bench` (make bench): every benchmark in turn, then a one-line summary of the verdicts."""

from __future__ import annotations

import asyncio

from bench import attribution, digest, discord_fanout, memory, poll_cycle, queries, slack_fanout
from bench.measure import VERDICTS

if __name__ == "__main__":
    for bench in (poll_cycle, queries, digest, memory, discord_fanout, slack_fanout, attribution):
        print(f"\n== {bench.__name__} ==")
        asyncio.run(bench.main())
    failed = [name for name, passed in VERDICTS if not passed]
    print(f"\nbench: {len(VERDICTS) - len(failed)} of {len(VERDICTS)} figures PASS"
          + (f"; FAIL: {', '.join(failed)}" if failed else ""))
