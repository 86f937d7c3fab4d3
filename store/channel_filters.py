"""A channel's filters (`[[routes]]` filter keys, `/alerts filter`): stored per destination, read each poll."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from store.db import Conn, utc_iso


@dataclass(frozen=True, slots=True)
class StoredFilter:
    lists: tuple[str, ...]
    countries: tuple[str, ...]
    tasks: tuple[str, ...]
    authors: tuple[str, ...]
    derivatives: bool


def _strings(text: object) -> tuple[str, ...]:
    try:
        found = json.loads(str(text))
    except ValueError:
        return ()
    return tuple(item for item in found if isinstance(item, str)) if isinstance(found, list) else ()


async def all_filters(conn: Conn) -> dict[int, StoredFilter]:
    async with conn.execute(
        "SELECT destination_id, lists, countries, tasks, authors, derivatives FROM channel_filters"
    ) as cursor:
        rows = await cursor.fetchall()
    return {
        int(dest): StoredFilter(_strings(lists), _strings(countries), _strings(tasks), _strings(authors), bool(der))
        for dest, lists, countries, tasks, authors, der in rows
    }


async def filter_of(conn: Conn, destination_id: int) -> StoredFilter | None:
    return (await all_filters(conn)).get(destination_id)


async def set_filter(conn: Conn, destination_id: int, stored: StoredFilter, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO channel_filters (destination_id, lists, countries, tasks, authors, derivatives, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (destination_id) DO UPDATE SET lists = excluded.lists,"
        " countries = excluded.countries, tasks = excluded.tasks, authors = excluded.authors,"
        " derivatives = excluded.derivatives, updated_at = excluded.updated_at",
        (destination_id, json.dumps(list(stored.lists)), json.dumps(list(stored.countries)),
         json.dumps(list(stored.tasks)), json.dumps(list(stored.authors)), int(stored.derivatives), utc_iso(now)),
    )


async def clear_filter(conn: Conn, destination_id: int) -> bool:
    cursor = await conn.execute("DELETE FROM channel_filters WHERE destination_id = ?", (destination_id,))
    return cursor.rowcount == 1


async def sync_route_filters(
    conn: Conn, routes: Sequence[tuple[str, str, str, StoredFilter | None]], now: datetime
) -> None:
    """Config routes that set filter keys write them at start; routes that set none keep what commands set.

    Each route is (platform, channel, subscription name, filter): one channel's subscriptions filter apart.
    """
    for platform, channel, name, stored in routes:
        if stored is None:
            continue
        async with conn.execute(
            "SELECT id FROM destinations WHERE platform = ? AND channel = ? AND name = ?", (platform, channel, name)
        ) as cursor:
            row = await cursor.fetchone()
        if row is not None:
            await set_filter(conn, int(row[0]), stored, now)
