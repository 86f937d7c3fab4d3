"""Alerts waiting to be sent: one row per (event, destination).

Rows are written in the same transaction as the snapshot that caused them, so
a crash between storing and sending loses nothing; a row is marked delivered
right after its send succeeds, so a restart does not send it again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.destination import Destination
from bot.domain.events import Event
from store.db import Conn, utc_iso
from store.destinations import _COLUMNS, _row


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    event_id: int
    attempts: int
    payload: dict[str, Any]
    destination: Destination
    unconfirmed: int = 0  # earlier posts of this row whose outcome is unknown (sent, no answer)

    @property
    def key(self) -> str:
        """Stable per (event, destination): a send nonce that survives restarts."""
        return f"tw-{self.event_id}-{self.destination.id}"


async def add_event(
    conn: Conn, event: Event, snapshot_id: int | None, destination_ids: Sequence[int], now: datetime
) -> int:
    cursor = await conn.execute(
        "INSERT INTO events (snapshot_id, kind, payload, created_at) VALUES (?, ?, ?, ?) RETURNING id",
        (snapshot_id, event.kind, json.dumps(event.to_payload()), utc_iso(now)),
    )
    row = await cursor.fetchone()
    assert row is not None
    event_id = int(row[0])
    if destination_ids:
        # One statement for every channel (ids as one JSON array): 10,000 rows cost one round trip.
        stamp = utc_iso(now)
        await conn.execute(
            "INSERT INTO outbox (event_id, destination_id, next_attempt_at, created_at)"
            " SELECT CAST(? AS BIGINT), CAST(value AS BIGINT), CAST(? AS TEXT), CAST(? AS TEXT)"
            + (" FROM json_each(?) ORDER BY key" if conn.dialect == "sqlite" else
               " FROM json_array_elements_text(CAST(? AS json)) WITH ORDINALITY AS ids (value, key) ORDER BY key"),
            (event_id, stamp, stamp, json.dumps(list(destination_ids))),
        )
    return event_id


_DESTINATION_COLUMNS = ", ".join(f"d.{column.strip()}" for column in _COLUMNS.split(","))


async def due_items(
    conn: Conn, now: datetime, platforms: Sequence[str], limit: int = 5000
) -> list[OutboxItem]:
    """Pending rows of active, unpaused destinations on the given platforms, oldest first.

    A destination whose oldest pending row is not yet due is skipped whole, so
    alerts to one channel never overtake each other.
    """
    if not platforms:
        return []
    marks = ",".join("?" * len(platforms))
    query = f"""
        SELECT o.id, o.event_id, o.attempts, o.unconfirmed, e.payload, {_DESTINATION_COLUMNS}
        FROM outbox o
        JOIN events e ON e.id = o.event_id
        JOIN destinations d ON d.id = o.destination_id
        WHERE o.status = 'pending' AND d.active = 1 AND d.paused_at IS NULL AND d.platform IN ({marks})
          AND NOT EXISTS (
              SELECT 1 FROM outbox w
              WHERE w.destination_id = o.destination_id AND w.status = 'pending'
                AND w.id <= o.id AND w.next_attempt_at > ?)
        ORDER BY o.destination_id, o.id
        LIMIT ?
    """
    async with conn.execute(query, [*platforms, utc_iso(now), limit]) as cursor:
        rows = await cursor.fetchall()
    return [
        OutboxItem(
            id=int(row[0]), event_id=int(row[1]), attempts=int(row[2]), unconfirmed=int(row[3]),
            payload=json.loads(row[4]), destination=_row(row[5:]),
        )
        for row in rows
    ]


async def mark_delivered(conn: Conn, item_id: int, now: datetime) -> None:
    await conn.execute(
        "UPDATE outbox SET status = 'delivered', delivered_at = ?, attempts = attempts + 1, last_error = NULL"
        " WHERE id = ?",
        (utc_iso(now), item_id),
    )


async def mark_retry(conn: Conn, item_id: int, error: str, next_attempt: datetime) -> None:
    await conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
        (error[:500], utc_iso(next_attempt), item_id),
    )


async def mark_rejected(conn: Conn, item_id: int, error: str) -> None:
    """Kept, not deleted: the row and its reason stay for whoever investigates the rendering."""
    await conn.execute(
        "UPDATE outbox SET status = 'dropped', attempts = attempts + 1, last_error = ? WHERE id = ?",
        (f"rejected: {error}"[:500], item_id),
    )


async def counts(conn: Conn) -> dict[str, int]:
    async with conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status") as cursor:
        return {str(status): int(n) for status, n in await cursor.fetchall()}


async def prune(conn: Conn, older_than: datetime, batch: int = 2000) -> int:
    """Delete up to `batch` delivered or dropped rows created before `older_than`; pending rows stay.

    Rows are written in time order, so the rows to prune are those below the first id created
    at or after the cut: the walk stops there and costs what is left to prune, not the table.
    Returns how many rows went, so a caller can come back for the rest.
    """
    async with conn.execute(
        "SELECT id FROM outbox WHERE created_at >= ? ORDER BY id LIMIT 1", (utc_iso(older_than),)
    ) as cursor:
        row = await cursor.fetchone()
    cut = int(row[0]) if row else None
    cursor = await conn.execute(
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE status != 'pending'"
        + (" AND id < ?" if cut is not None else " AND created_at < ?") + " ORDER BY id LIMIT ?)",
        (cut if cut is not None else utc_iso(older_than), batch),
    )
    return cursor.rowcount


# Posts whose outcome is unknown (sent, then no answer: a timeout, a dropped connection, a crash) are
# counted in the row's `unconfirmed` column (migration 0006), so a platform without a send nonce can
# check before posting again, and never posts a third time.


async def mark_sending(conn: Conn, item_id: int, now: datetime) -> None:
    """Before a post that the platform cannot deduplicate: if the process dies before the answer,
    the next start knows a copy may be out."""
    await conn.execute("UPDATE outbox SET unconfirmed = unconfirmed + 1, last_error = ? WHERE id = ?",
                       (f"posted {utc_iso(now)}, no answer yet", item_id))


async def mark_unsent(conn: Conn, item_id: int, error: str) -> None:
    """The platform answered that this post did not go out: undo its `mark_sending`."""
    await conn.execute(
        "UPDATE outbox SET unconfirmed = CASE WHEN unconfirmed > 0 THEN unconfirmed - 1 ELSE 0 END, last_error = ?"
        " WHERE id = ?", (error[:500], item_id))


async def mark_assumed_delivered(conn: Conn, item_id: int, now: datetime, note: str) -> None:
    """Delivered as far as anyone can tell (posted, never confirmed, not to be posted again); the note says so."""
    await conn.execute(
        "UPDATE outbox SET status = 'delivered', delivered_at = ?, attempts = attempts + 1, last_error = ?"
        " WHERE id = ?",
        (utc_iso(now), note[:500], item_id),
    )
