"""Silences (`/alerts silence`), and the alerts they held back (migration 0015).

A silence belongs to a channel (platform, channel) and to the tenant that owned the channel when it was
set (NULL: a channel no tenant owns). Commands read and end only the silences of the caller's channel
whose tenant is the channel's owner or none; fan-out reads every active one at once (a few per channel at
most, so one query per poll, not one per channel).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.domain.silence import MATCHERS, Matcher, Silence
from store.db import Conn, from_iso, json_ids, utc_iso

_COLUMNS = "id, platform, channel, matcher, value, created_by, created_at, ends_at, ended_at, ended_by, tenant_id"


def _matcher(text: str) -> Matcher:
    for matcher in MATCHERS:
        if text == matcher:
            return matcher
    raise ValueError(f"unknown silence matcher {text!r}")  # the table's CHECK keeps this from happening


def _silence(row: Sequence[Any]) -> Silence:
    return Silence(
        id=int(row[0]), platform=str(row[1]), channel=str(row[2]), matcher=_matcher(str(row[3])), value=str(row[4]),
        created_by=str(row[5]), created_at=from_iso(str(row[6])), ends_at=from_iso(str(row[7])),
        ended_at=from_iso(str(row[8])) if row[8] is not None else None,
        ended_by=str(row[9]) if row[9] is not None else None,
        tenant_id=int(row[10]) if row[10] is not None else None,
    )


async def add_silence(conn: Conn, platform: str, channel: str, tenant_id: int | None, matcher: Matcher, value: str,
                      created_by: str, now: datetime, ends_at: datetime) -> Silence:
    async with conn.execute(
        f"INSERT INTO silences (platform, channel, tenant_id, matcher, value, created_by, created_at, ends_at)"
        f" VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
        (platform, channel, tenant_id, matcher, value, created_by, utc_iso(now), utc_iso(ends_at)),
    ) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return _silence(row)


def _scope(tenant_id: int | None) -> tuple[str, tuple[Any, ...]]:
    """The silences a channel's owner may see: its own tenant's, and those set while no tenant owned it."""
    if tenant_id is None:
        return "tenant_id IS NULL", ()
    return "(tenant_id IS NULL OR tenant_id = ?)", (tenant_id,)


async def silences_of(conn: Conn, platform: str, channel: str, tenant_id: int | None, now: datetime,
                      ended_since: datetime | None = None) -> list[Silence]:
    """The channel's active silences, oldest first; with `ended_since`, also those that ended after it."""
    scope, scoped = _scope(tenant_id)
    since = utc_iso(ended_since if ended_since is not None else now)
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM silences WHERE platform = ? AND channel = ? AND {scope}"
        " AND ends_at > ? AND (ended_at IS NULL OR ended_at > ?) ORDER BY id",
        (platform, channel, *scoped, since, since),
    ) as cursor:
        return [_silence(row) for row in await cursor.fetchall()]


async def end_silence(conn: Conn, silence_id: int, platform: str, channel: str, tenant_id: int | None,
                      ended_by: str, now: datetime) -> Silence | None:
    """End one active silence of this channel (and scope) now; None when there is no such active silence."""
    scope, scoped = _scope(tenant_id)
    async with conn.execute(
        f"UPDATE silences SET ended_at = ?, ended_by = ? WHERE id = ? AND platform = ? AND channel = ? AND {scope}"
        f" AND ended_at IS NULL AND ends_at > ? RETURNING {_COLUMNS}",
        (utc_iso(now), ended_by, silence_id, platform, channel, *scoped, utc_iso(now)),
    ) as cursor:
        row = await cursor.fetchone()
    return _silence(row) if row is not None else None


async def find_silence(conn: Conn, silence_id: int, platform: str, channel: str,
                       tenant_id: int | None) -> Silence | None:
    """A silence of this channel and scope, active or not (to say why an unsilence did nothing)."""
    scope, scoped = _scope(tenant_id)
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM silences WHERE id = ? AND platform = ? AND channel = ? AND {scope}",
        (silence_id, platform, channel, *scoped),
    ) as cursor:
        row = await cursor.fetchone()
    return _silence(row) if row is not None else None


async def active_for_channels(conn: Conn, now: datetime) -> dict[tuple[str, str], list[Silence]]:
    """Every active silence by (platform, channel), oldest first: what fan-out holds alerts back with."""
    found: dict[tuple[str, str], list[Silence]] = {}
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM silences WHERE ended_at IS NULL AND ends_at > ? ORDER BY id", (utc_iso(now),)
    ) as cursor:
        for row in await cursor.fetchall():
            silence = _silence(row)
            found.setdefault((silence.platform, silence.channel), []).append(silence)
    return found


async def record_silenced(conn: Conn, event_id: int, held: Sequence[tuple[int, int]], now: datetime) -> None:
    """(destination id, silence id) pairs that did not get `event_id` because a silence held it back.

    Written in the poll's transaction beside the outbox rows, so a held-back alert is stored exactly once."""
    if not held:
        return
    rows = json.dumps([[destination_id, silence_id] for destination_id, silence_id in held])
    if conn.dialect == "sqlite":
        source = ("SELECT CAST(json_extract(value, '$[0]') AS INTEGER), CAST(json_extract(value, '$[1]') AS INTEGER)"
                  " FROM json_each(?)")
    else:
        source = ("SELECT CAST(value->>0 AS BIGINT), CAST(value->>1 AS BIGINT)"
                  " FROM json_array_elements(CAST(? AS json))")
    await conn.execute(
        f"INSERT INTO silenced_alerts (event_id, destination_id, silence_id, created_at)"
        f" SELECT CAST(? AS BIGINT), pairs.*, CAST(? AS TEXT) FROM ({source}) AS pairs",
        (event_id, utc_iso(now), rows),
    )


async def held_counts(conn: Conn, silence_ids: Sequence[int]) -> dict[int, int]:
    """How many alerts (one per held-back message and subscription) each silence held back."""
    if not silence_ids:
        return {}
    async with conn.execute(
        f"SELECT silence_id, COUNT(*) FROM silenced_alerts WHERE silence_id IN ({json_ids(conn)}) GROUP BY silence_id",
        (json.dumps(list(silence_ids)),),
    ) as cursor:
        return {int(silence_id): int(count) for silence_id, count in await cursor.fetchall()}


async def channel_owners(conn: Conn, platform: str, channel: str) -> list[tuple[int | None, bool]]:
    """(tenant id, active) of each subscription of a channel: whose it is, and whether anything is sent there."""
    async with conn.execute(
        "SELECT tenant_id, active FROM destinations WHERE platform = ? AND channel = ? ORDER BY id",
        (platform, channel),
    ) as cursor:
        return [(int(tenant) if tenant is not None else None, bool(active)) for tenant, active in
                await cursor.fetchall()]
