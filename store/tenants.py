"""Tenants: the Discord servers and Slack workspaces one deployment serves, and what each of them owns.

A tenant is (platform, external id): the Discord guild id or the Slack team id. Every channel a command
subscribes records its tenant (`destinations.tenant_id`), and the channel's rules, filters and watches
hang off that channel, so "what a tenant owns" is one join away and deleting a tenant is deleting its
channels (their rules, filters, watches and outbox rows go with them, by foreign key).

Lifecycle: `tenant_joined` when the bot is added (or a command first names a tenant, `ensure_tenant`),
`tenant_left` when it is removed: its channels stop at once (paused, reason "left") but keep their
settings, so a server that re-adds the bot by mistake-and-back gets them again; `forget_left_tenants`
deletes what is left of tenants gone longer than `[tenants] keep_after_leaving`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from store.db import Conn, from_iso, utc_iso

PLATFORMS = ("discord", "slack")
LEFT_REASON = "left"  # destinations.paused_reason of a tenant's channels while it is gone


@dataclass(frozen=True, slots=True)
class Tenant:
    id: int
    platform: str
    external_id: str
    name: str
    state: str  # 'active' | 'left'
    joined_at: datetime
    left_at: datetime | None


@dataclass(frozen=True, slots=True)
class TenantSummary:
    """A tenant and what it owns, for `python -m bot tenants`."""

    tenant: Tenant
    channels: int  # subscribed (active) channels
    rules: int
    watches: int
    filters: int


@dataclass(frozen=True, slots=True)
class Removed:
    """What deleting tenants took away (summed over them)."""

    tenants: int = 0
    channels: int = 0
    rules: int = 0
    watches: int = 0
    filters: int = 0
    pending: int = 0  # undelivered alerts dropped with their channels

    def __add__(self, other: Removed) -> Removed:
        return Removed(self.tenants + other.tenants, self.channels + other.channels, self.rules + other.rules,
                       self.watches + other.watches, self.filters + other.filters, self.pending + other.pending)

    def describe(self) -> str:
        return (f"{self.channels} channel(s), {self.rules} rule(s), {self.watches} watch(es),"
                f" {self.filters} filter(s), {self.pending} undelivered alert(s)")


_TENANT_COLUMNS = "id, platform, external_id, name, state, joined_at, left_at"


def _tenant(row: Sequence[object]) -> Tenant:
    rid, platform, external_id, name, state, joined, left = row
    return Tenant(int(str(rid)), str(platform), str(external_id), str(name or ""), str(state),
                  from_iso(str(joined)), from_iso(str(left)) if left else None)


async def get_tenant(conn: Conn, platform: str, external_id: str) -> Tenant | None:
    async with conn.execute(f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE platform = ? AND external_id = ?",
                            (platform, external_id)) as cursor:
        row = await cursor.fetchone()
    return _tenant(row) if row else None


async def tenant_by_id(conn: Conn, tenant_id: int) -> Tenant | None:
    async with conn.execute(f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE id = ?", (tenant_id,)) as cursor:
        row = await cursor.fetchone()
    return _tenant(row) if row else None


async def find_tenant(conn: Conn, ident: str) -> Tenant | None:
    """`T0123` (a Slack team id), `81234…` (a Discord server id), or either with `slack:`/`discord:` before it.

    Slack team ids start with a letter and Discord ids are digits, so a bare id names one tenant.
    """
    text = ident.strip()
    platform, _, external = text.partition(":")
    if external and platform.lower() in PLATFORMS:
        return await get_tenant(conn, platform.lower(), external.strip())
    async with conn.execute(f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE external_id = ? ORDER BY id",
                            (text,)) as cursor:
        row = await cursor.fetchone()
    return _tenant(row) if row else None


async def ensure_tenant(conn: Conn, platform: str, external_id: str, name: str, now: datetime) -> int:
    """The tenant's id, recorded as active if the bot never heard of it (a bot self-hosted before tenants
    existed learns its server or workspace from the first command). A known tenant is left as it is."""
    await conn.execute(
        "INSERT INTO tenants (platform, external_id, name, state, joined_at) VALUES (?, ?, ?, 'active', ?)"
        " ON CONFLICT (platform, external_id) DO NOTHING",
        (platform, external_id, name, utc_iso(now)),
    )
    found = await get_tenant(conn, platform, external_id)
    assert found is not None
    return found.id


async def tenant_joined(conn: Conn, platform: str, external_id: str, name: str, now: datetime) -> int:
    """The bot was added to a server or workspace. One that left and came back (within the grace) is
    active again, and its channels paused because it left get alerts again from a fresh baseline."""
    before = await get_tenant(conn, platform, external_id)
    await conn.execute(
        "INSERT INTO tenants (platform, external_id, name, state, joined_at) VALUES (?, ?, ?, 'active', ?)"
        " ON CONFLICT (platform, external_id) DO UPDATE SET"
        "   name = CASE WHEN excluded.name = '' THEN tenants.name ELSE excluded.name END,"
        "   joined_at = CASE WHEN tenants.state = 'left' THEN excluded.joined_at ELSE tenants.joined_at END,"
        "   state = 'active', left_at = NULL",
        (platform, external_id, name, utc_iso(now)),
    )
    found = await get_tenant(conn, platform, external_id)
    assert found is not None
    if before is not None and before.state == "left":
        await conn.execute(
            "UPDATE outbox SET status = 'dropped', last_error = 'destination was paused' WHERE status = 'pending'"
            " AND destination_id IN (SELECT id FROM destinations WHERE tenant_id = ? AND paused_reason = ?)",
            (found.id, LEFT_REASON),
        )
        await conn.execute(
            "UPDATE destinations SET paused_at = NULL, paused_reason = NULL, subscribed_at = ?,"
            " since_snapshot = (SELECT MAX(id) FROM snapshots) WHERE tenant_id = ? AND paused_reason = ?",
            (utc_iso(now), found.id, LEFT_REASON),
        )
    return found.id


async def tenant_left(conn: Conn, platform: str, external_id: str, now: datetime) -> None:
    """The bot was removed (Discord guild remove, Slack uninstall or revoked tokens): its channels stop at
    once, and what they queued is not sent; the settings stay until `forget_left_tenants`.

    A tenant the bot never recorded is recorded as left, so `tenants` shows that it went. Leaving twice keeps
    the first `left_at`: the grace runs from when it really left.
    """
    await conn.execute(
        "INSERT INTO tenants (platform, external_id, name, state, joined_at, left_at)"
        " VALUES (?, ?, '', 'left', ?, ?)"
        " ON CONFLICT (platform, external_id) DO UPDATE SET state = 'left',"
        "   left_at = CASE WHEN tenants.state = 'left' THEN tenants.left_at ELSE excluded.left_at END",
        (platform, external_id, utc_iso(now), utc_iso(now)),
    )
    found = await get_tenant(conn, platform, external_id)
    assert found is not None
    await conn.execute(
        "UPDATE destinations SET paused_at = ?, paused_reason = ? WHERE tenant_id = ? AND paused_at IS NULL",
        (utc_iso(now), LEFT_REASON, found.id),
    )


async def _count(conn: Conn, sql: str, params: tuple[object, ...]) -> int:
    async with conn.execute(sql, params) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def count_subscriptions(conn: Conn, tenant_id: int) -> int:
    """The tenant's subscribed channels (what `[tenants] max_subscriptions` caps)."""
    return await _count(conn, "SELECT COUNT(*) FROM destinations WHERE tenant_id = ? AND active = 1", (tenant_id,))


async def count_rules(conn: Conn, tenant_id: int, subscribed_only: bool = False) -> int:
    """The tenant's channel rules; `subscribed_only`: of subscribed channels (what `max_rules` caps: an
    unsubscribed channel keeps its rules for when it comes back, but costs nothing meanwhile)."""
    return await _count(conn, "SELECT COUNT(*) FROM channel_rules r JOIN destinations d ON d.id = r.destination_id"
                              " WHERE d.tenant_id = ?" + (" AND d.active = 1" if subscribed_only else ""), (tenant_id,))


async def count_watches(conn: Conn, tenant_id: int, subscribed_only: bool = False) -> int:
    """The tenant's watches; `subscribed_only` as for `count_rules` (what `max_watches` caps)."""
    return await _count(conn, "SELECT COUNT(*) FROM channel_watches w JOIN destinations d ON d.id = w.destination_id"
                              " WHERE d.tenant_id = ?" + (" AND d.active = 1" if subscribed_only else ""), (tenant_id,))


async def count_filters(conn: Conn, tenant_id: int) -> int:
    return await _count(conn, "SELECT COUNT(*) FROM channel_filters f JOIN destinations d ON d.id = f.destination_id"
                              " WHERE d.tenant_id = ?", (tenant_id,))


async def tenant_summaries(conn: Conn) -> list[TenantSummary]:
    """Every tenant with its counts, oldest first (one query per table, not per tenant)."""
    async with conn.execute(f"SELECT {_TENANT_COLUMNS} FROM tenants ORDER BY id") as cursor:
        tenants = [_tenant(row) for row in await cursor.fetchall()]
    counts: dict[str, dict[int, int]] = {}
    for name, sql in (
        ("channels", "SELECT tenant_id, COUNT(*) FROM destinations WHERE tenant_id IS NOT NULL AND active = 1"
                     " GROUP BY tenant_id"),
        ("rules", "SELECT d.tenant_id, COUNT(*) FROM channel_rules r JOIN destinations d ON d.id = r.destination_id"
                  " WHERE d.tenant_id IS NOT NULL GROUP BY d.tenant_id"),
        ("watches", "SELECT d.tenant_id, COUNT(*) FROM channel_watches w JOIN destinations d"
                    " ON d.id = w.destination_id WHERE d.tenant_id IS NOT NULL GROUP BY d.tenant_id"),
        ("filters", "SELECT d.tenant_id, COUNT(*) FROM channel_filters f JOIN destinations d"
                    " ON d.id = f.destination_id WHERE d.tenant_id IS NOT NULL GROUP BY d.tenant_id"),
    ):
        async with conn.execute(sql) as cursor:
            counts[name] = {int(t): int(n) for t, n in await cursor.fetchall()}
    return [TenantSummary(t, counts["channels"].get(t.id, 0), counts["rules"].get(t.id, 0),
                          counts["watches"].get(t.id, 0), counts["filters"].get(t.id, 0)) for t in tenants]


async def export_tenant(conn: Conn, tenant_id: int) -> dict[str, Any]:
    """Everything the tenant owns, as JSON-ready data: its channels (subscribed or not) with their settings.

    Built only from rows joined on this tenant's id, so nothing of another tenant can appear.
    """
    tenant = await tenant_by_id(conn, tenant_id)
    if tenant is None:
        return {}
    async with conn.execute(
        "SELECT id, channel, kinds, origin, active, subscribed_at, paused_at, paused_reason, muted_until, mention"
        " FROM destinations WHERE tenant_id = ? ORDER BY id", (tenant_id,)
    ) as cursor:
        rows = await cursor.fetchall()
    rules = await _grouped(conn, "SELECT r.destination_id, r.country, r.direction, r.threshold, r.basis"
                                 " FROM channel_rules r JOIN destinations d ON d.id = r.destination_id"
                                 " WHERE d.tenant_id = ? ORDER BY r.id", tenant_id)
    watches = await _grouped(conn, "SELECT w.destination_id, w.target_kind, w.target, w.list"
                                   " FROM channel_watches w JOIN destinations d ON d.id = w.destination_id"
                                   " WHERE d.tenant_id = ? ORDER BY w.id", tenant_id)
    filters = await _grouped(conn, "SELECT f.destination_id, f.lists, f.countries, f.tasks, f.authors, f.derivatives"
                                   " FROM channel_filters f JOIN destinations d ON d.id = f.destination_id"
                                   " WHERE d.tenant_id = ?", tenant_id)
    channels = []
    for rid, channel, kinds, origin, active, subscribed, paused_at, reason, muted, mention in rows:
        dest = int(str(rid))
        found_filter = filters.get(dest, [])
        channels.append({
            "channel": str(channel),
            "kinds": [k for k in _json_list(kinds) if k != "new_leader"],
            "origin": str(origin),
            "subscribed": bool(active),
            "subscribed_at": str(subscribed),
            "paused": str(reason) if paused_at else None,
            "muted_until": str(muted) if muted else None,
            "mention": str(mention) if mention else None,
            "rules": [{"country": str(c), "direction": str(d), "percent": int(str(t)), "basis": str(b)}
                      for c, d, t, b in rules.get(dest, [])],
            "watches": [{"kind": str(k), "target": str(t), "list": str(li)} for k, t, li in watches.get(dest, [])],
            "filter": None if not found_filter else {
                "lists": _json_list(found_filter[0][0]), "countries": _json_list(found_filter[0][1]),
                "tasks": _json_list(found_filter[0][2]), "authors": _json_list(found_filter[0][3]),
                "derivatives": bool(found_filter[0][4]),
            },
        })
    return {
        "platform": tenant.platform,
        "id": tenant.external_id,
        "name": tenant.name,
        "state": tenant.state,
        "joined_at": utc_iso(tenant.joined_at),
        "left_at": utc_iso(tenant.left_at) if tenant.left_at else None,
        "channels": channels,
        "silences": await _silences_of(conn, tenant_id),
    }


async def _silences_of(conn: Conn, tenant_id: int) -> list[dict[str, Any]]:
    """The tenant's silences (`/alerts silence`), ended ones too: who set what, when, in which channel."""
    async with conn.execute(
        "SELECT id, channel, matcher, value, created_by, created_at, ends_at, ended_at, ended_by FROM silences"
        " WHERE tenant_id = ? ORDER BY id", (tenant_id,)
    ) as cursor:
        rows = await cursor.fetchall()
    names = ("id", "channel", "matcher", "value", "created_by", "created_at", "ends_at", "ended_at", "ended_by")
    return [{name: (int(value) if name == "id" else None if value is None else str(value))
             for name, value in zip(names, row, strict=True)} for row in rows]


def _json_list(text: object) -> list[str]:
    try:
        found = json.loads(str(text))
    except ValueError:
        return []
    return [str(item) for item in found] if isinstance(found, list) else []


async def _grouped(conn: Conn, sql: str, tenant_id: int) -> dict[int, list[tuple[object, ...]]]:
    grouped: dict[int, list[tuple[object, ...]]] = {}
    async with conn.execute(sql, (tenant_id,)) as cursor:
        for row in await cursor.fetchall():
            grouped.setdefault(int(str(row[0])), []).append(tuple(row[1:]))
    return grouped


async def delete_tenant(conn: Conn, tenant_id: int) -> Removed:
    """Delete the tenant and everything it owns: its channels, their rules, filters, watches, rule states
    and outbox rows (pending ones are counted: they will never be sent). Other tenants' rows are untouched:
    every statement is keyed by this tenant's id or its channels' ids."""
    async with conn.execute("SELECT id FROM destinations WHERE tenant_id = ?", (tenant_id,)) as cursor:
        channels = [int(str(rid)) for (rid,) in await cursor.fetchall()]
    removed = Removed(
        tenants=1,
        channels=len(channels),
        rules=await count_rules(conn, tenant_id),
        watches=await count_watches(conn, tenant_id),
        filters=await count_filters(conn, tenant_id),
        pending=await _count(conn, "SELECT COUNT(*) FROM outbox o JOIN destinations d ON d.id = o.destination_id"
                                   " WHERE d.tenant_id = ? AND o.status = 'pending'", (tenant_id,)),
    )
    for dest in channels:
        await conn.execute("DELETE FROM rule_state WHERE key LIKE ?", (f"dest{dest}:%",))
    # The children by name, not only by ON DELETE CASCADE: SQLite enforces foreign keys per connection.
    for table in ("outbox", "channel_rules", "channel_watches", "channel_filters", "silenced_alerts"):
        await conn.execute(f"DELETE FROM {table} WHERE destination_id IN"
                           " (SELECT id FROM destinations WHERE tenant_id = ?)", (tenant_id,))
    await conn.execute("DELETE FROM silenced_alerts WHERE silence_id IN (SELECT id FROM silences WHERE tenant_id = ?)",
                       (tenant_id,))
    await conn.execute("DELETE FROM silences WHERE tenant_id = ?", (tenant_id,))
    await conn.execute("DELETE FROM destinations WHERE tenant_id = ?", (tenant_id,))
    cursor = await conn.execute("DELETE FROM tenants WHERE id = ?", (tenant_id,))
    return removed if cursor.rowcount == 1 else Removed()


async def forget_left_tenants(conn: Conn, now: datetime, keep: timedelta, limit: int | None = None) -> int:
    """Delete every setting of tenants that left more than `keep` ago; how many tenants were forgotten.

    `limit` forgets at most that many (those gone longest first), so a caller can keep each write
    transaction short (about 2.4 ms a tenant on SQLite) and let polls and commands in between.
    """
    async with conn.execute("SELECT id FROM tenants WHERE state = 'left' AND left_at < ? ORDER BY left_at, id"
                            + (f" LIMIT {int(limit)}" if limit is not None else ""),
                            (utc_iso(now - keep),)) as cursor:
        gone = [int(str(rid)) for (rid,) in await cursor.fetchall()]
    for tenant_id in gone:
        await delete_tenant(conn, tenant_id)
    return len(gone)
