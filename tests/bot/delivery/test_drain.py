"""The in-flight limit of a fan-out: Little's law over the pacing rate and the observed answer time."""

from __future__ import annotations

import asyncio

from bot.delivery.drain import InFlight


def test_the_limit_is_rate_times_answer_time_with_a_margin() -> None:
    slots = InFlight(most=100, rate=48)
    for _ in range(100):
        slots.observe(0.2)
    assert slots.limit == 13  # ceil(48 × 0.2 × 1.25) + 1: enough to keep 48/s going at 200 ms answers
    for _ in range(100):
        slots.observe(0.01)
    assert slots.limit == 2  # fast answers need few sends in flight


def test_the_limit_is_bounded() -> None:
    slots = InFlight(most=20, rate=48)
    for _ in range(100):
        slots.observe(5.0)
    assert slots.limit == 20
    assert InFlight(most=64).limit == 64  # no shared pacer: every channel may have its one send in flight


async def test_no_more_than_the_limit_are_in_flight() -> None:
    slots = InFlight(most=3)

    async def send() -> None:
        async with slots.slot():
            await asyncio.sleep(0.01)

    await asyncio.gather(*(send() for _ in range(20)))
    assert slots.peak == 3 and slots.busy == 0
