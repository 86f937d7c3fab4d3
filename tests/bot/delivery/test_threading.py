"""Which thread a follow-up goes to (bot/delivery/threading.py): pure, no store, no platform."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.delivery.threading import Thread, anchored_by, announced, choose_anchor, followed_up, thread_for, threads_apply
from bot.domain.events import (
    Climber,
    ClimberModel,
    Entered,
    EnteredModel,
    Left,
    LeftModel,
    NewLeader,
    ShareChange,
)

T = datetime(2026, 5, 1, 12, tzinfo=UTC)


def entered(*ids: str, test: bool = False) -> Entered:
    return Entered(taken_at=T, top_n=50, test=test,
                   models=tuple(EnteredModel(id=i, rank=n + 1, country="US") for n, i in enumerate(ids)))


def left(*ids: str, test: bool = False) -> Left:
    return Left(taken_at=T, top_n=50, test=test, models=tuple(
        LeftModel(id=i, rank=None, previous_rank=50, country="US", in_top_since=T, last_in_top=T) for i in ids))


def test_an_entered_message_announces_its_models_and_a_test_sample_announces_none() -> None:
    assert announced(entered("a/one", "b/two")) == ("a/one", "b/two")
    assert announced(entered("a/one", test=True)) == ()
    assert announced(left("a/one")) == ()


def test_follow_ups_are_about_their_models_and_other_kinds_are_not_follow_ups() -> None:
    assert followed_up(left("a/one", "b/two")) == ("a/one", "b/two")
    assert followed_up(NewLeader(taken_at=T, id="a/one", country="US")) == ("a/one",)
    climber = Climber(taken_at=T, top_n=50, climb=5,
                      models=(ClimberModel(id="c/x", rank=3, previous_rank=20, country="CN"),))
    assert followed_up(climber) == ("c/x",)
    assert followed_up(entered("a/one")) == ()
    share = ShareChange(taken_at=T, country="CN", state="firing", direction="above", share=40.0, threshold=30,
                        top_n=50, count=20, rule="cn")
    assert followed_up(share) == ()
    assert followed_up(left("a/one", test=True)) == ()


def test_a_grouped_follow_up_replies_only_where_all_its_models_share_one_anchor() -> None:
    assert choose_anchor(("a", "b"), {"a": "1.1", "b": "1.1"}) == "1.1"
    assert choose_anchor(("a", "b"), {"a": "1.1", "b": "2.2"}) is None  # two threads: the channel
    assert choose_anchor(("a", "b"), {"a": "1.1"}) is None  # one never announced here: the channel
    assert choose_anchor((), {"a": "1.1"}) is None
    assert thread_for(left("a", "b"), "broadcast", {"a": "1.1", "b": "1.1"}) == Thread("1.1", mode="broadcast")
    assert thread_for(left("a", "b"), "broadcast", {"a": "1.1", "b": "1.1"}).broadcast
    assert thread_for(left("a"), "on", {}) == Thread(None, mode="on")
    assert not thread_for(left("a"), "on", {}).broadcast


def test_threads_apply_by_the_setting_or_on_a_platform_that_threads_alone() -> None:
    assert not threads_apply("off", platform_threads=False)
    assert threads_apply("on", platform_threads=False) and threads_apply("broadcast", platform_threads=False)
    assert threads_apply("off", platform_threads=True)


def test_a_new_post_anchors_an_announcement_or_a_follow_up_whose_thread_was_gone() -> None:
    assert anchored_by(entered("a", "b"), Thread()) == ("a", "b")
    assert anchored_by(left("a"), Thread()) == ()  # posted in the channel as meant: it anchors nothing
    assert anchored_by(left("a"), Thread("9")) == ("a",)  # meant for post 9, which was gone: the new post
    assert anchored_by(entered("a", test=True), Thread()) == ()
