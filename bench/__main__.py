"""`python -m bench` (make bench): every benchmark in turn, then a one-line summary of the verdicts."""

from __future__ import annotations

import asyncio
import os

from bench import (
    alert_volume,
    attribution,
    digest,
    digest_daily,
    discord_fanout,
    discord_shards,
    imports,
    memory,
    poll_cycle,
    queries,
    silence_routing,
    slack_fanout,
    tenants,
    web,
)
from bench.measure import VERDICTS
from tests.support.postgres import bin_dir

if __name__ == "__main__":
    for bench in (poll_cycle, queries, digest, digest_daily, memory, discord_fanout, discord_shards, slack_fanout,
                  attribution, imports, web, alert_volume, silence_routing):
        print(f"\n== {bench.__name__} ==")
        asyncio.run(bench.main())
    if bin_dir() is not None or os.environ.get("TRENDWATCH_TEST_POSTGRES"):
        for bench in (poll_cycle, queries, imports, web):  # the store-bound figures again, on PostgreSQL
            print(f"\n== {bench.__name__} --store postgresql ==")
            asyncio.run(bench.main(store="postgresql"))
        print("\n== bench.tenants (PostgreSQL) ==")
        asyncio.run(tenants.main())
    failed = [name for name, passed in VERDICTS if not passed]
    print(f"\nbench: {len(VERDICTS) - len(failed)} of {len(VERDICTS)} figures PASS"
          + (f"; FAIL: {', '.join(failed)}" if failed else ""))
