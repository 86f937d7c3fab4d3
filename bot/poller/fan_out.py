"""Fan-out in the poll's transaction: routing decides who hears each event, and each gets an outbox row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.config import Route, Settings
from bot.domain.events import Event
from bot.rules.filters import ChannelFilter, route_events
from store import channel_filters, outbox
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
    """Outbox rows per destination, through the channel filters: a filtered channel may get its own copy."""
    destinations = (await current_routing(conn)).destinations
    filters = await channel_filter_map(conn)
    for event, ids in route_events(events, destinations, filters, previous_id, now):
        await outbox.add_event(conn, event, snapshot_id, ids, now)
