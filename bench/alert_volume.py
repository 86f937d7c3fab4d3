"""How many `left` and `climber` messages a day a channel gets, per setting, on a year of 15-minute polls.

    python -m bench.alert_volume

The year is simulated, but shaped on the real archive in `bench/data` (141 top-10 snapshots of
March–May 2026): models arrive, peak and fade as the real ones do, and the simulation is checked
against the archive by sampling it as the archive was sampled (about every 12 hours) and comparing
what the top 10 did: models entering per day, distinct newcomers per day, how long one stays,
climbs per day. Those figures are printed side by side before the table, so a reader can judge
the shape. Between archive samples nothing is known, so the 15-minute jitter (a slow multiplicative
drift of each score, correlated over hours, as the Hub's 7-day trending score moves) is set so the
12-hour re-entries match the archive's: re-entries are what flapping leaves behind.

Detection is the bot's own (`bot.rules.churn`, `detect_new_leader`); what the store would answer
(each leaver's stay, each climber's recent places, who led recently) is read from the simulated
ranks with the store's meaning (`store.snapshots.top_stays`, `recent_places`). One message per poll
per kind per channel is what the bot sends, so messages a day = polls a day that produced the event.

Goal (can fail): with the default settings (top 10, climb 3, 24 h cooldown) a median day brings at
most 6 messages of each kind to a channel that opted in. Six a day is one every four hours: together
with entries and #1 changes, a churn-subscribed channel then posts about as often as a busy feed
channel, which is where users of feed bots start asking for digests or muting (the reason the kinds
are opt-in at all). The baseline in the same run is the same setting without the cooldown.
"""

from __future__ import annotations

import math
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from bench.measure import verdict
from bench.trending_data import load_snapshots
from bot.domain.rule_state import History, TopStay
from bot.domain.snapshot import Entry, Snapshot
from bot.rules.churn import climb_candidates, detect_climbers, detect_left, leavers
from bot.rules.detect import detect_new_leader
from store import snapshots
from store.db import open_database

START = datetime(2025, 1, 6, tzinfo=UTC)
STEP = timedelta(minutes=15)
DAYS = 365
STEPS = DAYS * 96
DEPTH = 25  # ranks kept per poll: enough for top 20 and where a leaver went
TOP_NS = (10, 20)
CLIMBS = (2, 3, 5, 10)
COOLDOWN = timedelta(hours=24)
GOAL_PER_DAY = 6  # messages of one kind on a median day, default settings
ARCHIVE_EVERY = 48  # 12 h: how often the real archive sampled the list (median gap 11.8 h)

# Shape of the year (chosen so the 12-hourly view matches the archive; see `shape`).
ARRIVALS_PER_DAY = 1.6  # models that trend at all (a bump of their own) per day
WIDTH_DAYS = (4.5, 0.6)  # log-normal (median, sigma) of how long a model's bump lasts
NOISE_SD, NOISE_HOURS = 0.06, 6.0  # multiplicative drift of each score and its correlation time
SEED = 11
JUMPY_HOURS = 1.0  # a jumpier 15-minute list, for the sensitivity line
CHECK_DAYS = 3  # days also run through a real store, to check the in-memory memory against it


def simulate(seed: int = SEED, noise_hours: float = NOISE_HOURS) -> np.ndarray:
    """STEPS × DEPTH model indices by rank (0-based), built a week at a time to bound memory."""
    rng = np.random.default_rng(seed)
    count = rng.poisson(ARRIVALS_PER_DAY * (DAYS + 60))
    peaks = rng.uniform(-30, DAYS + 30, count) * 96  # in steps
    widths = np.exp(rng.normal(math.log(WIDTH_DAYS[0]), WIDTH_DAYS[1], count)) * 96
    heights = np.exp(rng.normal(0.0, 0.5, count))
    phi = math.exp(-0.25 / noise_hours)
    drift = rng.normal(0.0, NOISE_SD, count)
    ranks = np.empty((STEPS, DEPTH), dtype=np.int32)
    week = 96 * 7
    for first in range(0, STEPS, week):
        last = min(first + week, STEPS)
        t = np.arange(first, last, dtype=float)[:, None]
        base = heights * np.exp(-(((t - peaks) / widths) ** 2))
        noise = np.empty_like(base)
        for k in range(last - first):
            drift = phi * drift + math.sqrt(1 - phi * phi) * rng.normal(0.0, NOISE_SD, count)
            noise[k] = drift
        scores = base * np.exp(noise)
        ranks[first:last] = np.argsort(-scores, axis=1)[:, :DEPTH]
    return ranks


@dataclass(frozen=True, slots=True)
class Shape:
    entries_per_day: float
    newcomers_per_day: float
    median_span_days: float
    climbs3_per_day: float


def shape_of(lists: Sequence[Sequence[str]], times: Sequence[datetime]) -> Shape:
    """What the top 10 did between consecutive samples: the figures the archive can be compared on."""
    days = (times[-1] - times[0]).total_seconds() / 86400
    first: dict[str, datetime] = {}
    last: dict[str, datetime] = {}
    entries = climbs = 0
    for i, top in enumerate(lists):
        for model in top:
            first.setdefault(model, times[i])
            last[model] = times[i]
        if i:
            before = {m: r for r, m in enumerate(lists[i - 1], 1)}
            entries += len(set(top) - set(before))
            climbs += sum(1 for r, m in enumerate(top, 1) if m in before and before[m] - r >= 3)
    spans = [(last[m] - first[m]).total_seconds() / 86400 for m in first]
    return Shape(entries / days, len(first) / days, statistics.median(spans), climbs / days)


def snapshot(order: np.ndarray, step: int) -> Snapshot:
    return Snapshot(START + step * STEP, tuple(Entry(rank=r, id=f"m/{int(m)}") for r, m in enumerate(order, 1)))


@dataclass
class Memory:
    """What the store remembers of one top N, kept as the polls go (the store's meaning, in memory)."""

    top_n: int
    run_start: dict[str, int]
    run_from_start: dict[str, bool]
    last_run_end: dict[str, int]
    last_led: dict[str, int]

    def history(self, ranks: np.ndarray, step: int, left: list[str], climbing: list[str]) -> History:
        stays = {m: TopStay(since=START + self.run_start[m] * STEP, at_least=self.run_from_start[m],
                            left_before=START + self.last_run_end[m] * STEP if m in self.last_run_end else None)
                 for m in left}
        window = max(0, step - int(COOLDOWN / STEP))
        places: dict[str, dict[int, datetime]] = {}
        for m in climbing:
            index = int(m.split("/")[1])
            held = np.nonzero(ranks[window:step, : self.top_n] == index)
            for k, r in zip(*held, strict=True):
                places.setdefault(m, {})[int(r) + 1] = START + (window + int(k)) * STEP
        return History(last_led={m: START + s * STEP for m, s in self.last_led.items()}, stays=stays,
                       last_at_rank=places)

    def advance(self, previous: Snapshot, current: Snapshot, step: int) -> None:
        before = {e.id for e in previous.top(self.top_n)}
        now = {e.id for e in current.top(self.top_n)}
        for m in before - now:
            self.last_run_end[m] = step - 1
        for m in now - before:
            self.run_start[m] = step
            self.run_from_start[m] = False
        self.last_led[current.entries[0].id] = step


Setting = tuple[str, int, int | None, bool]  # kind, top_n, climb (None for left), cooldown on


@dataclass
class Tally:
    """Messages per day and models listed, per setting."""

    days: int
    per_day: dict[Setting, list[int]] = field(default_factory=dict)
    listed: dict[Setting, int] = field(default_factory=dict)

    def add(self, setting: Setting, day: int, models: int) -> None:
        self.per_day.setdefault(setting, [0] * self.days)[day] += 1
        self.listed[setting] = self.listed.get(setting, 0) + models

    def detect_all(self, previous: Snapshot, current: Snapshot, top_n: int, history: History, day: int) -> None:
        """Every setting of this top N on one poll, through the bot's own detection."""
        for cooled in (True, False):
            cooldown = COOLDOWN if cooled else timedelta(0)
            leader = detect_new_leader(previous, current, history, cooldown, None)
            left = detect_left(previous, current, top_n, history, cooldown)
            if left is not None:
                self.add(("left", top_n, None, cooled), day, len(left.models))
            for climb in CLIMBS:
                climber = detect_climbers(previous, current, top_n, climb, history, cooldown, leader)
                if climber is not None:
                    self.add(("climber", top_n, climb, cooled), day, len(climber.models))


def count_messages(ranks: np.ndarray, steps: int = STEPS) -> Tally:
    """Every setting over the first `steps` polls, with the store's memory kept in memory (fast)."""
    tally = Tally(math.ceil(steps / 96))
    first = snapshot(ranks[0], 0)
    memories = {n: Memory(n, {e.id: 0 for e in first.top(n)}, {e.id: True for e in first.top(n)}, {},
                          {first.entries[0].id: 0}) for n in TOP_NS}
    previous = first
    for step in range(1, steps):
        current = snapshot(ranks[step], step)
        for top_n, memory in memories.items():
            left_ids = leavers(previous, current, top_n)
            climbing = climb_candidates(previous, current, top_n, min(CLIMBS))
            if left_ids or climbing:
                tally.detect_all(previous, current, top_n, memory.history(ranks, step, left_ids, climbing), step // 96)
            memory.advance(previous, current, step)
        previous = current
    return tally


async def count_through_store(ranks: np.ndarray, steps: int) -> Tally:
    """The same, with each poll's memory read from a real SQLite store as the poller reads it (slow: a check)."""
    tally = Tally(math.ceil(steps / 96))
    with tempfile.TemporaryDirectory() as folder:
        db = await open_database(Path(folder) / "volume.db")
        try:
            previous: Snapshot | None = None
            for step in range(steps):
                current = snapshot(ranks[step], step)
                async with db.transaction() as conn:
                    for top_n in TOP_NS if previous is not None else ():
                        assert previous is not None
                        left_ids = leavers(previous, current, top_n)
                        climbing = climb_candidates(previous, current, top_n, min(CLIMBS))
                        if not left_ids and not climbing:
                            continue
                        base = await snapshots.item_history(conn, [e.id for e in current.top(top_n)])
                        history = replace(
                            base,
                            stays=await snapshots.top_stays(conn, left_ids, top_n, current.taken_at,
                                                            current.taken_at - COOLDOWN),
                            last_at_rank=await snapshots.recent_places(conn, climbing, top_n,
                                                                       current.taken_at - COOLDOWN, current.taken_at))
                        tally.detect_all(previous, current, top_n, history, step // 96)
                    await snapshots.save_snapshot(conn, current, max(TOP_NS), "sim")
                previous = current
        finally:
            await db.close()
    return tally


def quantile(values: Sequence[int], q: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


async def main() -> None:
    began = time.perf_counter()
    ranks = simulate()
    real = load_snapshots()
    real_shape = shape_of([s.model_ids for s in real], [datetime.fromisoformat(s.taken_at) for s in real])
    sampled = range(0, STEPS, ARCHIVE_EVERY)
    sim_shape = shape_of([[f"m/{int(m)}" for m in ranks[k, :10]] for k in sampled],
                         [START + k * STEP for k in sampled])
    print("shape of the top 10, sampled every ~12 h   real archive (Mar–May 2026)   simulated year")
    for label, attr in (("models entering per day", "entries_per_day"),
                        ("distinct newcomers per day", "newcomers_per_day"),
                        ("median days from first to last seen", "median_span_days"),
                        ("climbs of 3+ places per day", "climbs3_per_day")):
        print(f"  {label:<40} {getattr(real_shape, attr):>12.2f}   {getattr(sim_shape, attr):>20.2f}")

    tally = count_messages(ranks)
    per_day, listed = tally.per_day, tally.listed
    print(f"\nmessages a day per channel, {DAYS} days of 15-minute polls (median / 90th percentile / max;"
          " models per message)")
    print(f"{'kind':<8} {'top_n':>5} {'climb':>5}   {'24 h cooldown':>26}   {'no cooldown':>26}")
    for kind in ("left", "climber"):
        for top_n in TOP_NS:
            for climb in (CLIMBS if kind == "climber" else (None,)):
                cells = []
                for cooled in (True, False):
                    days = per_day.get((kind, top_n, climb, cooled), [0] * DAYS)
                    sent = sum(days)
                    per_message = listed.get((kind, top_n, climb, cooled), 0) / sent if sent else 0.0
                    cells.append(f"{statistics.median(days):5.1f} / {quantile(days, 0.9):4.0f} / {max(days):3d};"
                                 f" {per_message:4.1f}")
                print(f"{kind:<8} {top_n:>5} {climb or '-':>5}   {cells[0]:>26}   {cells[1]:>26}")

    check_steps = CHECK_DAYS * 96
    quick, stored = count_messages(ranks, check_steps), await count_through_store(ranks, check_steps)
    settings = set(quick.per_day) | set(stored.per_day)
    differ = sum(1 for key in settings if quick.per_day.get(key) != stored.per_day.get(key)
                 or quick.listed.get(key) != stored.listed.get(key))
    sent = sum(sum(days) for days in stored.per_day.values())
    print(f"\nthe same first {CHECK_DAYS} days through a real SQLite store as the poller reads it:"
          f" {len(settings) - differ} of {len(settings)} settings give the same messages ({sent} in all)")

    jumpy = simulate(noise_hours=JUMPY_HOURS)
    sampled_jumpy = shape_of([[f"m/{int(m)}" for m in jumpy[k, :10]] for k in sampled],
                             [START + k * STEP for k in sampled])
    other = count_messages(jumpy)
    print(f"\nsensitivity: scores drifting over {JUMPY_HOURS:g} h instead of {NOISE_HOURS:g} h (12-hourly: "
          f"{sampled_jumpy.entries_per_day:.2f} entering and {sampled_jumpy.climbs3_per_day:.2f} climbs of 3+ a day),"
          " defaults (top 10, climb 3), 24 h cooldown / none:")
    for kind, climb in (("left", None), ("climber", 3)):
        medians = [statistics.median(other.per_day.get((kind, 10, climb, cooled), [0] * DAYS))
                   for cooled in (True, False)]
        print(f"  {kind:<8} median day {medians[0]:.1f} / {medians[1]:.1f}")

    print()
    verdict("store check: settings that differ", float(differ), 1.0, None, unit="",
            note=f"first {CHECK_DAYS} days, in-memory memory vs the store's")
    for kind, climb in (("left", None), ("climber", 3)):
        figure = statistics.median(per_day.get((kind, 10, climb, True), [0] * DAYS))
        baseline = statistics.median(per_day.get((kind, 10, climb, False), [0] * DAYS))
        verdict(f"{kind} messages, median day (defaults)", figure, GOAL_PER_DAY + 1, baseline or None,
                unit="/d", note=f"goal: at most {GOAL_PER_DAY} a day; baseline: no cooldown")
    print(f"({time.perf_counter() - began:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    import asyncio

    asyncio.run(main())
