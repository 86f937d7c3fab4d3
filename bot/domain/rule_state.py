"""What the rules remember between polls: stored by the poll in the same transaction as the snapshot,
so a restart neither repeats nor loses an alert."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RuleState:
    streak: int = 0
    firing: bool = False


@dataclass(frozen=True, slots=True)
class TopStay:
    """A model's latest unbroken run in the top N, as of the previous snapshot: what `left` says and decides on.

    `since` is the run's first snapshot; `at_least` when the run reaches back to the list's first
    stored snapshot (it may have begun earlier). `left_before` is the last time the model was in the
    top N before the gap that preceded this run, when that is recent enough to matter to a cooldown
    (None: longer ago, or never).
    """

    since: datetime
    at_least: bool = False
    left_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class History:
    """What the store remembers about models, as of the previous snapshot.

    `stays` and `last_at_rank` are loaded only for the models that may leave or climb this poll
    (`bot.rules.churn.leavers`, `climb_candidates`); `last_at_rank[id][rank]` is the last time within
    the cooldown window that the model held that place.
    """

    last_in_top: Mapping[str, datetime] = field(default_factory=dict)
    last_led: Mapping[str, datetime] = field(default_factory=dict)
    stays: Mapping[str, TopStay] = field(default_factory=dict)
    last_at_rank: Mapping[str, Mapping[int, datetime]] = field(default_factory=dict)
