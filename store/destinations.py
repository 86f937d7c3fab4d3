"""Where alerts go: the console, config routes and slash-command subscriptions."""

from __future__ import annotations

import json
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.domain.destination import DEFAULT_SUBSCRIPTION, Destination
from bot.domain.events import ALERT_KINDS
from store.db import Conn, from_iso, utc_iso


class ConfiguredRoute(Protocol):
    """A `[[routes]]` entry as the store needs it (config's `Route` is one; the store does not import config)."""

    @property
    def platform(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def kinds(self) -> tuple[str, ...]: ...
    @property
    def name(self) -> str: ...

CONSOLE_CHANNEL = "stdout"
_COLUMNS = (
    "id, platform, channel, kinds, origin, active, subscribed_at, since_snapshot, paused_at, paused_reason,"
    " muted_until, mention, tenant_id, name, threads, template"
)


def _row(row: Sequence[object]) -> Destination:
    (rid, platform, channel, kinds, origin, active, subscribed, since, paused_at, reason, muted, mention, tenant,
     name, threads, template) = row
    return Destination(
        id=int(str(rid)),
        platform=str(platform),
        channel=str(channel),
        kinds=tuple(json.loads(str(kinds))),
        origin=str(origin),
        active=bool(active),
        subscribed_at=from_iso(str(subscribed)),
        since_snapshot=int(str(since)) if since is not None else None,
        paused_at=from_iso(str(paused_at)) if paused_at else None,
        paused_reason=str(reason) if reason else None,
        muted_until=from_iso(str(muted)) if muted else None,
        mention=str(mention) if mention else None,
        tenant_id=int(str(tenant)) if tenant is not None else None,
        name=str(name),
        threads=str(threads),
        template=str(template) if template is not None else None,
    )


async def get_destination(
    conn: Conn, platform: str, channel: str, name: str = DEFAULT_SUBSCRIPTION
) -> Destination | None:
    """One subscription of a channel, by its name ('default' when the channel has only the one it began with)."""
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM destinations WHERE platform = ? AND channel = ? AND name = ?",
        (platform, channel, name),
    ) as cursor:
        row = await cursor.fetchone()
    return _row(row) if row else None


async def channel_destinations(conn: Conn, platform: str, channel: str) -> list[Destination]:
    """Every subscription of one channel, active or not, oldest first (the channel's first is usually 'default')."""
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM destinations WHERE platform = ? AND channel = ? ORDER BY id", (platform, channel)
    ) as cursor:
        return [_row(row) for row in await cursor.fetchall()]


async def active_destinations(conn: Conn) -> list[Destination]:
    async with conn.execute(f"SELECT {_COLUMNS} FROM destinations WHERE active = 1 ORDER BY id") as cursor:
        return [_row(row) for row in await cursor.fetchall()]


@dataclass(frozen=True, slots=True)
class Routing:
    """Who gets alerts, as of `version` of `store_versions['destinations']`.

    `channel_rules` are (destination id, country, direction, threshold, basis) of active destinations.
    """

    version: int
    destinations: tuple[Destination, ...]
    channel_rules: tuple[tuple[int, str, str, int, str], ...]


_routing: weakref.WeakKeyDictionary[Conn, Routing] = weakref.WeakKeyDictionary()


async def routing_version(conn: Conn) -> int:
    async with conn.execute("SELECT version FROM store_versions WHERE name = 'destinations'") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else -1


async def current_routing(conn: Conn) -> Routing:
    """Active destinations and channel rules, parsed once and reused until either table changes.

    Triggers on `destinations` and `channel_rules` bump the version in whichever process writes
    (a slash command here, `python -m bot resume` in another), so each poll pays one primary-key
    read instead of re-reading and re-parsing every channel.
    """
    version = await routing_version(conn)
    cached = _routing.get(conn)
    if cached is not None and cached.version == version:
        return cached
    async with conn.execute(
        "SELECT r.destination_id, r.country, r.direction, r.threshold, r.basis FROM channel_rules r"
        " JOIN destinations d ON d.id = r.destination_id WHERE d.active = 1 ORDER BY r.id"
    ) as cursor:
        rules = tuple((int(d), str(c), str(di), int(t), str(b)) for d, c, di, t, b in await cursor.fetchall())
    fresh = Routing(version, tuple(await active_destinations(conn)), rules)
    _routing[conn] = fresh
    return fresh


async def upsert_destination(
    conn: Conn, platform: str, channel: str, kinds: Sequence[str], origin: str, now: datetime,
    tenant_id: int | None = None, name: str = DEFAULT_SUBSCRIPTION,
) -> Destination:
    """Activate (or re-kind) a destination. Becoming active again starts a new baseline.

    `tenant_id` records the server or workspace a command came from; None (config, console) keeps the
    tenant already recorded, so a config route never takes a channel away from its tenant.
    """
    await conn.execute(
        "INSERT INTO destinations (platform, channel, kinds, origin, active, subscribed_at, since_snapshot,"
        " tenant_id, name) VALUES (?, ?, ?, ?, 1, ?, (SELECT MAX(id) FROM snapshots), ?, ?)"
        " ON CONFLICT (platform, channel, name) DO UPDATE SET"
        "   kinds = excluded.kinds, origin = excluded.origin,"
        "   tenant_id = COALESCE(excluded.tenant_id, destinations.tenant_id),"
        "   subscribed_at = CASE WHEN destinations.active = 1 THEN destinations.subscribed_at"
        "                        ELSE excluded.subscribed_at END,"
        "   since_snapshot = CASE WHEN destinations.active = 1 THEN destinations.since_snapshot"
        "                         ELSE excluded.since_snapshot END,"
        "   paused_at = CASE WHEN destinations.active = 1 THEN destinations.paused_at END,"
        "   paused_reason = CASE WHEN destinations.active = 1 THEN destinations.paused_reason END,"
        "   active = 1",
        (platform, channel, json.dumps(list(kinds)), origin, utc_iso(now), tenant_id, name),
    )
    found = await get_destination(conn, platform, channel, name)
    assert found is not None
    return found


async def deactivate(conn: Conn, destination_id: int) -> None:
    """Stop sending; undelivered alerts for it are dropped rather than sent much later."""
    await conn.execute("UPDATE destinations SET active = 0 WHERE id = ?", (destination_id,))
    await conn.execute(
        "UPDATE outbox SET status = 'dropped', last_error = 'unsubscribed'"
        " WHERE destination_id = ? AND status = 'pending'",
        (destination_id,),
    )


async def sync_configured(
    conn: Conn, routes: Sequence[ConfiguredRoute], console_enabled: bool, now: datetime
) -> None:
    """Make the table match the config: console on/off, routes added, removed routes deactivated.

    A route is one subscription, (platform, channel, name): two routes of one channel with their own names
    are two subscriptions, and removing one from the config ends that one only.
    """
    wanted: set[tuple[str, str, str]] = set()
    if console_enabled:
        await upsert_destination(conn, "console", CONSOLE_CHANNEL, ALERT_KINDS, "console", now)
        wanted.add(("console", CONSOLE_CHANNEL, DEFAULT_SUBSCRIPTION))
    for route in routes:
        await upsert_destination(conn, route.platform, route.channel, route.kinds, "config", now, name=route.name)
        wanted.add((route.platform, route.channel, route.name))
    for destination in await active_destinations(conn):
        configured = destination.origin in ("config", "console")
        if configured and (destination.platform, destination.channel, destination.name) not in wanted:
            await deactivate(conn, destination.id)


async def pause_channel(conn: Conn, platform: str, channel: str, reason: str, now: datetime) -> None:
    """A channel the platform says is gone (or closed to the bot) stops for every subscription in it at once.

    Subscriptions paused already keep their first reason and time: a second subscription's send that failed
    the same way in the same pass says nothing new.
    """
    await conn.execute(
        "UPDATE destinations SET paused_at = ?, paused_reason = ?"
        " WHERE platform = ? AND channel = ? AND paused_at IS NULL",
        (utc_iso(now), reason, platform, channel),
    )


async def resume_channel(conn: Conn, platform: str, channel: str, now: datetime) -> int:
    """Unpause every paused subscription of a channel once the cause was fixed; how many were paused.

    Each gets a fresh baseline, and what piled up meanwhile is dropped, not flooded.
    """
    paused = [d for d in await channel_destinations(conn, platform, channel) if d.paused_at is not None]
    for destination in paused:
        await conn.execute(
            "UPDATE destinations SET paused_at = NULL, paused_reason = NULL, subscribed_at = ?,"
            " since_snapshot = (SELECT MAX(id) FROM snapshots) WHERE id = ?",
            (utc_iso(now), destination.id),
        )
        await conn.execute(
            "UPDATE outbox SET status = 'dropped', last_error = 'destination was paused'"
            " WHERE destination_id = ? AND status = 'pending'",
            (destination.id,),
        )
    return len(paused)


async def mute_channel(conn: Conn, platform: str, channel: str, until: datetime | None) -> None:
    """Mute (or with None unmute) every subscription of a channel: a mute quiets the channel, not one feed."""
    await conn.execute(
        "UPDATE destinations SET muted_until = ? WHERE platform = ? AND channel = ?",
        (utc_iso(until) if until else None, platform, channel),
    )


async def set_mention(conn: Conn, destination_id: int, mention: str | None) -> None:
    await conn.execute("UPDATE destinations SET mention = ? WHERE id = ?", (mention, destination_id))


async def add_channel_rule(
    conn: Conn, destination_id: int, country: str, direction: str, threshold: int, now: datetime,
    basis: str = "top_n",
) -> bool:
    """False when the channel already has that exact rule; the same rule on another basis takes the new basis."""
    cursor = await conn.execute(
        "INSERT INTO channel_rules (destination_id, country, direction, threshold, created_at, basis)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (destination_id, country, direction, threshold)"
        " DO UPDATE SET basis = excluded.basis WHERE channel_rules.basis <> excluded.basis",
        (destination_id, country, direction, threshold, utc_iso(now), basis),
    )
    return cursor.rowcount == 1


async def remove_channel_rule(
    conn: Conn, destination_id: int, country: str, direction: str, threshold: int
) -> bool:
    cursor = await conn.execute(
        "DELETE FROM channel_rules WHERE destination_id = ? AND country = ? AND direction = ? AND threshold = ?",
        (destination_id, country, direction, threshold),
    )
    return cursor.rowcount == 1


async def channel_rules_of(conn: Conn, destination_id: int) -> list[tuple[str, str, int, str]]:
    """(country, direction, threshold, basis) of one channel's rules."""
    async with conn.execute(
        "SELECT country, direction, threshold, basis FROM channel_rules WHERE destination_id = ? ORDER BY id",
        (destination_id,),
    ) as cursor:
        return [(str(c), str(d), int(t), str(b)) for c, d, t, b in await cursor.fetchall()]


async def set_template(conn: Conn, destination_id: int, template: str | None) -> None:
    """A subscription's look (issue 20): None the default ('full'), 'compact', or a custom template, checked by
    the caller (bot/delivery/templates.py): the store keeps what it is given."""
    await conn.execute("UPDATE destinations SET template = ? WHERE id = ?", (template, destination_id))


async def sync_route_templates(conn: Conn, routes: Sequence[tuple[str, str, str | None]]) -> None:
    """Config routes that set `template` write it at start, as (platform, channel, stored look); routes that set
    none are left out by the caller, and keep what `/alerts format` set."""
    for platform, channel, template in routes:
        found = await get_destination(conn, platform, channel)
        if found is not None and found.template != template:
            await set_template(conn, found.id, template)
