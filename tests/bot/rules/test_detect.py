"""The alert rules of DESIGN.md, one test each, on the pure `detect`."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.rule_state import History, RuleState
from bot.rules.detect import RuleSpec, detect, step_rule
from tests.conftest import T0, hours, snap

TOP = [f"org/m{i}" for i in range(1, 13)]
DAY = timedelta(hours=24)


def run(previous, current, *, rules=(), states=None, history=None, top_n=10, cooldown=DAY):
    return detect(previous, current, top_n=top_n, rules=list(rules), states=states or {},
                  history=history or History(), cooldown=cooldown)


def cn_rule(**kwargs) -> RuleSpec:
    base = {"key": "CN:above:50", "country": "CN", "direction": "above", "threshold": 50}
    return RuleSpec(**{**base, **kwargs})


def with_cn(count: int, at=T0, top_n: int = 10):
    ids = TOP[:top_n]
    return snap(ids, at, dict.fromkeys(ids[:count], "CN"))


def test_first_snapshot_is_a_baseline_with_no_alerts():
    found = run(None, snap(TOP[:10]), rules=[cn_rule()])
    assert found.events == []
    assert "CN:above:50" in found.rule_states


def test_all_entries_of_one_poll_are_one_event_in_rank_order():
    before = snap(TOP[:10])
    after = snap(["new/a", *TOP[:8], "new/b"], T0 + hours(1))
    found = run(before, after)
    assert found.entered is not None
    assert [(m.id, m.rank) for m in found.entered.models] == [("new/a", 1), ("new/b", 10)]


def test_entry_remembers_where_it_climbed_from():
    before = snap(TOP)  # depth 12: org/m11 is #11
    after = snap(["org/m11", *TOP[:9]], T0 + hours(1))
    found = run(before, after)
    assert found.entered is not None
    assert found.entered.models[0].previous_rank == 11


def test_nothing_changed_means_no_events():
    assert run(snap(TOP[:10]), snap(TOP[:10], T0 + hours(1))).events == []


def test_reordering_inside_the_top_is_not_an_entry():
    found = run(snap(TOP[:10]), snap(list(reversed(TOP[:10])), T0 + hours(1)))
    assert found.entered is None


def test_reentry_within_cooldown_is_not_announced_again():
    history = History(last_in_top={"org/m11": T0 - hours(5)})
    found = run(snap(TOP[:10]), snap([*TOP[:9], "org/m11"], T0 + hours(1)), history=history)
    assert found.entered is None


def test_reentry_after_cooldown_is_announced():
    history = History(last_in_top={"org/m11": T0 - hours(30)})
    found = run(snap(TOP[:10]), snap([*TOP[:9], "org/m11"], T0 + hours(1)), history=history)
    assert found.entered is not None and found.entered.models[0].id == "org/m11"


def test_new_leader_is_announced_once_and_not_when_it_just_entered():
    found = run(snap(TOP[:10]), snap([TOP[1], TOP[0], *TOP[2:10]], T0 + hours(1)))
    assert found.new_leader is not None and found.new_leader.id == TOP[1]
    assert found.new_leader.previous_id == TOP[0]
    straight_in = run(snap(TOP[:10]), snap(["new/x", *TOP[:9]], T0 + hours(1)))
    assert straight_in.new_leader is None and straight_in.entered is not None


def test_leader_flapping_within_cooldown_is_quiet():
    history = History(last_led={TOP[1]: T0 - hours(2)})
    found = run(snap(TOP[:10]), snap([TOP[1], TOP[0], *TOP[2:10]], T0 + hours(1)), history=history)
    assert found.new_leader is None


def test_share_rule_fires_when_share_reaches_threshold():
    rule = cn_rule()
    states = {rule.key: RuleState()}
    found = run(with_cn(4), with_cn(5, T0 + hours(1)), rules=[rule], states=states)
    assert len(found.share_changes) == 1
    change = found.share_changes[0]
    assert (change.country, change.state, change.direction, change.share, change.threshold, change.count) == (
        "CN", "firing", "above", 50, 50, 5)


def test_firing_rule_does_not_repeat_while_it_stays_above():
    rule = cn_rule()
    found = run(with_cn(6), with_cn(7, T0 + hours(1)), rules=[rule], states={rule.key: RuleState(1, True)})
    assert found.share_changes == ()
    assert found.rule_states[rule.key].firing


def test_hysteresis_default_is_one_model():
    rule = cn_rule(notify_resolved=True)
    firing = {rule.key: RuleState(1, True)}
    at_40 = run(with_cn(5), with_cn(4, T0 + hours(1)), rules=[rule], states=firing)
    assert at_40.share_changes == () and at_40.rule_states[rule.key].firing  # 40% is not below 50 - 10
    at_30 = run(with_cn(4), with_cn(3, T0 + hours(2)), rules=[rule], states=firing)
    assert [c.state for c in at_30.share_changes] == ["resolved"]
    assert not at_30.rule_states[rule.key].firing


def test_explicit_hysteresis_widens_the_band():
    rule = cn_rule(hysteresis=25, notify_resolved=True)
    firing = {rule.key: RuleState(1, True)}
    assert run(with_cn(5), with_cn(3, T0 + hours(1)), rules=[rule], states=firing).share_changes == ()
    resolved = run(with_cn(3), with_cn(2, T0 + hours(2)), rules=[rule], states=firing)
    assert [c.state for c in resolved.share_changes] == ["resolved"]


def test_resolved_notice_is_opt_in():
    rule = cn_rule()
    found = run(with_cn(5), with_cn(1, T0 + hours(1)), rules=[rule], states={rule.key: RuleState(1, True)})
    assert found.share_changes == ()
    assert not found.rule_states[rule.key].firing  # resolved silently: it can fire again later


def test_for_polls_needs_consecutive_polls():
    rule = cn_rule(for_polls=3)
    state = RuleState()
    transitions = []
    for count in (6, 6, 4, 6, 6, 6, 6):
        state, transition = step_rule(rule, state, count * 10.0, 10)
        transitions.append(transition)
    assert transitions == [None, None, None, None, None, "firing", None]


def test_below_rule_is_the_mirror():
    rule = RuleSpec(key="US:below:20", country="US", direction="below", threshold=20, notify_resolved=True)
    state = RuleState()
    seen = []
    for count in (3, 2, 3, 4):  # 30% → 20% fires; 30% is inside the band; 40% resolves
        state, transition = step_rule(rule, state, count * 10.0, 10)
        seen.append(transition)
    assert seen == [None, "firing", None, "resolved"]


def test_a_rule_seen_for_the_first_time_is_a_silent_baseline():
    rule = cn_rule()
    found = run(with_cn(4), with_cn(8, T0 + hours(1)), rules=[rule], states={})
    assert found.share_changes == ()
    assert found.rule_states[rule.key].firing


def test_share_is_over_top_n_even_when_the_list_is_short():
    rule = cn_rule()
    short = snap(["cn/a", "cn/b", "cn/c"], T0 + hours(1), {"cn/a": "CN", "cn/b": "CN", "cn/c": "CN"})
    found = run(with_cn(0), short, rules=[rule], states={rule.key: RuleState()})
    assert found.share_changes == ()  # 3 of 10 is 30%, not 100%


def test_channel_scoped_rule_carries_its_scope():
    rule = cn_rule(key="dest7:CN:above:50", scope=7)
    found = run(with_cn(4), with_cn(5, T0 + hours(1)), rules=[rule], states={rule.key: RuleState()})
    assert found.share_changes[0].scope == 7
