"""`left` and `climber` scenarios on the pure `detect`: one event per poll per kind, held back by the cooldown."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.rule_state import History, TopStay
from bot.rules.churn import climb_candidates, leavers
from bot.rules.detect import detect
from tests.conftest import T0, hours, snap

TOP = [f"org/m{i}" for i in range(1, 16)]
DAY = timedelta(hours=24)


def run(previous, current, *, history=None, top_n=10, cooldown=DAY, climb=3, announce_leader=True):
    return detect(previous, current, top_n=top_n, rules=[], states={}, history=history or History(),
                  cooldown=cooldown, announce_leader=announce_leader, climb=climb)


def test_every_leaver_of_one_poll_is_one_event_with_where_it_is_now_and_how_long_it_stayed():
    before = snap(TOP[:12], T0)
    after = snap([*TOP[:8], "new/a", "new/b", "org/m9", "org/m11"], T0 + hours(1))  # m9 → #11, m10 gone
    stays = History(stays={"org/m9": TopStay(since=T0 - hours(30)), "org/m10": TopStay(since=T0 - hours(2))})
    found = run(before, after, history=stays)
    assert found.left is not None
    assert [(m.id, m.rank, m.previous_rank) for m in found.left.models] == [("org/m9", 11, 9), ("org/m10", None, 10)]
    assert [m.hours_in_top for m in found.left.models] == [30.0, 2.0]
    assert not any(m.at_least for m in found.left.models)


def test_a_stay_reaching_back_to_the_first_snapshot_is_at_least_that_long():
    found = run(snap(TOP[:11], T0), snap([*TOP[:9], "org/m11"], T0 + hours(1)),
                history=History(stays={"org/m10": TopStay(since=T0 - hours(5), at_least=True)}))
    assert found.left is not None and found.left.models[0].at_least


def test_a_model_that_already_left_within_the_cooldown_is_not_announced_leaving_again():
    before, after = snap(TOP[:11], T0), snap([*TOP[:9], "org/m11"], T0 + hours(1))
    flapping = History(stays={"org/m10": TopStay(since=T0 - hours(1), left_before=T0 - hours(3))})
    assert run(before, after, history=flapping).left is None
    long_ago = History(stays={"org/m10": TopStay(since=T0 - hours(40), left_before=T0 - hours(48))})
    assert run(before, after, history=long_ago).left is not None
    assert run(before, after, history=flapping, cooldown=timedelta(0)).left is not None


def test_leaving_and_reentering_within_the_cooldown_posts_one_left_and_nothing_more():
    """Enter (announced elsewhere), leave (announced), re-enter 2 h later (entry cooldown), leave again: quiet."""
    inside, outside = TOP[:10], [*TOP[:9], "org/m11"]
    first = run(snap(inside, T0), snap(outside, T0 + hours(1)),
                history=History(stays={"org/m10": TopStay(since=T0 - hours(10))}))
    assert first.left is not None
    back = run(snap(outside, T0 + hours(1)), snap(inside, T0 + hours(3)),
               history=History(last_in_top={"org/m10": T0}))
    assert back.entered is None  # the re-entry cooldown, as before
    again = run(snap(inside, T0 + hours(3)), snap(outside, T0 + hours(4)),
                history=History(stays={"org/m10": TopStay(since=T0 + hours(3), left_before=T0)}))
    assert again.left is None


def test_a_short_answer_is_no_evidence_that_anything_left():
    before = snap(TOP[:10], T0)
    short = snap(TOP[:7], T0 + hours(1))  # a filtered list may be stored short; the overall lists never are
    assert leavers(before, short, 10) == []
    assert run(before, short).left is None


def test_several_climbers_of_one_poll_are_one_event_best_placed_first():
    before = snap(TOP[:10], T0)
    after = snap(["org/m1", "org/m6", "org/m2", "org/m3", "org/m9", "org/m4", "org/m5", "org/m7", "org/m8",
                  "org/m10"], T0 + hours(1))
    found = run(before, after)
    assert found.climber is not None
    assert [(m.id, m.rank, m.previous_rank) for m in found.climber.models] == [("org/m6", 2, 6), ("org/m9", 5, 9)]
    assert found.climber.climb == 3
    assert found.left is None and found.entered is None


def test_climb_threshold_is_inclusive_and_entries_from_outside_are_not_climbers():
    before = snap(TOP[:12], T0)  # m12 is #12, outside the top 10
    after = snap(["org/m12", "org/m1", "org/m2", "org/m5", "org/m3", "org/m4", *TOP[5:9]], T0 + hours(1))
    assert climb_candidates(before, after, 10, 2) == []  # m5 rose 1 (5 → 4); m12 entered: not a climb
    assert run(before, after).climber is None
    assert run(before, after).entered is not None
    two = snap(["org/m1", "org/m4", "org/m2", "org/m3", *TOP[4:10]], T0 + hours(1))
    assert [m.id for m in run(before, two, climb=2).climber.models] == ["org/m4"]  # 4 → 2: exactly 2
    assert run(before, two, climb=3).climber is None


def test_climbing_into_first_place_is_the_new_leader_not_also_a_climber():
    before = snap(TOP[:10], T0)
    after = snap(["org/m5", "org/m1", "org/m2", "org/m3", "org/m4", *TOP[5:10]], T0 + hours(1))
    found = run(before, after)
    assert found.new_leader is not None and found.new_leader.id == "org/m5"
    assert found.climber is None
    # Without a new-leader alert (turned off), the climb to #1 is a climb like any other.
    quiet = run(before, after, announce_leader=False)
    assert quiet.climber is not None and quiet.climber.models[0].rank == 1


def test_a_climb_back_to_a_place_held_within_the_cooldown_is_not_news():
    before = snap(TOP[:10], T0)
    after = snap(["org/m1", "org/m2", "org/m7", "org/m3", "org/m4", "org/m5", "org/m6", *TOP[7:10]], T0 + hours(1))
    held_3rd = History(last_at_rank={"org/m7": {3: T0 - hours(2), 7: T0}})
    assert run(before, after, history=held_3rd).climber is None
    held_2nd = History(last_at_rank={"org/m7": {2: T0 - hours(5)}})
    assert run(before, after, history=held_2nd).climber is None
    held_4th = History(last_at_rank={"org/m7": {4: T0 - hours(2)}})  # never as high as #3: news
    assert run(before, after, history=held_4th).climber is not None
    yesterday = History(last_at_rank={"org/m7": {3: T0 - hours(30)}})
    assert run(before, after, history=yesterday).climber is not None
    assert run(before, after, history=held_3rd, cooldown=timedelta(0)).climber is not None


def test_a_top_n_of_20_follows_its_own_top():
    before = snap(TOP[:15], T0)
    after = snap(["org/m1", "org/m13", *TOP[1:12], "org/m14", "org/m15"], T0 + hours(1))
    found = run(before, after, top_n=10)
    assert found.left is not None and [m.id for m in found.left.models] == ["org/m10"]  # 10 → 11
    wide = run(before, after, top_n=15)
    assert wide.left is None
    assert wide.climber is not None and [m.id for m in wide.climber.models] == ["org/m13"]


def test_the_first_snapshot_is_a_baseline_for_churn_too():
    found = run(None, snap(TOP[:10]))
    assert found.left is None and found.climber is None
