"""The daily digest's maths on hand-built rows: a day on Los Angeles's calendar, the one the clocks go forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from adapters.console import render_text
from bot.delivery.wording import render
from bot.digest.day import DayError, build_daily_digest, day_bounds, last_daily_fire, parse_day, previous_day
from bot.domain.events import DailyDigest, event_from_payload
from bot.domain.week_rows import SnapshotRow, TopRow, WeekRows

LA = ZoneInfo("America/Los_Angeles")
DAY = "2026-03-08"  # 00:00 PST (08:00 UTC) to 00:00 PDT on the 9th (07:00 UTC): 23 hours


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


# Snapshot 0 is 23:00 on the 7th and snapshot 5 is midnight on the 9th, Los Angeles time: neither is the 8th's.
SNAPSHOTS = tuple(SnapshotRow(i, taken, 3, "hf-archive" if i == 2 else None) for i, taken in enumerate(
    (at(8, 7), at(8, 8), at(8, 14), at(8, 20), at(9, 2), at(9, 7))))
TOPS = {
    0: ("A", "C", "B"),
    1: ("A", "B", "C"),
    2: ("A", "B", "D"),
    3: ("B", "A", "D"),
    4: ("B", "E", "A"),
    5: ("E", "B", "A"),
}
COUNTRY = {"A": "US", "B": "CN", "C": "CN", "D": "unknown", "E": "CN"}
FIRST_IN_TOP = {"A": at(1, 0), "B": at(1, 0), "C": at(8, 7), "D": at(8, 14), "E": at(9, 2)}


def rows() -> WeekRows:
    top = tuple(TopRow(sid, rank, model, COUNTRY[model]) for sid, models in TOPS.items()
                for rank, model in enumerate(models, start=1))
    return WeekRows(SNAPSHOTS, top, first_ranks={"A": 1, "B": 2, "C": 3, "D": 5, "E": 9},
                    last_ranks={"B": 1, "E": 2, "A": 3, "C": 4, "D": 6}, first_in_top=FIRST_IN_TOP)


def day_before() -> WeekRows:
    snapshot = SnapshotRow(90, at(7, 12), 3)
    return WeekRows((snapshot,), tuple(TopRow(90, r, m, "CN") for r, m in ((1, "B"), (2, "C"), (3, "X"))), {}, {}, {})


def digest() -> DailyDigest:
    return build_daily_digest(DAY, LA, rows(), day_before(), top_n=3, poll_interval=timedelta(hours=1),
                              created_at=at(9, 17))


def test_a_day_is_local_midnight_to_local_midnight_even_when_the_clocks_change():
    start, end = day_bounds(DAY, LA)
    assert (start, end) == (at(8, 8), at(9, 7))
    assert digest().snapshots == 4  # 23:00 the day before and the next midnight are left out
    assert end - start == timedelta(hours=23)
    autumn = day_bounds("2026-11-01", LA)
    assert autumn[1] - autumn[0] == timedelta(hours=25)


def test_the_leader_and_its_change_are_measured_in_hours():
    found = digest()
    # A led at 00:00 PST and 07:00 PDT (6 h each); B from 13:00 PDT, then the last snapshot stands for 5 h, to midnight.
    assert [(lead.id, lead.since, lead.hours) for lead in found.leaders] == [("A", at(8, 8), 12.0),
                                                                             ("B", at(8, 20), 11.0)]
    assert found.leader_changes == 1


def test_newcomers_are_first_entries_of_that_local_day_only():
    found = digest()
    # C first entered at 23:00 on the 7th in Los Angeles: the day before, though it is the 8th in UTC.
    assert [(n.id, n.best_rank, n.hours_in_top, n.entered_at) for n in found.newcomers] == [
        ("E", 2, 5.0, at(9, 2)), ("D", 3, 12.0, at(8, 14))]


def test_climbers_rose_over_the_day_within_the_final_top_n():
    assert [(c.id, c.from_rank, c.to_rank) for c in digest().climbers] == [("E", 9, 2), ("B", 2, 1)]


def test_shares_at_the_day_end_and_on_average_with_the_unknown_entries():
    found = digest()
    assert [(h.country, h.count) for h in found.closing] == [("CN", 2), ("US", 1)]
    assert (found.closing_unknown, found.closing_listed) == (0, 3)
    # CN held 2, 1, 1, 2 of 3: 50% on average; the day before 3 of 3. US 1 of 3 throughout; unknown 0, 1, 1, 0.
    assert [(c.country, c.average, c.change) for c in found.countries] == [
        ("CN", 50.0, -50.0), ("US", 33.3, 33.3), ("unknown", 16.7, 16.7)]
    assert found.unknown_average == 0.5
    assert found.archives == (("hf-archive", 1),)
    assert found.gaps == ()


def test_the_digest_round_trips_through_json_and_reads_as_a_day():
    found = digest()
    assert event_from_payload(found.to_payload()) == found
    assert found.to_payload()["kind"] == "digest-daily"
    text = render_text(render(found))
    assert "Daily trending digest for Sun 08 Mar 2026" in text
    assert "#1 (changed once):" in text
    assert "🇺🇸 A — from 00:00, 12 h" in text and "🇨🇳 B — from 13:00, 11 h" in text
    assert "#2 at best 🇨🇳 E — entered 19:00, 5 h in the top 3" in text
    assert "🇨🇳 China: 66.7% — 2 of 3; 50% on average (-50 pts)" in text
    assert "4 snapshots" in text and "1 of them imported from hf-archive" in text
    assert render(found).footer == "Day 2026-03-08, times in America/Los_Angeles"


def test_a_day_without_snapshots_says_so():
    empty = build_daily_digest(DAY, LA, WeekRows((), (), {}, {}, {}), None, top_n=10,
                               poll_interval=timedelta(hours=1), created_at=at(9, 17))
    assert empty.snapshots == 0 and empty.gaps[0].start == at(8, 8)
    text = render_text(render(empty))
    assert text.startswith("[2026-03-09 17:00 UTC] No daily trending digest for Sun 08 Mar 2026")
    assert "No snapshot of the trending list was stored that day" in text


def test_the_schedule_covers_the_local_day_before_the_local_time():
    after = at(9, 16) + timedelta(minutes=30)  # 09:30 PDT on the 9th
    assert last_daily_fire(after, "09:00", LA) == at(9, 16)
    assert previous_day(last_daily_fire(after, "09:00", LA), LA) == DAY
    before = at(9, 15) + timedelta(minutes=30)  # 08:30 PDT: the last time was 09:00 on the 8th, already PDT
    assert last_daily_fire(before, "09:00", LA) == at(8, 16)
    assert previous_day(last_daily_fire(before, "09:00", LA), LA) == "2026-03-07"


@pytest.mark.parametrize(("text", "says"), [
    ("yesterday", "expected a day like '2026-05-14' (YYYY-MM-DD), got 'yesterday'"),
    ("2026-02-30", "2026-02-30 is not a date on the calendar"),
    ("0001-01-01", "expected a day from 1970 to 9998, got '0001-01-01'"),
])
def test_a_bad_day_is_one_clear_line(text: str, says: str):
    with pytest.raises(DayError) as raised:
        parse_day(text)
    assert str(raised.value) == says


def test_a_day_when_the_lead_flips_often_is_summed_per_model():
    """Every 45 minutes from 00:00 UTC, #1 alternates between two models: 32 snapshots, 31 changes."""
    start = datetime(2026, 3, 10, tzinfo=UTC)
    snapshots = tuple(SnapshotRow(i, start + timedelta(minutes=45 * i), 2) for i in range(32))
    top = tuple(TopRow(i, rank, model, "US" if model == "A" else "CN") for i in range(32)
                for rank, model in enumerate(("A", "B") if i % 2 == 0 else ("B", "A"), start=1))
    rows = WeekRows(snapshots, top, {"A": 1, "B": 2}, {"B": 1, "A": 2}, {"A": at(1, 0), "B": at(1, 0)})
    found = build_daily_digest("2026-03-10", ZoneInfo("UTC"), rows, None, top_n=2,
                               poll_interval=timedelta(minutes=45), created_at=at(11, 9))
    assert found.leader_changes == 31 and len(found.leaders) == 10 and found.leaders[-1].id == "B"
    # 16 snapshots each, every one standing 45 min (the last one too: to midnight): 12 h each.
    assert [(lead.id, lead.hours) for lead in found.held] == [("A", 12.0), ("B", 12.0)]
    text = render_text(render(found))
    assert "  #1 (changed 31 times):\n    🇺🇸 A — 12 h at #1\n    🇨🇳 B — 12 h at #1\n" in text
    assert "    At the day's end: 🇨🇳 B, since 23:15" in text


def test_time_within_a_day_is_said_to_the_minute():
    from bot.delivery.wording import day_hours_text

    assert [day_hours_text(h) for h in (0.25, 1.0, 3.25, 23.0)] == ["15 min", "1 h", "3 h 15 min", "23 h"]


def test_alerts_test_has_a_sample_of_the_daily_digest_even_before_any_poll():
    from bot.commands.samples import FAKE_MODEL, sample_event

    sample = sample_event("digest-daily", None, 10, at(9, 1))
    assert isinstance(sample, DailyDigest) and sample.test and sample.day == DAY
    text = render_text(render(sample))
    assert text.startswith("[2026-03-09 01:00 UTC] Test: Daily trending digest for Sun 08 Mar 2026")
    assert FAKE_MODEL in text
