"""The share maths behind `/share` and its CSV: averages per bucket over its snapshots, sources kept apart."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.web.buckets import (
    LIVE,
    DayMix,
    DayTotal,
    add_days,
    bucket_end,
    bucket_start,
    buckets_of,
    countries_in,
    share_buckets,
)


def test_a_weeks_share_is_the_average_over_its_snapshots_not_over_its_days() -> None:
    # Monday: one archived snapshot with CN 6 of 10; Tuesday: three polls with CN 3 of 10.
    days = [DayMix(date(2025, 7, 21), "park/daily", 10, {"CN": 6, "US": 3, "unknown": 1}, 1),
            DayMix(date(2025, 7, 22), LIVE, 10, {"CN": 3, "US": 7}, 3)]
    [week] = share_buckets(days, "week")
    assert week.start == date(2025, 7, 21) and week.end == date(2025, 7, 28)
    assert week.snapshots == 4
    assert week.shares == {"CN": 37.5, "US": 60.0, "unknown": 2.5}  # (60 + 3*30) / 4, (30 + 3*70) / 4, 10 / 4
    assert week.unknown == 0.25
    assert week.sources == ("park/daily", LIVE)  # archives first, then the bot's own polls
    assert sum(week.shares.values()) == pytest.approx(100)


def test_buckets_split_by_resolution_and_skip_empty_ones() -> None:
    days = [DayMix(date(2025, 1, 31), LIVE, 10, {"CN": 10}, 2), DayMix(date(2025, 3, 1), LIVE, 10, {"US": 10}, 1)]
    months = share_buckets(days, "month")
    assert [(b.start, b.end) for b in months] == [(date(2025, 1, 1), date(2025, 2, 1)),
                                                  (date(2025, 3, 1), date(2025, 4, 1))]
    assert [b.shares for b in share_buckets(days, "day")] == [{"CN": 100.0}, {"US": 100.0}]


def test_a_changed_top_n_is_a_share_of_each_snapshots_own_n() -> None:
    days = [DayMix(date(2025, 7, 21), LIVE, 10, {"CN": 5, "US": 5}, 1),
            DayMix(date(2025, 7, 21), LIVE, 20, {"CN": 20}, 1)]
    [day] = share_buckets(days, "day")
    assert day.shares == {"CN": 75.0, "US": 25.0}
    assert day.top_n == 20


@pytest.mark.parametrize(("day", "resolution", "start", "end"), [
    (date(2025, 12, 31), "month", date(2025, 12, 1), date(2026, 1, 1)),
    (date(2026, 1, 1), "week", date(2025, 12, 29), date(2026, 1, 5)),
    (date(2026, 1, 1), "day", date(2026, 1, 1), date(2026, 1, 2)),
])
def test_bucket_bounds(day: date, resolution: str, start: date, end: date) -> None:
    assert bucket_start(day, resolution) == start  # type: ignore[arg-type]
    assert bucket_end(start, resolution) == end  # type: ignore[arg-type]


def test_countries_are_ordered_by_total_share_with_unknown_last() -> None:
    days = [DayMix(date(2025, 7, 21), LIVE, 10, {"unknown": 5, "US": 2, "CN": 3}, 1)]
    assert countries_in(share_buckets(days, "day")) == ["CN", "US", "unknown"]


def test_day_totals_added_as_they_come_give_the_same_buckets_as_all_at_once() -> None:
    days = [DayMix(date(2025, 7, 21) + timedelta(days=i % 9), LIVE if i % 3 else "arch", 10,
                   {"CN": i % 7, "US": 10 - i % 7 - i % 2, "unknown": i % 2}, 1 + i % 5) for i in range(60)]
    one_by_one: dict[tuple[date, int], DayTotal] = {}
    for day in reversed(days):
        one_by_one = add_days(one_by_one, [day])
    assert one_by_one == add_days({}, days)
    assert buckets_of(one_by_one.values(), "week") == share_buckets(days, "week")
