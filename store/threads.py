"""Where each model was announced to a subscription (migration 0016), so follow-ups about it can reply there.

An anchor is a platform's handle on the message that announced a model: a Slack message's `ts`, or the
Discord forum post (a thread id) made for it. It is recorded in the transaction that marks the announcing
delivery done, so an anchor exists only for a message that is out; a model announced again (it left and came
back) points at the newer message. A subscription's `threads` setting ('off' | 'on' | 'broadcast') is kept
on its destination row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from bot.domain.destination import DEFAULT_SUBSCRIPTION
from store.db import Conn, json_texts, utc_iso

THREAD_MODES = ("off", "on", "broadcast")


class ThreadedRoute(Protocol):
    """A `[[routes]]` entry as far as threads go (config's `Route`; the store does not import config)."""

    @property
    def platform(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def threads(self) -> str: ...


async def record_anchor(conn: Conn, destination_id: int, list_name: str, item_ids: Iterable[str], anchor: str,
                        outbox_id: int | None, now: datetime) -> None:
    """Every model in `item_ids` (of list `list_name`) now replies to `anchor`; one statement for all of them."""
    ids = sorted(set(item_ids))
    if not ids:
        return
    each = json_texts(conn)
    await conn.execute(
        "INSERT INTO threads (destination_id, list, item_id, anchor, outbox_id, created_at)"
        f" SELECT CAST(? AS BIGINT), CAST(? AS TEXT), CAST(value AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT),"
        f" CAST(? AS TEXT) FROM ({each}) AS ids WHERE true"  # WHERE: SQLite reads ON CONFLICT as a join without it
        " ON CONFLICT (destination_id, list, item_id) DO UPDATE SET anchor = excluded.anchor,"
        " outbox_id = excluded.outbox_id, created_at = excluded.created_at",
        (destination_id, list_name, anchor, outbox_id, utc_iso(now), json.dumps(ids)),
    )


async def anchors_for(conn: Conn, destination_id: int, list_name: str, item_ids: Iterable[str]) -> dict[str, str]:
    """The anchor of each of `item_ids` that has one (a model never announced here is left out)."""
    ids = sorted(set(item_ids))
    if not ids:
        return {}
    each = json_texts(conn)
    async with conn.execute(
        f"SELECT item_id, anchor FROM threads WHERE destination_id = ? AND list = ? AND item_id IN ({each})",
        (destination_id, list_name, json.dumps(ids)),
    ) as cursor:
        return {str(item): str(anchor) for item, anchor in await cursor.fetchall()}


async def anchor_for(conn: Conn, destination_id: int, list_name: str, item_id: str) -> str | None:
    """The anchor of one model, or None when it was never announced to this subscription."""
    return (await anchors_for(conn, destination_id, list_name, [item_id])).get(item_id)


async def set_mode(conn: Conn, destination_id: int, mode: str) -> None:
    """`/alerts threads on|off|broadcast`: how this subscription's follow-ups travel."""
    if mode not in THREAD_MODES:
        raise ValueError(f"threads must be one of {', '.join(THREAD_MODES)}, not {mode!r}")
    await conn.execute("UPDATE destinations SET threads = ? WHERE id = ?", (mode, destination_id))



async def sync_route_threads(conn: Conn, routes: Sequence[ThreadedRoute]) -> None:
    """A configured route's `threads` is its subscription's setting, as its kinds are: the config decides."""
    for route in routes:
        await conn.execute(
            "UPDATE destinations SET threads = ? WHERE platform = ? AND channel = ? AND name = ? AND threads != ?",
            (route.threads, route.platform, route.channel, str(getattr(route, "name", DEFAULT_SUBSCRIPTION)),
             route.threads))
