"""Daily digest on a year of hourly snapshots at depth 50: its data for every day, and what the days hold.

`python -m bench.digest_daily` — the time to read and compute one day's digest, for each of the year's
days, against the weekly digest's data measured in the same run (a day must not cost more than a
week); the stored payload's size against the weekly one's; and, from the same 365 digests, what a
channel taking `digest-daily` would read: how often #1 changes within a day, how many models enter
the top N for the first time, whether the Discord embed stays inside Discord's limits. The simulated
scores carry 8% noise an hour, so its #1 flips far more often than the Hub's smoothed trending score
does: an upper bound for the "#1" field, which sums a day of more than five stretches per model.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from datetime import date, timedelta

from bench.measure import verdict
from bench.year_db import START, ensure
from bot.config import parse_settings
from bot.delivery.wording import render
from bot.domain.events import DailyDigest
from store.db import open_database

DAYS = 365
GOAL_DATA = 0.200  # the weekly digest's own goal (bench.digest)
WEEKS = ("2025-W10", "2025-W27", "2025-W45")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def main() -> None:
    from adapters.discord_render import DESCRIPTION_MAX, FIELD_VALUE_MAX, TOTAL_MAX
    from bot.digest.daily import compute_daily_digest
    from bot.digest.weekly import compute_digest

    path = await ensure()
    settings = parse_settings({"store": {"path": str(path)}, "hub": {"poll_interval": "1h"}}, env={})
    db = await open_database(path)
    try:
        now = START + timedelta(days=DAYS + 7)
        weekly_times, weekly_sizes = [], []
        for week in WEEKS:
            for _ in range(3):
                began = time.perf_counter()
                weekly = await compute_digest(db.conn, settings, week, now)
                weekly_times.append(time.perf_counter() - began)
            weekly_sizes.append(len(json.dumps(weekly.to_payload())))
        weekly_time = statistics.median(weekly_times)

        digests: list[DailyDigest] = []
        times: list[float] = []
        first = date.fromisoformat(f"{START:%Y-%m-%d}")
        for offset in range(DAYS):
            day = (first + timedelta(days=offset)).isoformat()
            began = time.perf_counter()
            digests.append(await compute_daily_digest(db.conn, settings, day, now))
            times.append(time.perf_counter() - began)
    finally:
        await db.close()

    print(f"{DAYS} days from {START:%Y-%m-%d}, hourly snapshots at depth 50; weekly baseline: {len(WEEKS)} weeks × 3")
    verdict("daily digest data (median day)", statistics.median(times), GOAL_DATA, weekly_time,
            note=f"(p95 {_percentile(times, 0.95) * 1000:.1f} ms; baseline: a week's, {weekly_time * 1000:.1f} ms)")
    sizes = [len(json.dumps(d.to_payload())) for d in digests]
    weekly_size = statistics.median(weekly_sizes)
    verdict("daily digest payload (largest day)", max(sizes), weekly_size, weekly_size, unit="B",
            note=f"(median {statistics.median(sizes):.0f} B; baseline: a week's median, {weekly_size:.0f} B)")

    changes = [d.leader_changes for d in digests]
    newcomers = [len(d.newcomers) for d in digests]
    climbers = [len(d.climbers) for d in digests]
    print(f"#1 changed within the day on {sum(c > 0 for c in changes)} of {DAYS} days"
          f" (median {statistics.median(changes):g} changes, most {max(changes)})")
    print(f"first entries into the top 10 per day: median {statistics.median(newcomers):g}, most {max(newcomers)};"
          f" climbers listed: median {statistics.median(climbers):g}")

    widest_field = widest_embed = 0
    for digest in digests:
        message = render(digest)
        fields = ["\n".join("".join(s.text for s in line) for line in f.value) for f in message.fields]
        widest_field = max(widest_field, *(len(text) for text in fields))
        widest_embed = max(widest_embed, len(message.title) + sum(len(f.name) for f in message.fields)
                           + sum(len(text) for text in fields) + len(message.footer or ""))
    note = f"(field limit {FIELD_VALUE_MAX}, description {DESCRIPTION_MAX}; widest field {widest_field} characters)"
    verdict("daily digest text, longest day (characters)", widest_embed, TOTAL_MAX, None, unit="ch", note=note)


if __name__ == "__main__":
    asyncio.run(main())
