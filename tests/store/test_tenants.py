"""Migration 0011 and store/tenants.py, on both stores: a tenant's lifecycle (joined, left and stopped at once,
back within the grace, forgotten after it) touches that tenant's rows and nothing of any other."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from store import channel_filters, outbox, tenants, watches
from store import destinations as dest_store
from store.copy import copy_store
from store.db import Conn, Database, open_database, utc_iso
from tests.conftest import T0
from tests.support.postgres import PostgresServer
from tests.support.stores import store_of

KEEP = timedelta(days=30)


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    database = await open_database(store_of(db_path))
    yield database
    await database.close()


async def settle(conn: Conn, platform: str, external: str, channel: str, name: str = "") -> int:
    """A tenant with one subscribed channel holding a rule, a watch, a filter, a rule state and a pending alert."""
    tenant_id = await tenants.tenant_joined(conn, platform, external, name or f"team {external}", T0)
    found = await dest_store.upsert_destination(conn, platform, channel, ["entered", "share"], "command", T0,
                                                tenant_id)
    await dest_store.add_channel_rule(conn, found.id, "CN", "above", 50, T0)
    await watches.add_watch(conn, found.id, "author", "deepseek-ai", "models", T0)
    await channel_filters.set_filter(conn, found.id, channel_filters.StoredFilter(("models",), ("CN",), (), (),
                                                                                  False), T0)
    await conn.execute("INSERT INTO rule_state (key, streak, firing, updated_at) VALUES (?, 1, 0, ?)",
                       (f"dest{found.id}:CN:above:50", utc_iso(T0)))
    cursor = await conn.execute("INSERT INTO events (kind, payload, created_at) VALUES ('entered', '{}', ?)",
                                (utc_iso(T0),))
    async with conn.execute("SELECT MAX(id) FROM events") as rows:
        row = await rows.fetchone()
    assert cursor is not None and row is not None
    await conn.execute("INSERT INTO outbox (event_id, destination_id, next_attempt_at, created_at)"
                       " VALUES (?, ?, ?, ?)", (int(row[0]), found.id, utc_iso(T0), utc_iso(T0)))
    return tenant_id


async def rows_of(conn: Conn, tenant_id: int) -> dict[str, Any]:
    """What a tenant owns, read straight from the tables (not through the functions under test)."""
    found: dict[str, Any] = {}
    for table in ("channel_rules", "channel_watches", "channel_filters", "outbox"):
        async with conn.execute(f"SELECT t.* FROM {table} t JOIN destinations d ON d.id = t.destination_id"
                                " WHERE d.tenant_id = ? ORDER BY 1", (tenant_id,)) as cursor:
            found[table] = [tuple(row) for row in await cursor.fetchall()]
    async with conn.execute("SELECT * FROM destinations WHERE tenant_id = ? ORDER BY id", (tenant_id,)) as cursor:
        found["destinations"] = [tuple(row) for row in await cursor.fetchall()]
    async with conn.execute("SELECT * FROM tenants WHERE id = ?", (tenant_id,)) as cursor:
        found["tenant"] = [tuple(row) for row in await cursor.fetchall()]
    return found


async def test_a_tenant_that_left_is_stopped_at_once_and_forgotten_after_the_grace_alone(db: Database):
    async with db.transaction() as conn:
        gone = await settle(conn, "discord", "1200000000000000001", "1300000000000000001")
        staying = await settle(conn, "slack", "T0STAY", "C1")
        await dest_store.upsert_destination(conn, "console", "stdout", ["entered"], "console", T0)  # the operator's
        before = await rows_of(conn, staying)
        await tenants.tenant_left(conn, "discord", "1200000000000000001", T0 + timedelta(hours=1))
    routing = await dest_store.current_routing(db.conn)
    paused = {d.platform: d.paused_reason for d in routing.destinations}
    assert paused == {"discord": "left", "slack": None, "console": None}
    due = await outbox.due_items(db.conn, T0 + timedelta(days=1), ["discord", "slack"])
    assert [item.destination.platform for item in due] == ["slack"]  # the deliverer skips the one that left

    async with db.transaction() as conn:  # leaving again does not restart the grace
        await tenants.tenant_left(conn, "discord", "1200000000000000001", T0 + timedelta(days=20))
        assert await tenants.forget_left_tenants(conn, T0 + KEEP, KEEP) == 0  # 29 days 23 hours: kept
    assert (await rows_of(db.conn, gone))["destinations"]
    async with db.transaction() as conn:
        assert await tenants.forget_left_tenants(conn, T0 + KEEP + timedelta(hours=2), KEEP) == 1
    assert await rows_of(db.conn, gone) == {"channel_rules": [], "channel_watches": [], "channel_filters": [],
                                            "outbox": [], "destinations": [], "tenant": []}
    assert await rows_of(db.conn, staying) == before
    async with db.conn.execute("SELECT key FROM rule_state ORDER BY key") as cursor:
        keys = [str(key) for (key,) in await cursor.fetchall()]
    assert len(keys) == 1 and await dest_store.get_destination(db.conn, "slack", "C1") is not None
    assert await dest_store.get_destination(db.conn, "console", "stdout") is not None
    assert await tenants.get_tenant(db.conn, "discord", "1200000000000000001") is None


async def test_a_tenant_back_within_the_grace_gets_its_channels_again_from_a_fresh_baseline(db: Database):
    async with db.transaction() as conn:
        tenant_id = await settle(conn, "slack", "T0BACK", "C9")
        await tenants.tenant_left(conn, "slack", "T0BACK", T0 + timedelta(hours=1))
        assert await tenants.tenant_joined(conn, "slack", "T0BACK", "", T0 + timedelta(days=2)) == tenant_id
    found = await tenants.get_tenant(db.conn, "slack", "T0BACK")
    assert found is not None and (found.state, found.left_at, found.name) == ("active", None, "team T0BACK")
    destination = await dest_store.get_destination(db.conn, "slack", "C9")
    assert destination is not None and destination.paused_at is None
    assert destination.subscribed_at == T0 + timedelta(days=2)
    async with db.conn.execute("SELECT status FROM outbox") as cursor:
        assert [str(s) for (s,) in await cursor.fetchall()] == ["dropped"]  # not flooded in after the absence
    async with db.transaction() as conn:
        assert await tenants.forget_left_tenants(conn, T0 + timedelta(days=400), KEEP) == 0


async def test_a_channel_paused_for_another_reason_stays_paused_when_its_tenant_comes_back(db: Database):
    async with db.transaction() as conn:
        await settle(conn, "discord", "42", "4200")
        found = await dest_store.get_destination(conn, "discord", "4200")
        assert found is not None
        await dest_store.pause_channel(conn, "discord", "4200", "Discord answered 403 Missing Access", T0)
        await tenants.tenant_left(conn, "discord", "42", T0)
        await tenants.tenant_joined(conn, "discord", "42", "back", T0 + timedelta(days=1))
    again = await dest_store.get_destination(db.conn, "discord", "4200")
    assert again is not None and again.paused_reason == "Discord answered 403 Missing Access"


async def test_summaries_export_and_delete_name_one_tenant_only(db: Database):
    async with db.transaction() as conn:
        first = await settle(conn, "discord", "7001", "71", "Alpha")
        second = await settle(conn, "slack", "T0BETA", "C2", "Beta")
        await dest_store.upsert_destination(conn, "discord", "72", ["digest"], "command", T0, first)
        await tenants.ensure_tenant(conn, "slack", "T0EMPTY", "", T0)
    summaries = {s.tenant.external_id: (s.channels, s.rules, s.watches, s.filters, s.tenant.state)
                 for s in await tenants.tenant_summaries(db.conn)}
    assert summaries == {"7001": (2, 1, 1, 1, "active"), "T0BETA": (1, 1, 1, 1, "active"),
                         "T0EMPTY": (0, 0, 0, 0, "active")}
    exported = await tenants.export_tenant(db.conn, first)
    assert (exported["platform"], exported["id"], exported["name"]) == ("discord", "7001", "Alpha")
    assert [c["channel"] for c in exported["channels"]] == ["71", "72"]
    assert exported["channels"][0]["rules"] == [{"country": "CN", "direction": "above", "percent": 50,
                                                 "basis": "top_n"}]
    assert exported["channels"][0]["watches"] == [{"kind": "author", "target": "deepseek-ai", "list": "models"}]
    assert exported["channels"][0]["filter"]["countries"] == ["CN"]
    assert "C2" not in str(exported) and "T0BETA" not in str(exported)

    for ident, expected in (("7001", first), ("discord:7001", first), ("slack:T0BETA", second), ("t0beta", None),
                            ("slack:7001", None), ("nobody", None)):
        found = await tenants.find_tenant(db.conn, ident)
        assert (found.id if found else None) == expected, ident
    beta_before = await rows_of(db.conn, second)
    async with db.transaction() as conn:
        removed = await tenants.delete_tenant(conn, first)
    assert removed == tenants.Removed(tenants=1, channels=2, rules=1, watches=1, filters=1, pending=1)
    assert await rows_of(db.conn, second) == beta_before
    assert await tenants.tenant_by_id(db.conn, first) is None
    async with db.transaction() as conn:
        assert await tenants.delete_tenant(conn, first) == tenants.Removed()


async def test_a_config_route_keeps_the_tenant_a_command_gave_its_channel(db: Database):
    async with db.transaction() as conn:
        tenant_id = await tenants.tenant_joined(conn, "discord", "9", "Nine", T0)
        await dest_store.upsert_destination(conn, "discord", "90", ["entered"], "command", T0, tenant_id)
        found = await dest_store.upsert_destination(conn, "discord", "90", ["entered"], "config", T0)
    assert found.tenant_id == tenant_id


async def test_db_copy_moves_tenants_and_who_owns_each_channel(tmp_path: Path, postgres_server: PostgresServer):
    """`python -m bot db copy`: tenants come before the channels that name them, and ids stay as they were."""
    source = await open_database(tmp_path / "source.db")
    target = await open_database(postgres_server.fresh_url())
    try:
        async with source.transaction() as conn:
            first = await settle(conn, "discord", "5", "50", "Five")
            second = await settle(conn, "slack", "T0SIX", "C6", "Six")
            await tenants.tenant_left(conn, "slack", "T0SIX", T0 + timedelta(hours=3))
        report = await copy_store(source, target, T0)
        assert report.counts["tenants"] == 2
        for tenant_id in (first, second):
            assert await tenants.export_tenant(target.conn, tenant_id) == \
                await tenants.export_tenant(source.conn, tenant_id)
        async with target.transaction() as conn:  # the identity moved past the copied ids
            assert await tenants.tenant_joined(conn, "discord", "7", "Seven", T0) > second
    finally:
        await source.close()
        await target.close()
