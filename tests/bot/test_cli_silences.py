"""`python -m bot channels` shows each channel's active silences and how many alerts each held back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.domain.events import SourceHealth
from store import outbox, silences
from store.db import open_database
from store.destinations import get_destination
from tests.fakes.hub import FakeHub, ranked
from tests.support.cli import US, bot, write_config
from tests.support.stores import store_of


async def test_channels_lists_active_silences_with_their_counts(fake_hub: FakeHub, db_path: Path, tmp_path: Path):
    routes = '\n[[routes]]\nplatform = "slack"\nchannel = "C0123"\n\n[[routes]]\nplatform = "slack"\nchannel = "C9"\n'
    config = write_config(tmp_path / "c.toml", fake_hub, db_path, extra=routes)
    fake_hub.models = ranked(US)
    assert (await bot("once", "--config", str(config))).code == 0
    now = datetime.now(UTC)
    db = await open_database(store_of(db_path))
    try:
        async with db.transaction() as conn:
            quiet = await get_destination(conn, "slack", "C0123")
            assert quiet is not None
            kept = await silences.add_silence(conn, "slack", "C0123", None, "kind", "source", "ops (U1)", now,
                                              now + timedelta(days=3, hours=1))
            await silences.add_silence(conn, "slack", "C0123", None, "country", "CN", "ops (U1)",
                                       now - timedelta(days=2), now - timedelta(days=1))  # over: not shown
            for failures in (3, 6):
                event_id = await outbox.add_event(conn, SourceHealth(taken_at=now, state="failing",
                                                                     failures=failures), None, [], now)
                await silences.record_silenced(conn, event_id, [(quiet.id, kept.id)], now)
    finally:
        await db.close()

    listed = await bot("channels", "--config", str(config))
    assert listed.code == 0, listed.err
    lines = listed.out.splitlines()
    at = next(i for i, text in enumerate(lines) if text.startswith("slack:C0123"))
    assert lines[at + 1].startswith(f"  silence #{kept.id} kind:source: ends in 3d 0h (")
    assert lines[at + 1].endswith("set by ops (U1); 2 alerts held back")
    assert not lines[at + 2].startswith("  silence") and "country:CN" not in listed.out
    rows = {row["channel"]: row["silences"] for row in json.loads(
        (await bot("channels", "--json", "--config", str(config))).out) if row["platform"] == "slack"}
    assert rows["C9"] == [] and len(rows["C0123"]) == 1 and rows["C0123"][0].endswith("2 alerts held back")
