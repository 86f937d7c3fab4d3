"""The page's words and its chart, from values alone: headline, movement, flags, alert lines, the SVG."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from bot.domain.events import Entered, EnteredModel, ShareChange, SourceHealth
from bot.domain.outcomes import PollFailure
from bot.web.buckets import LIVE, ShareBucket
from bot.web.chart import share_chart
from bot.web.summary import alert_line, country_name, event_countries, flag, headline, movement

AT = datetime(2025, 7, 21, tzinfo=UTC)


def test_the_headline_names_the_leader_its_weeks_range_and_the_unknown() -> None:
    week = [{"CN": 5}, {"CN": 7, "US": 3}, {"CN": 6}]
    assert headline({"CN": 6, "US": 3, "unknown": 1}, 10, week) == "China holds 6 of 10 (5–7 this week, 1 unknown)"
    assert headline({"US": 4, "KR": 4, "unknown": 2}, 10, [{"KR": 4}]) == (
        "South Korea holds 4 of 10 (4 all week, 2 unknown)")  # a tie goes to the first code
    assert headline({"unknown": 10}, 10, []) == "No country placed in the top 10 (10 unknown)"


def test_movement_flags_and_names() -> None:
    assert [movement(1, 4, 10), movement(5, 2, 10), movement(3, 3, 10), movement(2, None, 10),
            movement(2, 14, 10)] == ["▲3", "▼3", "=", "new", "new"]
    assert flag("CN") == "\U0001F1E8\U0001F1F3" and flag("unknown") == "\U0001F3F3"
    assert (country_name("KR"), country_name("unknown")) == ("South Korea", "unknown")


def test_alert_lines_say_what_happened_and_never_the_hubs_error_text() -> None:
    entered = Entered(taken_at=AT, top_n=10, models=(EnteredModel(id="Qwen/q1", rank=2, country="CN"),))
    assert alert_line(entered) == ("1 new in the top 10 on models", "Entered the top 10: #2 Qwen/q1 (CN).")
    assert event_countries(entered) == {"CN"}
    share = ShareChange(taken_at=AT, country="CN", state="resolved", direction="above", share=40.0, threshold=50,
                        top_n=10, count=4, rule="CN above 50")
    assert alert_line(share)[0] == "China is no longer above 50% on models"
    failing = SourceHealth(taken_at=AT, state="failing", failures=5, error="connect to 10.0.0.7:3128 refused",
                           reason=PollFailure.UNREACHABLE)
    assert "10.0.0.7" not in " ".join(alert_line(failing))


def test_the_chart_draws_one_band_per_country_with_a_point_per_bucket_and_marks_sources() -> None:
    buckets = [ShareBucket(date(2025, 7, 7), date(2025, 7, 14), 7, ("arch<ive>",), 10, {"CN": 60.0, "unknown": 40.0},
                           4.0),
               ShareBucket(date(2025, 7, 14), date(2025, 7, 21), 96, (LIVE,), 10, {"CN": 50.0, "US": 50.0}, 0.0)]
    svg = str(share_chart(buckets, ["CN", "US", "unknown"], 'Shares of "<models>"'))
    assert re.findall(r'data-country="([^"]+)" data-points="(\d+)"', svg) == [("CN", "2"), ("US", "2"),
                                                                              ("unknown", "2")]
    assert re.findall(r'data-source="(\w+)"', svg) == ["archive", "live"]
    assert "arch&lt;ive&gt;" in svg and "&#34;&lt;models&gt;&#34;" in svg and "<ive>" not in svg
    assert svg.startswith('<svg class="chart"') and 'viewBox="0 0 640 356"' in svg
    assert "No snapshots in this range" in str(share_chart([], [], "empty"))


def test_months_without_snapshots_are_a_gap_in_time_not_joined_neighbours() -> None:
    march = ShareBucket(date(2026, 3, 1), date(2026, 4, 1), 30, ("park",), 10, {"CN": 60.0, "US": 40.0}, 0.0)
    april = ShareBucket(date(2026, 4, 1), date(2026, 5, 1), 30, ("park",), 10, {"CN": 70.0, "US": 30.0}, 0.0)
    december = ShareBucket(date(2026, 12, 1), date(2027, 1, 1), 96, (LIVE,), 10, {"CN": 50.0, "US": 50.0}, 0.0)
    svg = str(share_chart([march, april, december], ["CN", "US"], "t", "month"))
    bands = re.findall(r'data-country="(\w+)" data-points="(\d+)" fill="[^"]+" d="([^"]+)"', svg)
    assert [(country, points) for country, points, _ in bands] == [("CN", "3"), ("US", "3")]
    for _, _, path in bands:  # March–April one stretch, December another: May to November drawn as nothing
        assert path.count("M") == 2 and path.count("Z") == 2
    xs = [float(x) for x in re.findall(r'class="source" data-source="\w+" x="([\d.]+)"', svg)]
    step = xs[1] - xs[0]
    assert abs((xs[2] - xs[1]) - 8 * step) < 0.2  # December sits eight months after April, not one
    assert "blank = no snapshots" in svg and ">2026-12-01<" in svg
