"""Channel filters: which lists a channel hears, and which entries of an entry message it sees. Pure.

Applied in routing, never in `detect`: the events are the same for everyone; a filtered
channel gets its own copy of an entry message holding only the entries that pass (none pass:
nothing is sent). Share alerts and digests are not filtered by entry filters, only by list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, TypeVar

from bot.attribution.countries import OrgTable, is_reupload
from bot.domain.destination import Destination
from bot.domain.events import (
    Climber,
    ClimberModel,
    DailyDigest,
    Digest,
    Entered,
    EnteredModel,
    Event,
    Left,
    LeftModel,
    NewLeader,
    ShareChange,
    SourceHealth,
    Watched,
)
from bot.domain.lists import ListSpec
from bot.domain.silence import Silence
from bot.domain.snapshot import DEFAULT_LIST, Snapshot
from bot.rules.routing import wants
from bot.rules.silences import split_silenced

DEFAULT_LISTS = (DEFAULT_LIST,)


@dataclass(frozen=True, slots=True)
class ChannelFilter:
    """Empty tuples mean 'any'. Countries are ISO codes; tasks are pipeline tags; authors are namespaces."""

    lists: tuple[str, ...] = DEFAULT_LISTS
    countries: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    derivatives: bool = True

    @property
    def filters_entries(self) -> bool:
        return bool(self.countries or self.tasks or self.authors or not self.derivatives)

    def hears(self, list_name: str) -> bool:
        return list_name in self.lists

    def passes(self, item_id: str, country: str, pipeline_tag: str | None, derivative: bool) -> bool:
        """One entry against the entry filters (case-insensitive for tasks and authors, as the Hub is)."""
        if self.countries and country.upper() not in self.countries:
            return False
        if self.tasks and (pipeline_tag or "").lower() not in {task.lower() for task in self.tasks}:
            return False
        namespace = item_id.split("/", 1)[0].lower() if "/" in item_id else ""
        if self.authors and namespace not in {author.lower() for author in self.authors}:
            return False
        return self.derivatives or not derivative

    def describe(self) -> list[str]:
        """Lines for `/alerts status`."""
        shown = [f"Lists: {', '.join(self.lists)}"]
        if self.countries:
            shown.append(f"Only countries: {', '.join(self.countries)}")
        if self.tasks:
            shown.append(f"Only tasks: {', '.join(self.tasks)}")
        if self.authors:
            shown.append(f"Only authors: {', '.join(self.authors)}")
        if not self.derivatives:
            shown.append("Derivatives (re-uploads, quantizations): hidden")
        return shown


ALL_LISTS = ChannelFilter(lists=())  # marker: hears every list (the console, with no filter of its own)
DEFAULT_FILTER = ChannelFilter()


def filter_for(destination: Destination, filters: Mapping[int, ChannelFilter]) -> ChannelFilter:
    """A channel's own filter; without one, the console hears every list and a channel the default list."""
    found = filters.get(destination.id)
    if found is not None:
        return found
    return ALL_LISTS if destination.platform == "console" else DEFAULT_FILTER


def _hears(channel: ChannelFilter, list_name: str) -> bool:
    return channel is ALL_LISTS or channel.hears(list_name)


_Listed = TypeVar("_Listed", Entered, Left, Climber)


def _entered_for(event: _Listed, channel: ChannelFilter) -> _Listed | None:
    """An entry-like message (entered, left, climber) with only the models this channel's filter passes."""
    if not channel.filters_entries:
        return event
    kept = tuple(m for m in event.models if channel.passes(m.id, m.country, m.pipeline_tag, m.derivative))
    if not kept:
        return None
    return event if kept == event.models else event.model_copy(update={"models": kept})


def _leader_for(event: NewLeader, channel: ChannelFilter) -> NewLeader | None:
    if not channel.filters_entries:
        return event
    return event if channel.passes(event.id, event.country, event.pipeline_tag, event.derivative) else None


def variant_for(event: Event, destination: Destination, channel: ChannelFilter, previous_snapshot_id: int | None,
                now: datetime) -> Event | None:
    """What this destination gets of `event` (the event itself, a filtered copy) or None."""
    if isinstance(event, Watched):
        if event.scope is not None:  # a channel's own watch: it asked, whatever kinds it takes
            alive = destination.active and destination.paused_at is None
            unmuted = destination.muted_until is None or destination.muted_until <= now
            return event if destination.id == event.scope and alive and unmuted else None
        return event if wants(destination, event, previous_snapshot_id, now) else None
    if not wants(destination, event, previous_snapshot_id, now):
        return None
    if isinstance(event, Digest | DailyDigest):
        return event
    if isinstance(event, ShareChange) and event.scope is not None:
        return event  # the channel's own rule
    if not _hears(channel, event.list):
        return None
    if isinstance(event, Entered):
        return _entered_for(event, channel)
    if isinstance(event, Left):
        return _entered_for(event, channel)
    if isinstance(event, Climber):
        return _entered_for(event, channel)
    if isinstance(event, NewLeader):
        return _leader_for(event, channel)
    assert isinstance(event, ShareChange | SourceHealth)
    return event


class Routed(NamedTuple):
    """One event (or a channel's copy of it): the destinations it is sent to, and (destination, silence) for
    those where a silence holds it back, so it is stored once, queued for some and recorded for the others."""

    event: Event
    destinations: list[int]
    silenced: list[tuple[int, int]]


ChannelSilences = Mapping[tuple[str, str], Sequence[Silence]]


def route_events(
    events: Sequence[Event], destinations: Sequence[Destination], filters: Mapping[int, ChannelFilter],
    previous_snapshot_id: int | None, now: datetime, silences: ChannelSilences | None = None,
) -> list[Routed]:
    """Each event (or filtered copy) with the destinations that get it; an event nobody gets is kept with [].

    `silences` are the active ones by (platform, channel): a silenced part goes to `silenced` instead."""
    # `variant_for` spelled out once per event, not per channel: at 10,000 channels this loop is the fan-out.
    # A channel without silences costs one `is None` more than before silences existed.
    held_by = silences or {}
    channels = [(d, f, f is ALL_LISTS, f.filters_entries, held_by.get((d.platform, d.channel)) or None) for d, f in
                ((d, filter_for(d, filters)) for d in destinations)]
    routed: list[Routed] = []
    for event in events:
        whole = Routed(event, [], [])  # channels that get the event itself: one row, as before filters existed
        copies: dict[str, Routed] = {}
        watched = isinstance(event, Watched)
        by_list = not isinstance(event, Digest | DailyDigest) and not (
            isinstance(event, ShareChange) and event.scope is not None)
        by_entry = isinstance(event, Entered | NewLeader | Left | Climber)
        list_name = event.list
        for destination, channel, hears_all, filters_entries, silenced_by in channels:
            if watched or (by_entry and filters_entries):
                variant = variant_for(event, destination, channel, previous_snapshot_id, now)
            elif not wants(destination, event, previous_snapshot_id, now) or (
                    by_list and not hears_all and list_name not in channel.lists):
                continue
            else:
                variant = event
            if variant is None:
                continue
            if silenced_by is not None:
                split = split_silenced(variant, silenced_by, now)
                for part, silence_id in split.silenced:
                    _group(whole, copies, part).silenced.append((destination.id, silence_id))
                if split.sent is None:
                    continue
                variant = split.sent
            if variant is event:
                whole.destinations.append(destination.id)
            else:
                _group(whole, copies, variant).destinations.append(destination.id)
        if whole.destinations or whole.silenced or not copies:
            routed.append(whole)
        routed.extend(copies.values())
    return routed


def _group(whole: Routed, copies: dict[str, Routed], variant: Event) -> Routed:
    """The routed entry a variant joins: the event's own, or the copy with the same content."""
    if variant is whole.event:
        return whole
    return copies.setdefault(variant.model_dump_json(), Routed(variant, [], []))


def describe_entries(event: Event, snapshot: Snapshot, table: OrgTable, previous: Snapshot | None = None) -> Event:
    """Add what entry filters read (pipeline tag, derivative) and templates show (likes, downloads) to entry
    messages, from the snapshot's entries
    (a model that left may be beyond this snapshot's depth: then from the previous snapshot's)."""
    by_id = {entry.id: entry for entry in previous.entries} if previous is not None else {}
    by_id.update({entry.id: entry for entry in snapshot.entries})

    def facts(item_id: str) -> dict[str, object]:
        entry = by_id.get(item_id)
        if entry is None:
            return {}
        return {"pipeline_tag": entry.pipeline_tag, "derivative": is_reupload(entry.id, entry.tags, table),
                "likes": entry.likes, "downloads": entry.downloads}

    if isinstance(event, Entered):
        models = tuple(EnteredModel.model_validate({**m.model_dump(), **facts(m.id)}) for m in event.models)
        return event.model_copy(update={"models": models})
    if isinstance(event, Left):
        left = tuple(LeftModel.model_validate({**m.model_dump(), **facts(m.id)}) for m in event.models)
        return event.model_copy(update={"models": left})
    if isinstance(event, Climber):
        climbed = tuple(ClimberModel.model_validate({**m.model_dump(), **facts(m.id)}) for m in event.models)
        return event.model_copy(update={"models": climbed})
    if isinstance(event, NewLeader):
        return event.model_copy(update=facts(event.id))
    return event


def on_list(event: Event, spec: ListSpec) -> Event:
    """The event tagged with the list it is about (the default list's events already are)."""
    if spec.is_default:
        return event
    return event.model_copy(update={"list": spec.name, "list_kind": spec.kind})
