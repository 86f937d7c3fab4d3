"""The app's tenant callbacks, which the Slack install flow and the Discord gateway call, reach the store's
tenant lifecycle: a server that removes the bot has its channels stopped at once, and coming back resumes them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from store import tenants
from store.destinations import get_destination, upsert_destination
from tests.fakes.hub import FakeHub
from tests.support.app import open_app, settings_for


async def test_a_server_that_removes_the_bot_stops_its_channels_and_one_that_comes_back_resumes(
    fake_hub: FakeHub, db_path: Path,
) -> None:
    app = await open_app(settings_for(fake_hub, db_path))
    try:
        async with app.db.transaction() as conn:
            mine = await tenants.tenant_joined(conn, "discord", "4242", "Model watchers", datetime.now(UTC))
            other = await tenants.tenant_joined(conn, "discord", "777", "Elsewhere", datetime.now(UTC))
            await upsert_destination(conn, "discord", "1001", ["entered"], "command", datetime.now(UTC), mine)
            await upsert_destination(conn, "discord", "2002", ["entered"], "command", datetime.now(UTC), other)

        await app.on_tenant_left("discord", "4242")
        left = await get_destination(app.db.conn, "discord", "1001")
        kept = await get_destination(app.db.conn, "discord", "2002")
        assert left is not None and left.paused_reason == "left"
        assert kept is not None and kept.paused_at is None
        assert (await tenants.get_tenant(app.db.conn, "discord", "4242")).state == "left"  # type: ignore[union-attr]

        await app.on_tenant_joined("discord", "4242", "Model watchers")
        back = await get_destination(app.db.conn, "discord", "1001")
        assert back is not None and back.paused_at is None
    finally:
        await app.close()
