"""Silences (issue 20): which part of an alert a channel's silences hold back, and routing with them (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.domain.destination import Destination
from bot.domain.events import (
    Climber,
    ClimberModel,
    Digest,
    Entered,
    EnteredModel,
    Left,
    LeftModel,
    NewLeader,
    ShareChange,
    SourceHealth,
    Watched,
)
from bot.domain.silence import Matcher, Silence
from bot.rules.filters import ChannelFilter, route_events
from bot.rules.silences import Split, split_silenced
from tests.conftest import T0

NOW = T0 + timedelta(hours=1)


def silence(matcher: Matcher, value: str, id_: int = 1, ends: timedelta = timedelta(days=7),
            channel: str = "c1") -> Silence:
    return Silence(id=id_, platform="discord", channel=channel, matcher=matcher, value=value, created_by="alice (1)",
                   created_at=T0, ends_at=T0 + ends)


def entered(*models: tuple[str, str]) -> Entered:
    return Entered(taken_at=T0, top_n=10, models=tuple(
        EnteredModel(id=item, rank=rank, country=country) for rank, (item, country) in enumerate(models, 1)))


ENTERED = entered(("deepseek-ai/DeepSeek-V4", "CN"), ("meta-llama/Llama-5", "US"), ("Qwen/Qwen4", "CN"))
LEADER = NewLeader(taken_at=T0, id="deepseek-ai/DeepSeek-V4", country="CN", previous_id="meta-llama/Llama-5")
SHARE = ShareChange(taken_at=T0, country="CN", state="firing", direction="above", share=60.0, threshold=50, top_n=10,
                    count=6, rule="CN above 50%")
DIGEST = Digest(taken_at=T0, week="2025-W30", start=T0, end=T0, timezone="UTC", top_n=10, snapshots=3)
SOURCE = SourceHealth(taken_at=T0, state="failing", failures=3)
WATCHED = Watched(taken_at=T0, id="deepseek-ai/DeepSeek-V4", rank=4, country="CN", watch="author deepseek-ai",
                  reason="entered", top_n=10, depth=50)


def ids(event: object) -> list[str]:
    assert isinstance(event, Entered | Left | Climber)
    return [m.id for m in event.models]


def test_an_author_silence_holds_back_that_authors_models_and_sends_the_rest():
    split = split_silenced(ENTERED, [silence("author", "DeepSeek-AI")], NOW)  # case-insensitive, like the Hub
    assert ids(split.sent) == ["meta-llama/Llama-5", "Qwen/Qwen4"]
    [(held, by)] = split.silenced
    assert ids(held) == ["deepseek-ai/DeepSeek-V4"] and by == 1
    assert isinstance(held, Entered) and held.models[0].rank == 1 and held.top_n == 10  # the model as it was


def test_a_model_silence_catches_that_model_only_whatever_its_case():
    split = split_silenced(ENTERED, [silence("model", "qwen/qwen4")], NOW)
    assert ids(split.sent) == ["deepseek-ai/DeepSeek-V4", "meta-llama/Llama-5"]
    assert [ids(held) for held, _ in split.silenced] == [["Qwen/Qwen4"]]
    assert split_silenced(ENTERED, [silence("model", "Qwen/Qwen")], NOW).sent is ENTERED  # not a prefix match


def test_a_country_silence_catches_models_of_that_country_and_share_alerts_about_it():
    split = split_silenced(ENTERED, [silence("country", "CN")], NOW)
    assert ids(split.sent) == ["meta-llama/Llama-5"]
    assert [ids(held) for held, _ in split.silenced] == [["deepseek-ai/DeepSeek-V4", "Qwen/Qwen4"]]
    assert split_silenced(SHARE, [silence("country", "CN")], NOW) == split_silenced(SHARE, [silence("kind", "share")],
                                                                                     NOW)
    assert split_silenced(SHARE, [silence("country", "CN")], NOW).silenced == ((SHARE, 1),)
    assert split_silenced(SHARE, [silence("country", "US")], NOW).sent is SHARE


def test_a_kind_silence_holds_back_the_whole_message_and_entered_covers_a_new_leader():
    assert split_silenced(ENTERED, [silence("kind", "entered")], NOW).silenced == ((ENTERED, 1),)
    assert split_silenced(LEADER, [silence("kind", "entered")], NOW).silenced == ((LEADER, 1),)
    assert split_silenced(ENTERED, [silence("kind", "share")], NOW).sent is ENTERED
    assert split_silenced(DIGEST, [silence("kind", "digest")], NOW) == Split(None, ((DIGEST, 1),))


def test_a_digest_and_a_source_notice_are_held_back_only_by_their_kind():
    for matcher, value in (("author", "deepseek-ai"), ("model", "deepseek-ai/DeepSeek-V4"), ("country", "CN")):
        for event in (DIGEST, SOURCE):
            assert split_silenced(event, [silence(matcher, value)], NOW).sent is event  # type: ignore[arg-type]
    assert split_silenced(SOURCE, [silence("kind", "digest")], NOW).sent is SOURCE


def test_single_model_alerts_match_their_model_author_and_country():
    for event in (LEADER, WATCHED):
        for matcher, value in (("author", "deepseek-ai"), ("model", "DEEPSEEK-AI/deepseek-v4"), ("country", "cn")):
            assert split_silenced(event, [silence(matcher, value)], NOW).silenced == ((event, 1),)  # type: ignore[arg-type]
        assert split_silenced(event, [silence("author", "meta-llama")], NOW).sent is event


def test_left_and_climber_messages_split_like_entries():
    left = Left(taken_at=T0, top_n=10, models=(
        LeftModel(id="deepseek-ai/a", rank=None, previous_rank=3, country="CN", in_top_since=T0, last_in_top=T0),
        LeftModel(id="google/b", rank=14, previous_rank=9, country="US", in_top_since=T0, last_in_top=T0)))
    climber = Climber(taken_at=T0, top_n=10, climb=5, models=(
        ClimberModel(id="deepseek-ai/a", rank=2, previous_rank=9, country="CN"),
        ClimberModel(id="google/b", rank=1, previous_rank=8, country="US")))
    for event in (left, climber):
        split = split_silenced(event, [silence("author", "google")], NOW)
        assert ids(split.sent) == ["deepseek-ai/a"] and [ids(h) for h, _ in split.silenced] == [["google/b"]]
    assert split_silenced(left, [silence("kind", "left")], NOW).silenced == ((left, 1),)
    assert split_silenced(climber, [silence("kind", "left")], NOW).sent is climber


def test_each_held_model_names_the_first_silence_that_catches_it():
    split = split_silenced(ENTERED, [silence("author", "qwen", 4), silence("country", "CN", 7)], NOW)
    assert ids(split.sent) == ["meta-llama/Llama-5"]
    assert [(ids(held), by) for held, by in split.silenced] == [(["deepseek-ai/DeepSeek-V4"], 7), (["Qwen/Qwen4"], 4)]
    everything = split_silenced(ENTERED, [silence("country", "US", 2), silence("country", "CN", 3)], NOW)
    # Parts come in the order of their first model, each whole message naming its own silence.
    assert everything.sent is None and [(ids(held), by) for held, by in everything.silenced] == [
        (["deepseek-ai/DeepSeek-V4", "Qwen/Qwen4"], 3), (["meta-llama/Llama-5"], 2)]


def test_a_silence_stops_at_its_end_and_when_ended_early():
    week = silence("author", "deepseek-ai", ends=timedelta(days=7))
    end = T0 + timedelta(days=7)
    assert split_silenced(ENTERED, [week], end - timedelta(microseconds=1)).silenced
    assert split_silenced(ENTERED, [week], end).sent is ENTERED  # `ends_at` itself no longer silences
    ended = replace(week, ended_at=NOW, ended_by="bob (2)")
    assert split_silenced(ENTERED, [ended], NOW).sent is ENTERED


# ---------------------------------------------------------------- routing with silences


KINDS = ("entered", "new_leader", "share", "digest", "source", "watched")
QUIET = Destination(id=1, platform="discord", channel="c1", kinds=KINDS, origin="config", active=True,
                    subscribed_at=T0, since_snapshot=1)
SECOND = replace(QUIET, id=2, name="china")  # another subscription of the same channel
LOUD = replace(QUIET, id=3, channel="c2")
CN_ONLY = replace(QUIET, id=4, channel="c3")


def test_routing_sends_the_rest_and_records_the_silenced_part_per_subscription_of_the_channel():
    held_by = {("discord", "c1"): [silence("author", "deepseek-ai", 5)]}
    routed = route_events([ENTERED], [QUIET, SECOND, LOUD], {}, 9, NOW, held_by)
    shown = [(ids(r.event), r.destinations, r.silenced) for r in routed]
    assert shown == [
        (ids(ENTERED), [3], []),
        (["deepseek-ai/DeepSeek-V4"], [], [(1, 5), (2, 5)]),
        (["meta-llama/Llama-5", "Qwen/Qwen4"], [1, 2], []),
    ]


def test_a_kind_silence_records_the_event_itself_beside_its_outbox_rows():
    held_by = {("discord", "c1"): [silence("kind", "share", 6)]}
    assert route_events([SHARE], [QUIET, LOUD], {}, 9, NOW, held_by) == [(SHARE, [3], [(1, 6)])]


def test_silences_apply_after_the_channel_filter():
    held_by = {("discord", "c3"): [silence("author", "qwen", 8)]}
    routed = route_events([ENTERED], [CN_ONLY, LOUD], {4: ChannelFilter(countries=("CN",))}, 9, NOW, held_by)
    shown = [(ids(r.event), r.destinations, r.silenced) for r in routed]
    assert shown == [(ids(ENTERED), [3], []), (["Qwen/Qwen4"], [], [(4, 8)]), (["deepseek-ai/DeepSeek-V4"], [4], [])]


def test_without_silences_or_with_expired_ones_routing_is_as_before():
    expired = {("discord", "c1"): [silence("kind", "entered", ends=timedelta(minutes=30))]}
    plain = route_events([ENTERED, SHARE], [QUIET, LOUD], {}, 9, NOW)
    assert route_events([ENTERED, SHARE], [QUIET, LOUD], {}, 9, NOW, expired) == plain
    assert plain == [(ENTERED, [1, 3], []), (SHARE, [1, 3], [])]


def test_a_channel_that_silenced_everything_still_stores_the_event_once():
    held_by = {("discord", "c1"): [silence("kind", "entered", 2)]}
    assert route_events([ENTERED], [QUIET], {}, 9, NOW, held_by) == [(ENTERED, [], [(1, 2)])]
