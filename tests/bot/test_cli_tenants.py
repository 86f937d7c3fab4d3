"""`python -m bot tenants` as an operator runs it, on both stores: list, export one tenant's data, delete one."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from store import channel_filters, tenants, watches
from store import destinations as dest_store
from store.db import open_database
from tests.conftest import T0
from tests.fakes.hub import FakeHub
from tests.support.cli import bot, write_config
from tests.support.stores import store_of


async def two_tenants(db_path: Path) -> None:
    db = await open_database(store_of(db_path))
    try:
        async with db.transaction() as conn:
            alpha = await tenants.tenant_joined(conn, "discord", "1200000000000000001", "Alpha", T0)
            first = await dest_store.upsert_destination(conn, "discord", "1300000000000000001", ["share"], "command",
                                                        T0, alpha)
            await dest_store.add_channel_rule(conn, first.id, "CN", "above", 50, T0)
            await dest_store.add_channel_rule(conn, first.id, "US", "below", 20, T0)
            await watches.add_watch(conn, first.id, "author", "deepseek-ai", "models", T0)
            beta = await tenants.tenant_joined(conn, "slack", "T0BETA", "beta", T0)
            other = await dest_store.upsert_destination(conn, "slack", "C9", ["entered"], "command", T0, beta)
            await channel_filters.set_filter(conn, other.id, channel_filters.StoredFilter(
                ("models",), ("FR",), (), (), True), T0)
            await tenants.tenant_left(conn, "slack", "T0BETA", T0 + timedelta(days=1))
    finally:
        await db.close()


async def test_tenants_lists_exports_and_deletes_one_tenant(fake_hub: FakeHub, db_path: Path, tmp_path: Path):
    config = str(write_config(tmp_path / "c.toml", fake_hub, db_path))
    empty = await bot("tenants", "--config", config)
    assert (empty.code, empty.out.strip()) == (0, "no server or workspace has used the bot")
    await two_tenants(db_path)

    listed = await bot("tenants", "--config", config)
    assert listed.code == 0 and listed.err == ""
    assert listed.out.splitlines() == [
        "discord:1200000000000000001  Alpha  1 channel(s), 2 rule(s), 1 watch(es)  active",
        "slack:T0BETA  beta  1 channel(s), 0 rule(s), 0 watch(es)  LEFT 2025-07-22 00:00 UTC",
    ]
    as_json = json.loads((await bot("tenants", "--json", "--config", config)).out)
    assert [(t["id"], t["state"], t["filters"]) for t in as_json] == [("1200000000000000001", "active", 0),
                                                                      ("T0BETA", "left", 1)]

    exported = await bot("tenants", "export", "T0BETA", "--config", config)
    assert exported.code == 0
    data = json.loads(exported.out)
    assert (data["platform"], data["id"], data["state"]) == ("slack", "T0BETA", "left")
    assert [c["channel"] for c in data["channels"]] == ["C9"]
    assert data["channels"][0]["paused"] == "left" and data["channels"][0]["filter"]["countries"] == ["FR"]
    assert "1300000000000000001" not in exported.out and "deepseek" not in exported.out

    deleted = await bot("tenants", "delete", "discord:1200000000000000001", "--config", config)
    assert deleted.code == 0 and deleted.out.splitlines() == [
        "discord:1200000000000000001 removed: 1 channel(s), 2 rule(s), 1 watch(es), 0 filter(s),"
        " 0 undelivered alert(s)"]
    after = await bot("tenants", "--config", config)
    assert after.out.splitlines() == ["slack:T0BETA  beta  1 channel(s), 0 rule(s), 0 watch(es)"
                                      "  LEFT 2025-07-22 00:00 UTC"]
    assert json.loads((await bot("tenants", "export", "T0BETA", "--config", config)).out) == data


async def test_an_unknown_or_missing_id_is_one_line(fake_hub: FakeHub, db_path: Path, tmp_path: Path):
    config = str(write_config(tmp_path / "c.toml", fake_hub, db_path))
    await two_tenants(db_path)
    for args, said in [
        (("export", "T0NOBODY"), "trendwatch: no server or workspace 'T0NOBODY' (see `python -m bot tenants`)"),
        (("delete", "slack:1200000000000000001"),
         "trendwatch: no server or workspace 'slack:1200000000000000001' (see `python -m bot tenants`)"),
        (("delete",), "trendwatch: tenants delete needs an ID: a Slack team id (T…) or a Discord server id"),
    ]:
        run = await bot("tenants", *args, "--config", config)
        assert (run.code, run.out, run.err.splitlines()) == (1, "", [said]), args
    assert len((await bot("tenants", "--config", config)).out.splitlines()) == 2  # nothing was removed
