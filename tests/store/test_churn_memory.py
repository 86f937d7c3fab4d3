"""What `left` and `climber` read from the store: a model's latest run in the top N, its recent places."""

from __future__ import annotations

from pathlib import Path

from bot.domain.rule_state import TopStay
from store import snapshots
from store.db import open_database
from tests.conftest import T0, hours, snap

IDS = [f"org/m{i}" for i in range(1, 13)]


def with_m10_at(rank: int) -> list[str]:
    """The list with org/m10 moved to `rank` (1-based), the others in order."""
    rest = [i for i in IDS if i != "org/m10"]
    return [*rest[: rank - 1], "org/m10", *rest[rank - 1:]]


async def test_a_stay_starts_after_the_last_snapshot_out_of_the_top_and_remembers_a_recent_exit(db_path: Path):
    # m10 per hour: in (0-2), out (3-4), in (5-9): its latest run began at hour 5; it was last in before that at 2.
    places = [10, 10, 10, 11, 12, 9, 8, 3, 5, 4]
    db = await open_database(db_path)
    try:
        async with db.transaction() as conn:
            for hour, rank in enumerate(places):
                await snapshots.save_snapshot(conn, snap(with_m10_at(rank), T0 + hours(hour)), 10, "test")
        now = T0 + hours(10)
        stays = await snapshots.top_stays(db.conn, ["org/m10", "org/m1", "nobody/x"], 10, now, now - hours(24))
        assert stays["org/m10"] == TopStay(since=T0 + hours(5), at_least=False, left_before=T0 + hours(2))
        assert stays["org/m1"] == TopStay(since=T0, at_least=True)  # in every snapshot since the first
        assert "nobody/x" not in stays
        outside_window = await snapshots.top_stays(db.conn, ["org/m10"], 10, now, now - hours(6))
        assert outside_window["org/m10"].left_before is None  # the earlier exit is older than the cooldown
        as_of_hour_4 = await snapshots.top_stays(db.conn, ["org/m10"], 10, T0 + hours(3), T0 - hours(24))
        assert as_of_hour_4["org/m10"] == TopStay(since=T0, at_least=True)  # only what was stored before

        recent = await snapshots.recent_places(db.conn, ["org/m10"], 10, now - hours(4), now)
        assert recent == {"org/m10": {8: T0 + hours(6), 3: T0 + hours(7), 5: T0 + hours(8), 4: T0 + hours(9)}}
        assert await snapshots.recent_places(db.conn, ["org/m10"], 10, now, now) == {}
    finally:
        await db.close()
