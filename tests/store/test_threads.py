"""Anchors of announced models (store/threads.py) on both stores: recorded, found, replaced, per subscription."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from store import destinations as dest_store
from store import threads
from store.db import open_database
from tests.support.stores import store_of

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


async def test_an_anchor_is_found_for_each_announced_model_and_replaced_by_a_newer_announcement(db_path: Path):
    db = await open_database(store_of(db_path))
    try:
        async with db.transaction() as conn:
            china = await dest_store.upsert_destination(conn, "slack", "C1", ["entered"], "command", NOW)
            other = await dest_store.upsert_destination(conn, "slack", "C1", ["entered"], "command", NOW,
                                                        name="china")
            await threads.record_anchor(conn, china.id, "models", ["a/one", "b/two", "a/one"], "111.000001", 7, NOW)
        conn = db.conn
        assert await threads.anchors_for(conn, china.id, "models", ["a/one", "b/two", "c/three"]) == {
            "a/one": "111.000001", "b/two": "111.000001"}
        assert await threads.anchor_for(conn, china.id, "models", "c/three") is None
        assert await threads.anchor_for(conn, other.id, "models", "a/one") is None  # per subscription
        assert await threads.anchor_for(conn, china.id, "datasets", "a/one") is None  # per list

        async with db.transaction() as conn:  # a/one left and came back: the newer message is its anchor
            await threads.record_anchor(conn, china.id, "models", ["a/one"], "222.000002", 9, NOW)
        assert await threads.anchors_for(db.conn, china.id, "models", ["a/one", "b/two"]) == {
            "a/one": "222.000002", "b/two": "111.000001"}
        rows = await (await db.conn.execute(
            "SELECT item_id, outbox_id FROM threads ORDER BY item_id")).fetchall()
        assert [(str(item), int(outbox)) for item, outbox in rows] == [("a/one", 9), ("b/two", 7)]
    finally:
        await db.close()


async def test_the_threads_setting_is_kept_per_subscription_and_checked(db_path: Path):
    db = await open_database(store_of(db_path))
    try:
        async with db.transaction() as conn:
            found = await dest_store.upsert_destination(conn, "slack", "C2", ["entered"], "command", NOW)
            assert found.threads == "off"
            await threads.set_mode(conn, found.id, "broadcast")
        again = await dest_store.get_destination(db.conn, "slack", "C2")
        assert again is not None and again.threads == "broadcast"
        with pytest.raises(ValueError, match="threads must be one of"):
            await threads.set_mode(db.conn, found.id, "sometimes")
    finally:
        await db.close()


async def test_nothing_to_record_or_look_up_costs_nothing(db_path: Path):
    db = await open_database(store_of(db_path))
    try:
        async with db.transaction() as conn:
            found = await dest_store.upsert_destination(conn, "discord", "9", ["entered"], "command", NOW)
            await threads.record_anchor(conn, found.id, "models", [], "1", None, NOW)
        assert await threads.anchors_for(db.conn, found.id, "models", []) == {}
        assert await (await db.conn.execute("SELECT COUNT(*) FROM threads")).fetchone() == (0,)
    finally:
        await db.close()
