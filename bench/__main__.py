"""`python -m bench` (make bench): every benchmark in turn."""

from __future__ import annotations

import asyncio

from bench import digest, poll_cycle, queries

if __name__ == "__main__":
    for bench in (poll_cycle, queries, digest):
        print(f"\n== {bench.__name__} ==")
        asyncio.run(bench.main())
