"""The one retry policy: doubling waits, a cap, and jitter within its spread."""

from __future__ import annotations

import random

from bot.retry import DELIVERY, RECONNECT, Backoff


def test_waits_double_from_the_first_up_to_the_cap_within_the_spread() -> None:
    policy = Backoff(first=5.0, cap=60.0, spread=0.2)
    rng = random.Random(7)
    for attempt, base in [(1, 5.0), (2, 10.0), (3, 20.0), (4, 40.0), (5, 60.0), (30, 60.0)]:
        for _ in range(50):
            wait = policy.delay(attempt, rng)
            assert base * 0.8 <= wait <= min(60.0, base * 1.2), (attempt, wait)


def test_jitter_spreads_retries_that_failed_together() -> None:
    rng = random.Random(1)
    waits = {round(RECONNECT.delay(3, rng), 3) for _ in range(20)}
    assert len(waits) > 10


def test_the_delivery_policy_is_capped_by_the_setting() -> None:
    assert DELIVERY.capped(90.0).delay(10) <= 90.0
    assert DELIVERY.delay(1) >= 24.0
