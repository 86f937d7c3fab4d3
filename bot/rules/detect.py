"""Previous snapshot + current snapshot + rule state → events. Pure: no I/O.

Everything a rule needs to remember between polls is in `RuleState` (stored
by the caller in the same transaction as the snapshot), so a restart neither
repeats nor loses an alert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from bot.attribution.countries import country_holds
from bot.domain.events import Climber, Entered, EnteredModel, Left, NewLeader, ShareChange
from bot.domain.rule_state import History, RuleState
from bot.domain.shares import DEFAULT_BASIS, Basis, Reading, hold_of, reading
from bot.domain.snapshot import Snapshot
from bot.rules.churn import DEFAULT_CLIMB, detect_climbers, detect_left

_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A share rule as detect sees it: from config (scope None) or a channel (scope = destination id)."""

    key: str
    country: str
    direction: Literal["above", "below"]
    threshold: int
    for_polls: int = 1
    hysteresis: float | None = None
    notify_resolved: bool = False
    scope: int | None = None
    basis: Basis = DEFAULT_BASIS  # what the share is decided on (bot.domain.shares)

    def band(self, top_n: int) -> float:
        """Points the share must move back past the threshold to resolve; default one model."""
        return self.hysteresis if self.hysteresis is not None else 100.0 / top_n


@dataclass(frozen=True, slots=True)
class Detection:
    entered: Entered | None
    new_leader: NewLeader | None
    share_changes: tuple[ShareChange, ...]
    rule_states: dict[str, RuleState]
    left: Left | None = None
    climber: Climber | None = None

    @property
    def events(self) -> list[Entered | NewLeader | ShareChange | Left | Climber]:
        found: list[Entered | NewLeader | ShareChange | Left | Climber] = []
        if self.entered:
            found.append(self.entered)
        if self.new_leader:
            found.append(self.new_leader)
        found.extend(self.share_changes)
        if self.left:
            found.append(self.left)
        if self.climber:
            found.append(self.climber)
        return found


def detect_entries(
    previous: Snapshot, current: Snapshot, top_n: int, history: History, cooldown: timedelta
) -> Entered | None:
    """Models in this top N and not the previous one's, minus recent leavers (re-entry cooldown)."""
    before = {entry.id for entry in previous.top(top_n)}
    newcomers: list[EnteredModel] = []
    for entry in current.top(top_n):
        if entry.id in before:
            continue
        last_seen_on_top = history.last_in_top.get(entry.id)
        if last_seen_on_top is not None and current.taken_at - last_seen_on_top < cooldown:
            continue
        newcomers.append(
            EnteredModel(
                id=entry.id,
                rank=entry.rank,
                previous_rank=previous.rank_of(entry.id),
                country=entry.country,
                country_method=entry.attribution.method,
                country_via=entry.attribution.via,
            )
        )
    if not newcomers:
        return None
    return Entered(taken_at=current.taken_at, top_n=top_n, models=tuple(newcomers))


def detect_new_leader(
    previous: Snapshot, current: Snapshot, history: History, cooldown: timedelta, entered: Entered | None
) -> NewLeader | None:
    """A new #1, unless it only just held #1 (flapping) or is already announced as entering."""
    if not current.entries or not previous.entries:
        return None
    leader, before = current.entries[0], previous.entries[0]
    if leader.id == before.id:
        return None
    if entered is not None and any(model.id == leader.id for model in entered.models):
        return None
    last_led = history.last_led.get(leader.id)
    if last_led is not None and current.taken_at - last_led < cooldown:
        return None
    return NewLeader(taken_at=current.taken_at, id=leader.id, country=leader.country, previous_id=before.id)


def _holds(rule: RuleSpec, share: float) -> bool:
    if rule.direction == "above":
        return share >= rule.threshold - _EPSILON
    return share <= rule.threshold + _EPSILON


def _cleared(rule: RuleSpec, share: float, top_n: int) -> bool:
    band = rule.band(top_n)
    if rule.direction == "above":
        return share < rule.threshold - band - _EPSILON
    return share > rule.threshold + band + _EPSILON


def step_rule(
    rule: RuleSpec, state: RuleState, share: float | Reading | None, top_n: int
) -> tuple[RuleState, str | None]:
    """One poll of one rule's state machine → (new state, "firing" | "resolved" | None).

    `share` is one figure (the default basis) or a `Reading` of the rule's basis, which may fire on one
    figure and resolve on another (`certain`). None — nothing to decide on, as when every entry of the
    top N is unknown under `basis = "known"` — leaves the state as it was: no evidence either way
    neither breaks a streak nor resolves an alert.
    """
    if share is None:
        return state, None
    fires, clears = (share.fires, share.clears) if isinstance(share, Reading) else (share, share)
    if state.firing:
        if _cleared(rule, clears, top_n):
            return RuleState(), "resolved"
        return state, None
    if _holds(rule, fires):
        streak = state.streak + 1
        if streak >= rule.for_polls:
            return RuleState(streak=streak, firing=True), "firing"
        return RuleState(streak=streak), None
    return RuleState(), None


def _share_number(value: float) -> float:
    rounded = round(value, 1)
    return int(rounded) if rounded.is_integer() else rounded


def detect_shares(
    current: Snapshot, top_n: int, rules: Sequence[RuleSpec], states: Mapping[str, RuleState]
) -> tuple[tuple[ShareChange, ...], dict[str, RuleState]]:
    """Advance every rule on its own basis; a rule seen for the first time is a silent baseline."""
    found = country_holds(current.entries, top_n)
    changes: list[ShareChange] = []
    new_states: dict[str, RuleState] = {}
    for rule in rules:
        hold = hold_of(found, rule.country, top_n)
        figures = reading(hold, rule.basis, rule.direction)
        known = rule.key in states
        state, transition = step_rule(rule, states.get(rule.key, RuleState()), figures, top_n)
        new_states[rule.key] = state
        if not known or transition is None or figures is None:
            continue
        if transition == "resolved" and not rule.notify_resolved:
            continue
        changes.append(
            ShareChange(
                taken_at=current.taken_at,
                country=rule.country,
                state="firing" if transition == "firing" else "resolved",
                direction=rule.direction,
                share=_share_number(figures.fires if transition == "firing" else figures.clears),
                threshold=rule.threshold,
                top_n=top_n,
                count=hold.count,
                rule=rule.key,
                scope=rule.scope,
                unknown=hold.unknown,
                known=hold.known,
                basis=rule.basis,
            )
        )
    return tuple(changes), new_states


def detect(
    previous: Snapshot | None,
    current: Snapshot,
    *,
    top_n: int,
    rules: Sequence[RuleSpec],
    states: Mapping[str, RuleState],
    history: History,
    cooldown: timedelta,
    announce_leader: bool = True,
    climb: int = DEFAULT_CLIMB,
) -> Detection:
    """Compare with the last good snapshot. With none (the first ever), only rule state is set.

    `left` and `climber` are always detected; whether anyone hears them is the channels' kinds (opt-in).
    """
    if previous is None:
        _silent, baseline = detect_shares(current, top_n, rules, {})
        return Detection(None, None, (), baseline)
    entered = detect_entries(previous, current, top_n, history, cooldown)
    leader = detect_new_leader(previous, current, history, cooldown, entered) if announce_leader else None
    share_changes, new_states = detect_shares(current, top_n, rules, states)
    left = detect_left(previous, current, top_n, history, cooldown)
    climber = detect_climbers(previous, current, top_n, climb, history, cooldown, leader)
    return Detection(entered, leader, share_changes, new_states, left, climber)

