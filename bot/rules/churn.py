"""`left` and `climber`: the top N's churn, one event per poll per kind. Pure: no I/O.

Both are held back by the re-entry cooldown that keeps `entered` and `new_leader` quiet on a
flapping list, in the same form — "it did this less than `cooldown` ago, so it is not news":

- a model is not announced leaving when it already left the top N less than `cooldown` before
  (a model flapping around rank N would otherwise post every other poll);
- a model is not announced climbing to a place it (or a better one) held less than `cooldown` ago.

A climb into #1 is the new leader's news: when a `NewLeader` is announced for that model in the
same poll, the climb is not listed again. When the new leader is not announced (it led recently,
or `[alerts] new_leader = false`), the climb follows its own cooldown like any other.

A short answer is no evidence that anything left: the poller stores no snapshot shorter than the
top N of an overall list, and a filtered list shorter than its top N produces no `left` at all.
"""

from __future__ import annotations

from datetime import timedelta

from bot.domain.events import Climber, ClimberModel, Left, LeftModel, NewLeader
from bot.domain.rule_state import History
from bot.domain.snapshot import Snapshot

DEFAULT_CLIMB = 3


def leavers(previous: Snapshot, current: Snapshot, top_n: int) -> list[str]:
    """Ids in the previous top N and not in this one's; none when this answer does not fill its top N."""
    if len(current.entries) < top_n:
        return []
    now = {entry.id for entry in current.top(top_n)}
    return [entry.id for entry in previous.top(top_n) if entry.id not in now]


def climb_candidates(previous: Snapshot, current: Snapshot, top_n: int, climb: int) -> list[str]:
    """Ids that rose at least `climb` places from inside the previous top N to inside this one."""
    before = {entry.id: entry.rank for entry in previous.top(top_n)}
    return [entry.id for entry in current.top(top_n)
            if entry.id in before and before[entry.id] - entry.rank >= climb]


def detect_left(
    previous: Snapshot, current: Snapshot, top_n: int, history: History, cooldown: timedelta
) -> Left | None:
    """The models that left the top N since the previous snapshot, with how long they had stayed."""
    by_id = {entry.id: entry for entry in previous.top(top_n)}
    models: list[LeftModel] = []
    for item_id in leavers(previous, current, top_n):
        stay = history.stays.get(item_id)
        if stay is not None and stay.left_before is not None and current.taken_at - stay.left_before < cooldown:
            continue
        entry = by_id[item_id]
        models.append(LeftModel(
            id=item_id,
            rank=current.rank_of(item_id),
            previous_rank=entry.rank,
            country=entry.country,
            country_method=entry.attribution.method,
            country_via=entry.attribution.via,
            in_top_since=stay.since if stay is not None else previous.taken_at,
            last_in_top=previous.taken_at,
            at_least=stay.at_least if stay is not None else True,
        ))
    if not models:
        return None
    return Left(taken_at=current.taken_at, top_n=top_n, models=tuple(models))


def _held_recently(history: History, item_id: str, rank: int, now: Snapshot, cooldown: timedelta) -> bool:
    held = history.last_at_rank.get(item_id, {})
    return any(place <= rank and now.taken_at - at < cooldown for place, at in held.items())


def detect_climbers(
    previous: Snapshot, current: Snapshot, top_n: int, climb: int, history: History, cooldown: timedelta,
    leader: NewLeader | None = None,
) -> Climber | None:
    """Models that rose at least `climb` places within the top N, best-placed first, minus recent holders."""
    ranks = {entry.id: entry for entry in current.top(top_n)}
    models: list[ClimberModel] = []
    for item_id in climb_candidates(previous, current, top_n, climb):
        entry = ranks[item_id]
        if leader is not None and leader.id == item_id:
            continue
        if _held_recently(history, item_id, entry.rank, current, cooldown):
            continue
        before = previous.rank_of(item_id)
        assert before is not None  # a candidate was in the previous top N
        models.append(ClimberModel(
            id=item_id, rank=entry.rank, previous_rank=before, country=entry.country,
            country_method=entry.attribution.method, country_via=entry.attribution.via,
        ))
    if not models:
        return None
    return Climber(taken_at=current.taken_at, top_n=top_n, climb=climb, models=tuple(models))
