"""The outbox's two keys (its event, its destination) hold on both stores, checked per statement on PostgreSQL.

An alert to 10,000 channels writes 10,000 outbox rows at once; a PostgreSQL
FOREIGN KEY would check them with one query per row (most of a poll's time
budget), so there the keys are kept by statement-level triggers: the same
rules, one check for all the rows a statement wrote.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from store.db import Database, open_database
from tests.support.stores import store_of

STAMP = "2025-07-21T00:00:00.000000Z"
FOREIGN_KEY = re.compile(r"(?i)foreign key")


async def destinations(db: Database, count: int) -> list[int]:
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO destinations (platform, channel, kinds, origin, subscribed_at) VALUES (?, ?, ?, ?, ?)",
            [("slack", f"C{n:05d}", '["entry"]', "config", STAMP) for n in range(count)])
        rows = await (await conn.execute("SELECT id FROM destinations ORDER BY id")).fetchall()
    return [int(row[0]) for row in rows]


async def an_event(db: Database) -> int:
    async with db.transaction() as conn:
        row = await (await conn.execute(
            "INSERT INTO events (kind, payload, created_at) VALUES ('entry', '{}', ?) RETURNING id", (STAMP,)
        )).fetchone()
    assert row is not None
    return int(row[0])


async def outbox_rows(db: Database) -> list[tuple[int, int]]:
    rows = await (await db.conn.execute("SELECT event_id, destination_id FROM outbox ORDER BY id")).fetchall()
    return [(int(event), int(destination)) for event, destination in rows]


async def test_an_outbox_row_needs_its_event_and_its_destination(db_path: Path):
    db = await open_database(store_of(db_path))
    try:
        channels = await destinations(db, 3)
        event = await an_event(db)
        with pytest.raises(Exception, match=FOREIGN_KEY):
            async with db.transaction() as conn:
                await conn.execute(
                    "INSERT INTO outbox (event_id, destination_id, next_attempt_at, created_at) VALUES (?, ?, ?, ?)",
                    (event, max(channels) + 1, STAMP, STAMP))
        with pytest.raises(Exception, match=FOREIGN_KEY):
            async with db.transaction() as conn:
                await conn.execute(
                    "INSERT INTO outbox (event_id, destination_id, next_attempt_at, created_at)"
                    " SELECT ?, id, ?, ? FROM destinations", (event + 1, STAMP, STAMP))
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO outbox (event_id, destination_id, next_attempt_at, created_at)"
                " SELECT ?, id, ?, ? FROM destinations", (event, STAMP, STAMP))
        with pytest.raises(Exception, match=FOREIGN_KEY):
            async with db.transaction() as conn:
                await conn.execute("UPDATE outbox SET destination_id = ? WHERE destination_id = ?",
                                   (max(channels) + 1, channels[0]))
        with pytest.raises(Exception, match=FOREIGN_KEY):
            async with db.transaction() as conn:
                await conn.execute("UPDATE destinations SET id = ? WHERE id = ?", (max(channels) + 1, channels[0]))
        assert await outbox_rows(db) == [(event, channel) for channel in channels]
    finally:
        await db.close()


async def test_deleting_an_event_or_a_destination_deletes_its_outbox_rows(db_path: Path):
    db = await open_database(store_of(db_path))
    try:
        channels = await destinations(db, 3)
        first, second = await an_event(db), await an_event(db)
        async with db.transaction() as conn:
            for event in (first, second):
                await conn.execute(
                    "INSERT INTO outbox (event_id, destination_id, next_attempt_at, created_at)"
                    " SELECT ?, id, ?, ? FROM destinations", (event, STAMP, STAMP))
        async with db.transaction() as conn:
            await conn.execute("DELETE FROM destinations WHERE id = ?", (channels[1],))
        assert await outbox_rows(db) == [(first, channels[0]), (first, channels[2]),
                                         (second, channels[0]), (second, channels[2])]
        async with db.transaction() as conn:
            await conn.execute("DELETE FROM events WHERE id = ?", (first,))
        assert await outbox_rows(db) == [(second, channels[0]), (second, channels[2])]
    finally:
        await db.close()


async def test_postgresql_checks_an_outbox_insert_once_not_once_per_row(db_path: Path, store_backend: str):
    """A FOREIGN KEY's check triggers run once per row written (RI_FKey_check_ins): none may remain on outbox."""
    if store_backend != "postgresql":
        pytest.skip("SQLite checks a foreign key inside the statement, with no trigger call per row")
    db = await open_database(store_of(db_path))
    try:
        rows = await (await db.conn.execute(
            "SELECT t.tgname, p.proname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid"
            " WHERE t.tgrelid = CAST('outbox' AS regclass) AND p.proname LIKE 'RI_FKey_check%'")).fetchall()
        assert rows == []
    finally:
        await db.close()
