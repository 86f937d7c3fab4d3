"""History and sent alerts for the web page's tests, written through the store's own functions.

Imported snapshots are made the way the importer leaves them: a stored snapshot whose `archive`
names where it came from (set right after saving, in the same transaction).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings, parse_settings
from bot.domain.events import ALERT_KINDS, Event
from bot.domain.snapshot import Attribution, Entry, Snapshot
from bot.web.site import Site
from store.db import Database, open_database
from store.destinations import upsert_destination
from store.outbox import add_event
from store.snapshots import save_snapshot
from tests.support.stores import store_env, store_of

CHANNEL = "998877665544332211"  # a channel id that must never show on a page or in a feed


def web_settings(db_path: Path, **extra: Any) -> Settings:
    return parse_settings({"store": {"path": str(db_path)}, "web": {"enabled": True}, **extra}, env=store_env())


def ranked(*items: tuple[str, str], method: str = "namespace") -> tuple[Entry, ...]:
    """Entries from (id, country) pairs, ranked in order; the namespace is what decided."""
    return tuple(Entry(rank=rank, id=hub_id,
                       attribution=Attribution(country, method if country != "unknown" else "unknown",
                                               hub_id.split("/")[0] if country != "unknown" else None))
                 for rank, (hub_id, country) in enumerate(items, start=1))


async def add_snapshot(db: Database, at: datetime, entries: Sequence[Entry], top_n: int = 10,
                       list_name: str = "models", archive: str | None = None) -> int:
    async with db.transaction() as conn:
        snapshot_id = await save_snapshot(conn, Snapshot(at, tuple(entries)), top_n, "test", list_name)
        if archive is not None:
            await conn.execute("UPDATE snapshots SET archive = ? WHERE id = ?", (archive, snapshot_id))
    return snapshot_id


async def add_sent_alert(db: Database, event: Event, at: datetime, delivered: bool = True,
                         channel: str = CHANNEL) -> int:
    """An alert stored for one channel and (by default) delivered to it, as the deliverer leaves it."""
    async with db.transaction() as conn:
        destination = await upsert_destination(conn, "discord", channel, ALERT_KINDS, "config", at)
        event_id = await add_event(conn, event, None, [destination.id], at)
        if delivered:
            await conn.execute("UPDATE outbox SET status = 'delivered', delivered_at = created_at"
                               " WHERE event_id = ?", (event_id,))
    return event_id


@asynccontextmanager
async def site_client(db_path: Path, settings: Settings | None = None) -> AsyncIterator[tuple[TestClient[
        web.Request, web.Application], Database]]:
    """The web page's routes on a real server on 127.0.0.1, with aiohttp's client, over the test's store."""
    db = await open_database(store_of(db_path))
    app = web.Application()
    app.add_routes(Site(db, settings or web_settings(db_path)).routes())
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield client, db
    finally:
        await client.close()
        await db.close()
