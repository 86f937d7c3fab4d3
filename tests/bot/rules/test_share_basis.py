"""Share rules on each basis (`top_n`, `known`, `certain`), through the pure `step_rule` and `detect`.

Edge cases of the issue: every entry unknown, no unknown, exactly at the threshold, and an unknown
entry that flips the decision.
"""

from __future__ import annotations

import pytest

from bot.domain.rule_state import History, RuleState
from bot.domain.shares import Hold, reading
from bot.rules.detect import RuleSpec, detect, step_rule
from tests.conftest import T0, hours, snap

IDS = [f"org/m{i}" for i in range(1, 11)]


def rule(direction: str = "above", threshold: int = 60, basis: str = "top_n", **kwargs) -> RuleSpec:
    return RuleSpec(key=f"CN:{direction}:{threshold}:{basis}", country="CN", direction=direction,  # type: ignore[arg-type]
                    threshold=threshold, basis=basis, notify_resolved=True, **kwargs)  # type: ignore[arg-type]


def step(spec: RuleSpec, cn: int, unknown: int, state: RuleState | None = None) -> tuple[RuleState, str | None]:
    hold = Hold("CN", cn, 10, unknown, 10)
    return step_rule(spec, state or RuleState(), reading(hold, spec.basis, spec.direction), 10)


def top(cn: int, unknown: int, at=T0):
    """CN for the first `cn` entries, unknown for the next `unknown`, US for the rest."""
    countries = dict.fromkeys(IDS[:cn], "CN") | dict.fromkeys(IDS[cn + unknown:], "US")
    return snap(IDS, at, countries)


# (basis, direction, threshold, CN count, unknown count, fires?)
CASES = [
    # no unknown: every basis agrees, and exactly at the threshold fires
    ("top_n", "above", 60, 6, 0, True), ("known", "above", 60, 6, 0, True), ("certain", "above", 60, 6, 0, True),
    ("top_n", "below", 30, 3, 0, True), ("known", "below", 30, 3, 0, True), ("certain", "below", 30, 3, 0, True),
    # one unknown flips the decision
    ("top_n", "above", 60, 5, 1, False), ("known", "above", 60, 5, 1, False),  # 5 of 9 known is 55.6%
    ("known", "above", 55, 5, 1, True), ("top_n", "above", 55, 5, 1, False),
    ("certain", "above", 60, 5, 1, False),  # 50% to 60%: it may be under 60%
    ("certain", "above", 50, 5, 1, True),   # at least 50% whatever the unknown is
    ("top_n", "below", 30, 3, 1, True), ("known", "below", 30, 3, 1, False),  # 3 of 9 known is 33.3%
    ("certain", "below", 30, 3, 1, False),  # 30% to 40%: it may be over 30%
    ("certain", "below", 40, 3, 1, True),   # at most 40%: at the line counts, as for the default
    # every entry unknown
    ("top_n", "above", 0, 0, 10, True), ("top_n", "below", 0, 0, 10, True),
    ("known", "above", 0, 0, 10, False), ("known", "below", 100, 0, 10, False),  # nothing known to decide on
    ("certain", "above", 1, 0, 10, False), ("certain", "below", 99, 0, 10, False),
    ("certain", "below", 100, 0, 10, True),
]


@pytest.mark.parametrize(("basis", "direction", "threshold", "cn", "unknown", "fires"), CASES)
def test_when_a_rule_fires_on_each_basis(basis, direction, threshold, cn, unknown, fires):
    state, transition = step(rule(direction, threshold, basis), cn, unknown)
    assert (transition == "firing") is fires
    assert state.firing is fires


def test_known_basis_is_over_the_known_entries():
    # 5 CN of 9 known is 55.6%: under 60%; 6 of 9 is 66.7%: over
    assert step(rule(basis="known"), 5, 1)[1] is None
    assert step(rule(basis="known"), 6, 1)[1] == "firing"
    assert step(rule(basis="known", threshold=55), 5, 1)[1] == "firing"


def test_certain_above_resolves_only_when_even_every_unknown_cannot_bring_it_back():
    spec = rule(basis="certain")  # above 60%, band one model (10 points)
    firing = RuleState(1, True)
    assert step(spec, 6, 0, firing) == (firing, None)
    assert step(spec, 4, 2, firing) == (firing, None)  # 40%..60%: it may still hold
    assert step(spec, 4, 1, firing) == (firing, None)  # at most 50%: inside the band
    assert step(spec, 3, 1, firing) == (RuleState(), "resolved")  # at most 40%: certainly back


def test_certain_below_resolves_on_the_count_alone():
    spec = rule("below", 30, basis="certain")
    firing = RuleState(1, True)
    assert step(spec, 3, 5, firing) == (firing, None)
    assert step(spec, 5, 0, firing) == (RuleState(), "resolved")  # at least 50%, past 30% + 10


def test_known_basis_with_nothing_known_neither_breaks_a_streak_nor_resolves():
    spec = rule(basis="known", for_polls=2)
    streak = RuleState(streak=1)
    assert step(spec, 0, 10, streak) == (streak, None)
    assert step(spec, 0, 10, RuleState(1, True)) == (RuleState(1, True), None)
    assert step(spec, 7, 0, streak) == (RuleState(2, True), "firing")


def test_for_polls_counts_on_the_basis_figure():
    spec = rule(basis="certain", for_polls=2)
    state, first = step(spec, 6, 0)
    state, second = step(spec, 6, 3, state)  # 60%..90%: still certainly at least 60%
    assert (first, second) == (None, "firing")


def test_the_alert_says_what_decided_it():
    spec = rule(basis="certain", threshold=50)
    found = detect(top(4, 0), top(5, 2, T0 + hours(1)), top_n=10, rules=[spec], states={spec.key: RuleState()},
                   history=History(),
                   cooldown=hours(24))
    (change,) = found.share_changes
    assert (change.basis, change.share, change.count, change.unknown, change.known) == ("certain", 50, 5, 2, 8)
    resolved = detect(top(5, 2), top(1, 2, T0 + hours(2)), top_n=10, rules=[spec],
                      states=found.rule_states, history=History(),
                      cooldown=hours(24))
    (back,) = resolved.share_changes
    assert (back.state, back.share) == ("resolved", 30)  # at most 1 + 2 of 10, past 50% - 10


def test_the_default_basis_is_todays_share_over_the_top_n():
    spec = RuleSpec(key="CN:above:50", country="CN", direction="above", threshold=50)
    assert spec.basis == "top_n"
    found = detect(top(4, 0), top(5, 5, T0 + hours(1)), top_n=10, rules=[spec], states={spec.key: RuleState()},
                   history=History(),
                   cooldown=hours(24))
    (change,) = found.share_changes
    assert (change.share, change.count, change.unknown, change.basis) == (50, 5, 5, "top_n")
