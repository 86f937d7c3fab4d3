"""Migration 0014 (a destination is one named subscription of a channel) on a store at schema 13.

SQLite cannot change a UNIQUE constraint in place, so 0014 rebuilds `destinations` with foreign keys off:
a rebuild that dropped the parent with them on would cascade into outbox, rules, filters and watches, and one
that renamed carelessly would leave the children pointing at a table that no longer exists. The store here is
made by the migration files 0001-0013 themselves and rows in their shape; after the real runner applied the
rest, every child row is still there with the same ids, every old channel is its subscription 'default', the
foreign keys still hold (a row pointing nowhere is refused, deleting a subscription takes its rows), and a
channel can now hold a second subscription under another name, but not two of one name.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from store import destinations as dest_store
from store.db import Conn, Database, migrations, open_database, utc_iso
from tests.conftest import T0
from tests.support.schema6 import open_unmigrated
from tests.support.stores import store_of

STAMP = utc_iso(T0)
CHILD_TABLES = ("outbox", "channel_rules", "channel_filters", "channel_watches")


async def build_schema13(target: Path | str) -> None:
    """Migrations 0001-0013 as the loader applied them, then two channels with every kind of child row."""
    db = await open_unmigrated(target)
    try:
        for number, _name, sql in migrations(db.dialect)[:13]:
            if db.dialect == "sqlite":
                await db.script(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
            else:
                await db.script(f"BEGIN;\nCREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);\n"
                                f"{sql}\nINSERT INTO schema_version (version) VALUES ({number});\nCOMMIT;")
        async with db.transaction() as conn:
            await _rows(conn)
    finally:
        await db.close()


async def _rows(conn: Conn) -> None:
    await conn.execute("INSERT INTO tenants (id, platform, external_id, name, joined_at)"
                       " VALUES (7, 'discord', '4242', 'China desk', ?)", (STAMP,))
    await conn.execute(
        "INSERT INTO destinations (id, platform, channel, kinds, origin, active, subscribed_at, since_snapshot,"
        " mention, tenant_id) VALUES (3, 'discord', '111', ?, 'command', 1, ?, NULL, '555', 7),"
        " (5, 'slack', 'C9', ?, 'config', 1, ?, NULL, NULL, NULL)",
        (json.dumps(["entered", "new_leader"]), STAMP, json.dumps(["share"]), STAMP))
    await conn.execute("INSERT INTO events (id, snapshot_id, kind, payload, created_at)"
                       " VALUES (1, NULL, 'share', '{}', ?)", (STAMP,))
    await conn.execute("INSERT INTO outbox (id, event_id, destination_id, next_attempt_at, created_at)"
                       " VALUES (10, 1, 3, ?, ?), (11, 1, 5, ?, ?)", (STAMP, STAMP, STAMP, STAMP))
    await conn.execute("INSERT INTO channel_rules (id, destination_id, country, direction, threshold, created_at)"
                       " VALUES (20, 3, 'CN', 'above', 60, ?), (21, 5, 'US', 'below', 20, ?)", (STAMP, STAMP))
    await conn.execute("INSERT INTO channel_filters (destination_id, lists, countries, tasks, authors, derivatives,"
                       " updated_at) VALUES (3, '[\"models\"]', '[\"CN\"]', '[]', '[]', 1, ?),"
                       " (5, '[\"models\"]', '[]', '[]', '[]', 0, ?)", (STAMP, STAMP))
    await conn.execute("INSERT INTO channel_watches (id, destination_id, target_kind, target, list, created_at)"
                       " VALUES (30, 3, 'author', 'deepseek-ai', 'models', ?), (31, 5, 'model', 'a/b', 'models', ?)",
                       (STAMP, STAMP))
    if conn.dialect == "postgresql":
        for table in ("tenants", "destinations", "events", "outbox", "channel_rules", "channel_watches"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")


async def children(db: Database) -> dict[str, list[int]]:
    """Which destination each child row belongs to, by table, in id order."""
    found = {}
    for table in CHILD_TABLES:
        key = "destination_id" if table == "channel_filters" else "id"
        async with db.conn.execute(f"SELECT destination_id FROM {table} ORDER BY {key}") as cursor:
            found[table] = [int(row[0]) for row in await cursor.fetchall()]
    return found


@pytest.fixture
async def migrated(db_path: Path, store_backend: str) -> Database:
    await build_schema13(store_of(db_path))
    return await open_database(store_of(db_path))


async def test_every_child_row_stays_with_its_channel_now_named_default(migrated: Database) -> None:
    db = migrated
    try:
        assert await children(db) == {"outbox": [3, 5], "channel_rules": [3, 5], "channel_filters": [3, 5],
                                      "channel_watches": [3, 5]}
        china = await dest_store.get_destination(db.conn, "discord", "111")
        assert china is not None and (china.id, china.name, china.mention, china.tenant_id) == (3, "default", "555", 7)
        assert china.kinds == ("entered", "new_leader")
        slack = await dest_store.get_destination(db.conn, "slack", "C9", "default")
        assert slack is not None and slack.id == 5 and slack.origin == "config"
        async with db.conn.execute("SELECT id, status FROM outbox ORDER BY id") as cursor:
            assert [(int(i), str(s)) for i, s in await cursor.fetchall()] == [(10, "pending"), (11, "pending")]
    finally:
        await db.close()


async def test_foreign_keys_still_hold_after_the_rebuild(migrated: Database) -> None:
    db = migrated
    try:
        with pytest.raises(Exception, match=r"(?i)foreign key"):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO channel_rules (destination_id, country, direction, threshold,"
                                   " created_at) VALUES (999, 'CN', 'above', 50, ?)", (STAMP,))
        with pytest.raises(Exception, match=r"(?i)foreign key"):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO outbox (event_id, destination_id, next_attempt_at, created_at)"
                                   " VALUES (1, 999, ?, ?)", (STAMP, STAMP))
        async with db.transaction() as conn:  # the children follow the rebuilt table: a delete cascades into them
            await conn.execute("DELETE FROM destinations WHERE id = 3")
        assert await children(db) == {"outbox": [5], "channel_rules": [5], "channel_filters": [5],
                                      "channel_watches": [5]}
    finally:
        await db.close()


async def test_a_channel_takes_a_second_subscription_by_name_but_not_a_second_of_one_name(migrated: Database) -> None:
    db = migrated
    try:
        async with db.transaction() as conn:
            second = await dest_store.upsert_destination(conn, "discord", "111", ["digest"], "command", T0, 7,
                                                         name="weekly")
        assert second.id != 3 and second.name == "weekly"
        listed = await dest_store.channel_destinations(db.conn, "discord", "111")
        assert [(d.id, d.name) for d in listed] == [(3, "default"), (second.id, "weekly")]
        with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
            async with db.transaction() as conn:
                await conn.execute(
                    "INSERT INTO destinations (platform, channel, kinds, origin, active, subscribed_at, name)"
                    " VALUES ('discord', '111', '[]', 'command', 1, ?, 'weekly')", (STAMP,))
    finally:
        await db.close()
