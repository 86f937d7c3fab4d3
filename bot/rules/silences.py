"""Which part of an alert a channel's silences hold back. Pure.

An entry-like message (entered, left, climber) names several models: a silence catches models, not the
message, so the channel still gets the rest and the caught models are recorded as silenced, each with the
silence that caught it. A new #1 and a watch alert name one model; a share alert names a country; a digest
and a source notice name neither, so only `kind:` holds them back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain.events import Climber, Entered, Event, Left, NewLeader, ShareChange, Watched
from bot.domain.silence import Silence


@dataclass(frozen=True, slots=True)
class Split:
    """What is still sent (None: nothing), and each held-back part with the id of the silence that holds it.

    When nothing is caught `sent` is the event itself, and when everything is caught by one silence the
    held part is: callers tell a copy from the event by identity, as routing does."""

    sent: Event | None
    silenced: tuple[tuple[Event, int], ...] = ()


def _namespace(item_id: str) -> str:
    return item_id.split("/", 1)[0].lower() if "/" in item_id else ""


def catches(silence: Silence, kind: str, item_id: str | None, country: str | None) -> bool:
    """One silence against one alert's subject (case-insensitive for authors and models, as the Hub is)."""
    value = silence.value
    if silence.matcher == "kind":
        return kind == value or (value == "entered" and kind == "new_leader")  # a new #1 rides with entries
    if silence.matcher == "author":
        return item_id is not None and _namespace(item_id) == value.lower()
    if silence.matcher == "model":
        return item_id is not None and item_id.lower() == value.lower()
    return country is not None and country.upper() == value.upper()


def _holder(silences: Sequence[Silence], kind: str, item_id: str | None, country: str | None) -> int | None:
    """The first silence (in the order given: oldest first) that catches this subject."""
    for silence in silences:
        if catches(silence, kind, item_id, country):
            return silence.id
    return None


def _subject(event: Event) -> tuple[str | None, str | None]:
    """(the model, the country) a single-subject alert is about; None where it names none."""
    if isinstance(event, NewLeader | Watched):
        return event.id, event.country
    if isinstance(event, ShareChange):
        return None, event.country
    return None, None


def split_silenced(event: Event, silences: Sequence[Silence], now: datetime) -> Split:
    """`event` as one channel gets it, split by the channel's silences that are active at `now`."""
    live = [silence for silence in silences if silence.active(now)]
    if not live:
        return Split(event)
    if isinstance(event, Entered | Left | Climber):
        return _split_models(event, live)
    holder = _holder(live, event.kind, *_subject(event))
    return Split(event) if holder is None else Split(None, ((event, holder),))


def _split_models(event: Entered | Left | Climber, live: Sequence[Silence]) -> Split:
    kept = []
    held: dict[int, list[object]] = {}
    for model in event.models:
        holder = _holder(live, event.kind, model.id, model.country)
        if holder is None:
            kept.append(model)
        else:
            held.setdefault(holder, []).append(model)
    if not held:
        return Split(event)
    if not kept and len(held) == 1:
        return Split(None, ((event, next(iter(held))),))
    parts = tuple((event.model_copy(update={"models": tuple(models)}), holder) for holder, models in held.items())
    return Split(event.model_copy(update={"models": tuple(kept)}) if kept else None, parts)
