"""`left` and `climber` messages: one per poll, long lists cut readably, and both platforms render them as is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters import discord_render, slack_render
from bot.delivery.wording import MAX_LISTED, render
from bot.domain.events import Climber, ClimberModel, Left, LeftModel, event_from_payload
from bot.web.summary import alert_line, event_countries

AT = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)


def leaver(i: int, hours: float, *, rank: int | None = 14, at_least: bool = False) -> LeftModel:
    return LeftModel(id=f"org/m{i}", rank=rank, previous_rank=i, country="CN", country_method="namespace",
                     in_top_since=AT - timedelta(hours=hours) - timedelta(minutes=15),
                     last_in_top=AT - timedelta(minutes=15), at_least=at_least)


def test_one_leaver_is_named_in_the_title_with_how_long_it_stayed():
    message = render(Left(taken_at=AT, top_n=10, models=(leaver(9, 30.5),)))
    assert message.title == "org/m9 left the trending top 10"
    text = message.plain_text()
    assert "#9 → now #14" in text and "after 30 h 30 min" in text and "in it since Sun 08 Mar 05:15 UTC" in text
    gone = render(Left(taken_at=AT, top_n=10, models=(leaver(10, 0, rank=None), leaver(8, 80, at_least=True))))
    assert gone.title == "2 models left the trending top 10"
    assert "now beyond the fetched list" in gone.plain_text() and "after one poll" in gone.plain_text()
    assert "after at least 3.3 days" in gone.plain_text()


def test_a_long_list_is_cut_after_ten_lines_with_the_rest_named_in_one_line():
    climbers = tuple(ClimberModel(id=f"org/c{i}", rank=i, previous_rank=i + 5, country="US") for i in range(2, 17))
    message = render(Climber(taken_at=AT, top_n=20, climb=3, models=climbers))
    assert message.title == "15 models climbed 3+ places in the trending top 20"
    assert len(message.lines) == MAX_LISTED + 1
    assert message.plain_text().splitlines()[-2] == "… and 5 more: org/c12, org/c13, org/c14 and 2 others"
    one = render(Climber(taken_at=AT, top_n=10, climb=3, models=climbers[:1]))
    assert one.title == "org/c2 climbed to #2 of the trending top 10"
    assert "#7 → #2" in one.plain_text() and "up 5" in one.plain_text()


def test_the_events_round_trip_through_the_outbox_json():
    left = Left(taken_at=AT, top_n=10, models=(leaver(9, 3),))
    assert event_from_payload(left.to_payload()) == left
    assert left.to_payload()["models"][0]["hours_in_top"] == 3.0
    climber = Climber(taken_at=AT, top_n=10, climb=3, models=(ClimberModel(id="a/b", rank=2, previous_rank=6,
                                                                            country="FR"),))
    assert event_from_payload(climber.to_payload()) == climber


def test_discord_and_slack_render_them_with_nothing_special():
    for event in (Left(taken_at=AT, top_n=10, models=tuple(leaver(i, 5) for i in range(1, 12))),
                  Climber(taken_at=AT, top_n=10, climb=2, models=(ClimberModel(id="a/b", rank=2, previous_rank=6,
                                                                                country="FR"),))):
        message = render(event)
        embeds = discord_render.render_message(message).embeds
        assert embeds[0].colour is not None and embeds[0].colour.value == discord_render.COLOURS[event.kind]
        assert discord_render.embed_chars(embeds) <= discord_render.TOTAL_MAX
        post = slack_render.render(message)
        assert post.text.startswith(message.title)
        assert any(event.models[0].id in str(block) for block in post.blocks)


def test_the_web_page_and_feeds_name_them_and_filter_them_by_country():
    left = Left(taken_at=AT, top_n=10, models=(leaver(9, 3),))
    assert alert_line(left) == ("1 left the top 10 on models", "Left the top 10: org/m9 (#9).")
    climber = Climber(taken_at=AT, top_n=10, climb=3, models=(ClimberModel(id="a/b", rank=2, previous_rank=6,
                                                                            country="FR"),))
    assert alert_line(climber)[1] == "Climbed 3+ places: a/b (#6 → #2)."
    assert event_countries(left) == {"CN"} and event_countries(climber) == {"FR"}
