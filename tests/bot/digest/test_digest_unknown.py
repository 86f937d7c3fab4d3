"""The digest's averages say how many entries of the week were of unknown origin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.delivery.wording import render_digest
from bot.digest.week import build_digest, unknown_per_snapshot
from bot.domain.messages import plain
from bot.domain.week_rows import SnapshotRow, TopRow, WeekRows

MON = datetime(2025, 7, 21, tzinfo=UTC)
COUNTRY = {"A": "CN", "B": "US", "E": "unknown", "F": "unknown"}


def week(*lists: list[str]) -> WeekRows:
    snapshots = tuple(SnapshotRow(i, MON + timedelta(hours=6 * i), 3) for i in range(len(lists)))
    top = tuple(TopRow(i, rank, m, COUNTRY[m]) for i, models in enumerate(lists)
                for rank, m in enumerate(models, start=1))
    return WeekRows(snapshots, top, {}, {}, {})


def test_unknown_entries_per_snapshot_are_averaged_over_the_week():
    # 2 + 1 + 0 + 0 unknown entries over 4 snapshots: 0.75, shown to one decimal
    rows = week(["A", "E", "F"], ["A", "B", "E"], ["A", "B", "A"], ["B", "A", "B"])
    assert unknown_per_snapshot(rows) == 0.8
    assert unknown_per_snapshot(week()) == 0.0


def test_every_country_average_carries_the_unknowns_beside_it():
    rows = week(["A", "E", "F"], ["A", "B", "E"])  # 1.5 unknown per snapshot
    event = build_digest("2025-W30", ZoneInfo("UTC"), rows, None, top_n=3, poll_interval=timedelta(hours=6),
                         created_at=MON + timedelta(days=7))
    assert event.unknown_average == 1.5
    (field,) = [f for f in render_digest(event).fields if f.name.startswith("Average share")]
    texts = [plain(value) for value in field.value]
    assert "🇨🇳 China: 33.3% (1.5 unknown on average)" in texts  # one of three in each snapshot
    assert any(text.startswith("🏳️ unknown origin: 50%") and "on average" not in text for text in texts)


def test_a_week_without_unknowns_reads_as_before():
    rows = week(["A", "B", "A"])
    event = build_digest("2025-W30", ZoneInfo("UTC"), rows, None, top_n=3, poll_interval=timedelta(hours=6),
                         created_at=MON + timedelta(days=7))
    (field,) = [f for f in render_digest(event).fields if f.name.startswith("Average share")]
    assert plain(field.value[0]) == "🇨🇳 China: 66.7%"
