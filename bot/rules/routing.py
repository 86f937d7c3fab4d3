"""Which destinations get an event. Pure: the rules of fan-out in one place."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain.destination import Destination
from bot.domain.events import Event

SNAPSHOT_KINDS = frozenset({"entered", "new_leader", "share", "left", "climber"})


def wants(destination: Destination, event: Event, previous_snapshot_id: int | None, now: datetime) -> bool:
    """A channel's first snapshot after subscribing is its baseline; muted or paused channels get nothing."""
    if not destination.active or destination.paused_at is not None:
        return False
    if destination.muted_until is not None and destination.muted_until > now:
        return False
    if event.kind not in destination.kinds and not (event.kind == "new_leader" and "entered" in destination.kinds):
        return False
    if event.kind == "share" and event.scope is not None and event.scope != destination.id:
        return False
    if event.kind in SNAPSHOT_KINDS:
        if previous_snapshot_id is None:
            return False
        if destination.since_snapshot is not None and previous_snapshot_id <= destination.since_snapshot:
            return False
    return True


def recipients(
    event: Event, destinations: Sequence[Destination], previous_snapshot_id: int | None, now: datetime
) -> list[int]:
    return [d.id for d in destinations if wants(d, event, previous_snapshot_id, now)]
