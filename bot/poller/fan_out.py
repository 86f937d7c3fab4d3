"""Fan-out in the poll's transaction: routing decides who hears each event, and each gets an outbox row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.config import Route, Settings
from bot.domain.destination import Destination
from bot.domain.events import Event
from bot.rules.filters import ChannelFilter, Routed, route_events
from store import channel_filters, outbox, silences
from store.db import Conn
from store.destinations import current_routing


def route_filter(route: Route) -> channel_filters.StoredFilter | None:
    """A route's filter keys as stored; None when the route sets none (what commands set is kept)."""
    if not {"lists", "countries", "tasks", "authors", "derivatives"} & route.model_fields_set:
        return None
    return channel_filters.StoredFilter(route.lists, route.countries, route.tasks, route.authors, route.derivatives)


async def sync_route_filters(conn: Conn, settings: Settings, now: datetime) -> None:
    await channel_filters.sync_route_filters(
        conn, [(route.platform, route.channel, route.name, route_filter(route)) for route in settings.routes], now)


async def channel_filter_map(conn: Conn) -> dict[int, ChannelFilter]:
    return {dest: ChannelFilter(f.lists, f.countries, f.tasks, f.authors, f.derivatives)
            for dest, f in (await channel_filters.all_filters(conn)).items()}


async def fan_out(
    conn: Conn, events: Sequence[Event], snapshot_id: int | None, previous_id: int | None,
    now: datetime,
) -> None:
    """Outbox rows per destination, through the channel filters (a filtered channel may get its own copy) and
    the channels' silences (what one holds back is stored and recorded as silenced, never queued)."""
    destinations = (await current_routing(conn)).destinations
    filters = await channel_filter_map(conn)
    held_by = await silences.active_for_channels(conn, now)
    await store_routed(conn, route_events(events, destinations, filters, previous_id, now, held_by), snapshot_id, now)


async def store_routed(conn: Conn, routed: Sequence[Routed], snapshot_id: int | None, now: datetime) -> list[int]:
    """Each routed event stored with its outbox rows; what silences held back stored as its own event row with
    its silenced rows. The ids stored, the queued one first.

    A held-back event is a row of its own even when other channels get the same content: an event with
    silenced rows was then never queued anywhere, so the public page can leave it out even after the
    outbox forgot who got what (`store.web_reads.sent_alerts`), and never shows what a channel silenced."""
    stored = []
    for event, ids, held in routed:
        if ids or not held:
            stored.append(await outbox.add_event(conn, event, snapshot_id, ids, now))
        if held:
            held_id = await outbox.add_event(conn, event, snapshot_id, [], now)
            await silences.record_silenced(conn, held_id, held, now)
            stored.append(held_id)
    return stored


async def fan_out_whole(conn: Conn, event: Event, destinations: Sequence[Destination],
                        now: datetime) -> tuple[int, list[int]]:
    """An event no filter splits (a digest) for the destinations that take it, held back where a channel
    silenced its kind: (the id it was queued under, or held under when nobody gets it; who it was queued for)."""
    held_by = await silences.active_for_channels(conn, now)
    [routed] = route_events([event], destinations, {}, None, now, held_by)
    event_id, *_ = await store_routed(conn, [routed], None, now)
    return event_id, routed.destinations
