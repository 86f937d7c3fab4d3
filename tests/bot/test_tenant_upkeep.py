"""The worker's hourly upkeep forgets tenants gone longer than `[tenants] keep_after_leaving`, and only them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.worker import Jobs, TenantUpkeep, Worker
from store import destinations as dest_store
from store import tenants
from tests.conftest import T0
from tests.fakes.hub import FakeHub
from tests.support.app import open_app, settings_for


async def test_the_upkeep_forgets_tenants_gone_longer_than_the_grace(fake_hub: FakeHub, db_path: Path) -> None:
    app = await open_app(settings_for(fake_hub, db_path, tenants={"keep_after_leaving": "2d"}))
    try:
        async with app.db.transaction() as conn:
            for team, left in (("T0LONG", T0), ("T0RECENT", T0 + timedelta(days=2))):
                tenant_id = await tenants.tenant_joined(conn, "slack", team, team, T0 - timedelta(days=9))
                await dest_store.upsert_destination(conn, "slack", f"C-{team}", ["entered"], "command", T0,
                                                    tenant_id)
                await tenants.tenant_left(conn, "slack", team, left)
            await tenants.tenant_joined(conn, "discord", "77", "staying", T0)
        upkeep = TenantUpkeep(app, Jobs(lambda exc: None))
        upkeep.BATCH = 1  # one per transaction: the loop must go on until none is left
        async with app.db.transaction() as conn:
            await tenants.tenant_left(conn, "discord", "78", T0 - timedelta(days=1))
        assert await upkeep.forget(T0 + timedelta(days=3)) == 2
        kept = {s.tenant.external_id for s in await tenants.tenant_summaries(app.db.conn)}
        assert kept == {"T0RECENT", "77"}
        assert await dest_store.get_destination(app.db.conn, "slack", "C-T0LONG") is None
        assert await dest_store.get_destination(app.db.conn, "slack", "C-T0RECENT") is not None

        app.has_lease = False  # a standby process: it holds no lease and writes nothing
        assert await upkeep.forget(T0 + timedelta(days=30)) == 0
        assert len(await tenants.tenant_summaries(app.db.conn)) == 2

        worker = Worker(app)
        worker.schedule()
        job = worker.scheduler.get_job("tenants")
        assert job is not None and job.trigger.interval == timedelta(hours=1)
    finally:
        await app.close()
