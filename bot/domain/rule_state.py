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
class History:
    """What the store remembers about models, as of the previous snapshot."""

    last_in_top: Mapping[str, datetime] = field(default_factory=dict)
    last_led: Mapping[str, datetime] = field(default_factory=dict)
