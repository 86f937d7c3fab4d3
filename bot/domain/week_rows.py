"""The rows of a week's history that the store hands the digest maths: plain values, no I/O.

They live apart from `bot/digest/week.py` so the store can return them without
importing the maths that reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    id: int
    taken_at: datetime
    top_n: int
    archive: str | None = None  # the archive it was imported from; None = polled by the bot


@dataclass(frozen=True, slots=True)
class TopRow:
    """One model in one snapshot's top N."""

    snapshot_id: int
    rank: int
    model_id: str
    country: str


@dataclass(frozen=True, slots=True)
class WeekRows:
    """What the store returns for one week; snapshots oldest first, all within [start, end)."""

    snapshots: tuple[SnapshotRow, ...]
    top: tuple[TopRow, ...]
    first_ranks: Mapping[str, int]  # full-depth ranks in the week's first snapshot
    last_ranks: Mapping[str, int]  # ... and in its last one
    first_in_top: Mapping[str, datetime]  # first time ever in the top N, for the models in `top`

    def within(self, start: datetime, end: datetime) -> WeekRows:
        """Only the snapshots in [start, end): a midnight snapshot belongs to the day it opens."""
        kept = tuple(s for s in self.snapshots if start <= s.taken_at < end)
        if len(kept) == len(self.snapshots):
            return self
        ids = {s.id for s in kept}
        return WeekRows(kept, tuple(r for r in self.top if r.snapshot_id in ids), self.first_ranks,
                        self.last_ranks, self.first_in_top)
