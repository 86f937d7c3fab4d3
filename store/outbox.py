"""Alerts waiting to be sent: one row per (event, destination).

Rows are written in the same transaction as the snapshot that caused them, so
a crash between storing and sending loses nothing; a row is marked delivered
right after its send succeeds, so a restart does not send it again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.destination import Destination
from bot.domain.events import Event
from store.db import Conn, json_ids, utc_iso
from store.destinations import _COLUMNS, _row

#: PostgreSQL NOTIFY channel: alerts were queued (every deliverer LISTENs; SQLite has one deliverer, no channel).
OUTBOX_CHANNEL = "trendwatch_outbox"


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
        if conn.dialect == "postgresql":  # heard at commit (one per transaction): every deliverer wakes
            await conn.execute(f"SELECT pg_notify('{OUTBOX_CHANNEL}', '')")
    return event_id


_DESTINATION_COLUMNS = ", ".join(f"d.{column.strip()}" for column in _COLUMNS.split(","))


def _items(rows: Iterable[Sequence[Any]]) -> list[OutboxItem]:
    """Outbox rows as read with `_DESTINATION_COLUMNS`: (id, event id, attempts, unconfirmed, payload, destination…)."""
    return [
        OutboxItem(
            id=int(row[0]), event_id=int(row[1]), attempts=int(row[2]), unconfirmed=int(row[3]),
            payload=json.loads(row[4]), destination=_row(row[5:]),
        )
        for row in rows
    ]


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
    return _items(rows)


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


async def mark_sending(conn: Conn, item_id: int, now: datetime, claim: Claim | None = None) -> bool:
    """Before a post that the platform cannot deduplicate: if the process dies before the answer,
    the next start knows a copy may be out.

    With a `claim`, only while that claim still holds the row (renewed to `claim.until` in the same
    statement): False means another deliverer has it now, and this one must not post.
    """
    if claim is None:
        await conn.execute("UPDATE outbox SET unconfirmed = unconfirmed + 1, last_error = ? WHERE id = ?",
                           (f"posted {utc_iso(now)}, no answer yet", item_id))
        return True
    cursor = await conn.execute(
        "UPDATE outbox SET unconfirmed = unconfirmed + 1, last_error = ?, claimed_until = ?"
        " WHERE id = ? AND status = 'pending' AND claimed_by = ? AND claimed_until > ?",
        (f"posted {utc_iso(now)}, no answer yet", utc_iso(claim.until), item_id, claim.by, utc_iso(now)))
    return cursor.rowcount == 1


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


# Claims (migration 0013): several deliverers share one outbox. A deliverer takes whole channels (every due row
# of a destination, in order), so no two send one alert, and a channel's alerts never overtake each other. It
# renews its claims while it works; a dead one's lapse after `[delivery] claim` (at once when it was a process
# on this host that no longer exists). On PostgreSQL each channel's oldest pending row is locked `FOR NO KEY
# UPDATE SKIP LOCKED` while the channel is claimed (`_lock_free_heads`): a second deliverer skips it instead
# of waiting.


@dataclass(frozen=True, slots=True)
class Claim:
    """Whose claim (a process: host:pid:nonce) and until when it holds unless renewed."""

    by: str
    until: datetime



async def _lock_free_heads(conn: Conn, now: datetime, platforms: Sequence[str], wanted: int) -> list[int]:
    """Channels nobody holds whose oldest alert is due, oldest first: their destination ids.

    A channel's claim shows on its oldest pending row (claims cover a prefix of its queue, and are released
    whole), so that row is what is locked: on PostgreSQL `FOR NO KEY UPDATE SKIP LOCKED` skips the rows another
    deliverer is claiming this very moment, and a row another deliverer claimed since this statement's snapshot
    is checked again as it is now (PostgreSQL re-reads a locked row that changed) and left out, so the limit is
    filled with free channels, not with ones already taken.
    """
    marks = ",".join("?" * len(platforms))
    lock = " FOR NO KEY UPDATE OF o SKIP LOCKED" if conn.dialect == "postgresql" else ""
    async with conn.execute(f"""
        SELECT o.destination_id FROM outbox o
        JOIN destinations d ON d.id = o.destination_id
        WHERE o.status = 'pending' AND o.next_attempt_at <= ? AND (o.claimed_until IS NULL OR o.claimed_until <= ?)
          AND o.id = (SELECT MIN(p.id) FROM outbox p WHERE p.destination_id = o.destination_id
                      AND p.status = 'pending')
          AND d.active = 1 AND d.paused_at IS NULL AND d.platform IN ({marks})
        ORDER BY o.id
        LIMIT ?{lock}
    """, [utc_iso(now), utc_iso(now), *platforms, wanted]) as cursor:
        return [int(row[0]) for row in await cursor.fetchall()]


async def claim_due(conn: Conn, claim: Claim, now: datetime, platforms: Sequence[str],
                    destinations: int) -> list[OutboxItem]:
    """Claim up to `destinations` channels nobody holds, oldest alert first, with every due row of each.

    Due as in `due_items`: a channel's rows up to the first one not yet due. Call in a `serial=False`
    transaction on PostgreSQL: the row locks keep deliverers apart, not the writer lock.
    """
    if not platforms or destinations < 1:
        return []
    locked = await _lock_free_heads(conn, now, platforms, destinations)
    if not locked:
        return []
    # A second statement, so its snapshot is taken after the locks: it sees every claim committed before.
    async with conn.execute(f"""
        UPDATE outbox SET claimed_by = ?, claimed_until = ?
        WHERE destination_id IN ({json_ids(conn)}) AND status = 'pending'
          AND (claimed_until IS NULL OR claimed_until <= ?)
          AND NOT EXISTS (SELECT 1 FROM outbox w WHERE w.destination_id = outbox.destination_id
                          AND w.status = 'pending' AND w.id <= outbox.id AND w.next_attempt_at > ?)
        RETURNING id
    """, (claim.by, utc_iso(claim.until), json.dumps(locked), utc_iso(now), utc_iso(now))) as cursor:
        claimed = [int(row[0]) for row in await cursor.fetchall()]
    if not claimed:
        return []
    async with conn.execute(f"""
        SELECT o.id, o.event_id, o.attempts, o.unconfirmed, e.payload, {_DESTINATION_COLUMNS}
        FROM outbox o
        JOIN events e ON e.id = o.event_id
        JOIN destinations d ON d.id = o.destination_id
        WHERE o.id IN ({json_ids(conn)})
        ORDER BY o.destination_id, o.id
    """, (json.dumps(claimed),)) as cursor:
        rows = await cursor.fetchall()
    return _items(rows)


async def keep_claim(conn: Conn, item_id: int, claim: Claim, now: datetime) -> bool:
    """Right before a send that needs no mark (the platform deduplicates): still ours? Renewed if so."""
    cursor = await conn.execute(
        "UPDATE outbox SET claimed_until = ? WHERE id = ? AND status = 'pending' AND claimed_by = ?"
        " AND claimed_until > ?", (utc_iso(claim.until), item_id, claim.by, utc_iso(now)))
    return cursor.rowcount == 1


async def renew_claims(conn: Conn, claim: Claim, now: datetime) -> int:
    """Every row still claimed by `claim.by` holds until `claim.until`; a lapsed one is not taken back."""
    cursor = await conn.execute(
        "UPDATE outbox SET claimed_until = ? WHERE claimed_by = ? AND status = 'pending' AND claimed_until > ?",
        (utc_iso(claim.until), claim.by, utc_iso(now)))
    return cursor.rowcount


async def release_claims(conn: Conn, claimer: str) -> int:
    """The end of a pass: the rows it did not finish (a retry later, a channel stopped) go back to the pool."""
    cursor = await conn.execute(
        "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ? AND status = 'pending'",
        (claimer,))
    return cursor.rowcount


async def live_claimers(conn: Conn, now: datetime) -> list[str]:
    """Who holds claims that have not lapsed (a handful at most: one per deliverer)."""
    async with conn.execute("SELECT DISTINCT claimed_by FROM outbox WHERE status = 'pending' AND claimed_until > ?",
                            (utc_iso(now),)) as cursor:
        return [str(row[0]) for row in await cursor.fetchall() if row[0] is not None]
