"""The in-flight limit of a fan-out: Little's law over the pacing rate and the observed answer time."""

from __future__ import annotations

import asyncio
import time

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


async def test_slots_go_first_come_first_served_and_a_cancelled_waiter_frees_its_turn() -> None:
    slots = InFlight(most=1)
    order: list[int] = []
    gate = asyncio.Event()

    async def send(n: int) -> None:
        async with slots.slot():
            order.append(n)
            await gate.wait()

    first = asyncio.create_task(send(0))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(send(n)) for n in (1, 2, 3)]
    await asyncio.sleep(0)
    waiting[1].cancel()  # gave up while queued: its turn passes to the next
    gate.set()
    await asyncio.gather(first, waiting[0], waiting[2])
    assert order == [0, 1, 3] and slots.busy == 0


async def test_thousands_of_waiting_channels_cost_one_wake_up_per_freed_slot() -> None:
    """One alert to 10,000 channels: each freed slot wakes one waiter, not all of them (that was quadratic)."""
    slots = InFlight(most=2)

    async def send() -> None:
        async with slots.slot():
            await asyncio.sleep(0)

    started = time.process_time()
    await asyncio.gather(*(send() for _ in range(3000)))
    assert time.process_time() - started < 1.5
    assert slots.peak == 2 and slots.busy == 0
