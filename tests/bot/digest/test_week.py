"""Digest maths on a small hand-built history; every expected number is worked out in the comments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from adapters.console import render_text
from bot.delivery.wording import render
from bot.digest.week import WeekError, build_digest, last_fire, previous_week, share_chart, week_bounds
from bot.domain.events import Gap
from bot.domain.week_rows import SnapshotRow, TopRow, WeekRows

UTC_ZONE = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")
MON = datetime(2025, 7, 21, tzinfo=UTC)  # Monday of ISO week 2025-W30
SIX = timedelta(hours=6)
COUNTRY = {"A": "CN", "B": "US", "C": "CN", "D": "FR", "E": "unknown", "X": "CN", "Y": "US"}


def rows(lists: Sequence[tuple[datetime, Sequence[str]]], top_n: int = 3, first_ranks=None, last_ranks=None,
         first_in_top=None) -> WeekRows:
    snapshots = tuple(SnapshotRow(i, at, top_n) for i, (at, _) in enumerate(lists))
    top = tuple(
        TopRow(i, rank, model, COUNTRY[model])
        for i, (_, models) in enumerate(lists)
        for rank, model in enumerate(models[:top_n], start=1)
    )
    return WeekRows(snapshots, top, first_ranks or {}, last_ranks or {}, first_in_top or {})


def w30() -> WeekRows:
    """Every 6 h from Mon 00:00 (k = 0..27) except Wed 06:00 and 12:00 (k = 9, 10): 26 snapshots.

    k = 0..8: A, B, C;  k = 11..27: B, A, D.  C entered the top 3 this week (Mon 00:00), D too (Wed 18:00).
    """
    lists = []
    for k in range(28):
        if k in (9, 10):
            continue
        lists.append((MON + k * SIX, ["A", "B", "C"] if k <= 8 else ["B", "A", "D"]))
    return rows(
        lists,
        first_ranks={"A": 1, "B": 2, "C": 3, "D": 7},
        last_ranks={"B": 1, "A": 2, "D": 3, "C": 5},
        first_in_top={"A": MON - timedelta(days=30), "B": MON - timedelta(days=3), "C": MON,
                      "D": MON + 11 * SIX},
    )


def digest(week_rows: WeekRows, previous: WeekRows | None = None, week: str = "2025-W30", tz=UTC_ZONE):
    return build_digest(week, tz, week_rows, previous, top_n=3, poll_interval=timedelta(hours=1),
                        created_at=MON + timedelta(days=7, hours=9))


def test_a_week_with_a_gap_counts_time_not_snapshots():
    d = digest(w30())
    assert d.snapshots == 26
    # Median spacing 6 h; Wed 00:00 → Wed 18:00 is 18 h > 2 × 6 h: a gap. The edges are on time.
    assert d.gaps == (Gap(start=MON + 8 * SIX, end=MON + 11 * SIX),)
    # Each snapshot stands for 6 h, the one before the gap too (not 18 h): A leads k = 0..8 → 9 × 6 = 54 h,
    # B leads k = 11..27 → 17 × 6 = 102 h.
    assert [(lead.id, lead.hours) for lead in d.leaders] == [("B", 102.0), ("A", 54.0)]


def test_newcomers_are_first_time_in_the_top_n_with_peak_and_time():
    d = digest(w30())
    # C: 9 snapshots × 6 h = 54 h at best #3; D: 17 × 6 = 102 h at best #3; more time ranks first on a tie.
    assert [(n.id, n.best_rank, n.hours_in_top, n.entered_at) for n in d.newcomers] == [
        ("D", 3, 102.0, MON + 11 * SIX), ("C", 3, 54.0, MON)]


def test_climbers_compare_the_first_and_last_snapshot_of_the_week():
    d = digest(w30())
    # D 7 → 3 (+4), B 2 → 1 (+1); A fell, C left the top 3.
    assert [(c.id, c.from_rank, c.to_rank) for c in d.climbers] == [("D", 7, 3), ("B", 2, 1)]


def test_long_runners_by_longest_unbroken_stretch():
    d = digest(w30())
    # A and B are in all 26 snapshots (26 × 6 = 156 h); D in k = 11..27 (102 h); C in k = 0..8 (54 h).
    assert [(r.id, r.longest_run_hours, r.whole_week) for r in d.long_runners] == [
        ("A", 156.0, True), ("B", 156.0, True), ("D", 102.0, False), ("C", 54.0, False)]


def test_country_averages_and_change_from_the_week_before():
    previous = rows([(MON - timedelta(days=2), ["A", "B", "E"])])  # CN, US, unknown: a third each
    d = digest(w30(), previous)
    # CN: 9 snapshots at 2/3 and 17 at 1/3 → (9 × 66.67 + 17 × 33.33) / 26 = 44.87; vs 33.33 → +11.5.
    # US: always 1/3. FR: 17 of 26 at 1/3 → 21.79, new. unknown: gone, was 33.3.
    assert [(c.country, c.average, c.previous, c.change) for c in d.countries] == [
        ("CN", 44.9, 33.3, 11.5), ("US", 33.3, 33.3, 0.0), ("FR", 21.8, 0.0, 21.8),
        ("unknown", 0.0, 33.3, -33.3)]


def test_without_a_previous_week_there_is_no_change():
    d = digest(w30(), rows([]))
    assert all(c.change is None and c.previous is None for c in d.countries)


def test_chart_series_holds_each_snapshot_share():
    d = digest(w30())
    assert d.chart is not None
    assert d.chart.countries == ("CN", "US", "FR")
    assert len(d.chart.times) == 26 and d.chart.gaps == d.gaps
    cn, us, fr = d.chart.shares
    assert (cn[0], us[0], fr[0]) == (66.67, 33.33, 0.0)
    assert (cn[-1], us[-1], fr[-1]) == (33.33, 33.33, 33.33)


def test_chart_groups_beyond_the_leaders_as_other_and_keeps_unknown_apart():
    snapshots = [SnapshotRow(1, MON, 10)]
    counts = {1: {"CN": 4, "US": 2, "FR": 1, "KR": 1, "unknown": 2}}
    chart = share_chart(snapshots, counts, leading=2)
    assert chart.countries == ("CN", "US", "other", "unknown")
    assert chart.shares == ((40.0,), (20.0,), (20.0,), (20.0,))


def test_a_change_of_leader_at_midnight_belongs_to_the_new_week():
    sunday_23 = MON + timedelta(days=7) - timedelta(hours=1)
    history = rows([
        (sunday_23 - timedelta(hours=1), ["X", "Y"]),
        (sunday_23, ["X", "Y"]),
        (sunday_23 + timedelta(hours=1), ["Y", "X"]),  # Monday 00:00 of 2025-W31: Y takes #1
        (sunday_23 + timedelta(hours=2), ["Y", "X"]),
    ], top_n=2)
    w30_digest, w31_digest = digest(history), digest(history, week="2025-W31")
    assert [(lead.id, lead.hours) for lead in w30_digest.leaders] == [("X", 2.0)]  # 22:00 and 23:00, 1 h each
    assert [(lead.id, lead.hours) for lead in w31_digest.leaders] == [("Y", 2.0)]
    assert w30_digest.snapshots == w31_digest.snapshots == 2


def test_midnight_is_local_midnight_in_the_configured_zone():
    # 21:00 UTC Sunday is 23:00 in Paris (summer, UTC+2); 22:00 UTC is Monday 00:00 there.
    sunday_21_utc = MON + timedelta(days=6, hours=21)
    history = rows([(sunday_21_utc, ["X", "Y"]), (sunday_21_utc + timedelta(hours=1), ["Y", "X"])], top_n=2)
    assert [lead.id for lead in digest(history, tz=PARIS).leaders] == ["X"]
    assert [lead.id for lead in digest(history, week="2025-W31", tz=PARIS).leaders] == ["Y"]


def test_an_empty_week_says_so():
    d = digest(rows([]))
    start, end = week_bounds("2025-W30", UTC_ZONE)
    assert d.snapshots == 0 and d.chart is None and not d.leaders and not d.countries
    assert d.gaps == (Gap(start=start, end=end),)


def test_weeks_and_the_schedule():
    assert week_bounds("2025-W30", PARIS) == (
        datetime(2025, 7, 20, 22, tzinfo=UTC), datetime(2025, 7, 27, 22, tzinfo=UTC))
    monday_0930 = datetime(2025, 7, 28, 9, 30, tzinfo=UTC)
    assert last_fire(monday_0930, "mon 09:00", UTC_ZONE) == datetime(2025, 7, 28, 9, tzinfo=UTC)
    assert last_fire(monday_0930 - timedelta(minutes=31), "mon 09:00", UTC_ZONE) == datetime(
        2025, 7, 21, 9, tzinfo=UTC)
    assert previous_week(datetime(2025, 7, 28, 9, tzinfo=UTC), UTC_ZONE) == "2025-W30"
    # A Friday digest also covers the last *full* week.
    assert previous_week(datetime(2025, 8, 1, 17, tzinfo=UTC), UTC_ZONE) == "2025-W30"
    # Year boundary: Monday 2026-01-05 follows 2026-W01 (29 Dec 2025 – 4 Jan 2026).
    assert previous_week(datetime(2026, 1, 5, 9, tzinfo=UTC), UTC_ZONE) == "2026-W01"
    with pytest.raises(WeekError):
        week_bounds("2025-30", UTC_ZONE)
    with pytest.raises(WeekError):
        week_bounds("2025-W53", UTC_ZONE)  # 2025 has 52 ISO weeks


def test_the_digest_lists_the_weeks_most_frequent_unknown_namespaces():
    from bot.delivery.wording import render_digest
    from bot.digest.week import unknown_namespaces

    top = (TopRow(0, 1, "jane/a", "unknown"), TopRow(0, 2, "bob/x", "unknown"), TopRow(1, 1, "jane/b", "unknown"),
           TopRow(1, 2, "Qwen/q", "CN"), TopRow(2, 1, "jane/a", "unknown"))
    found = unknown_namespaces(top)
    assert [(u.namespace, u.entries, u.models) for u in found] == [("jane", 3, ("jane/a", "jane/b")),
                                                                   ("bob", 1, ("bob/x",))]
    week = rows([(MON, ["A", "E"]), (MON + SIX, ["E", "B"])], top_n=2)
    week = WeekRows(week.snapshots, tuple(r if r.model_id != "E" else TopRow(r.snapshot_id, r.rank, "jane/E",
                                                                                 "unknown") for r in week.top),
                    {}, {}, {})
    event = digest(week)
    assert [(u.namespace, u.entries) for u in event.unknown_namespaces] == [("jane", 2)]
    field = next(f for f in render_digest(event).fields if f.name.startswith("Unknown origin"))
    assert "jane — 2 entries (E)" in "".join(span.text for span in field.value[0])


def test_a_week_built_partly_on_imported_history_names_the_archive_under_built_from():
    week = w30()
    archived = tuple(replace(s, archive="park-onezero/daily-hf-trending") if s.id < 9 else s for s in week.snapshots)
    event = digest(WeekRows(archived, week.top, week.first_ranks, week.last_ranks, week.first_in_top))
    assert event.archives == (("park-onezero/daily-hf-trending", 9),)  # k = 0..8 came from the archive
    assert "9 of them imported from park-onezero/daily-hf-trending" in render_text(render(event))
    assert digest(w30()).archives == ()
