"""Outbox claims (migration 0013): deliverers take whole channels, never the same row, and a lapsed claim returns.

On PostgreSQL two deliverers are two connections claiming at the same moment (`SKIP LOCKED`), as two
`run` processes do; on SQLite the same statements run one transaction after another.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from store import outbox
from store.db import Database, open_database
from tests.support.stores import store_of

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
STAMP = "2026-07-01T12:00:00.000000Z"


async def destinations(db: Database, count: int) -> list[int]:
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO destinations (platform, channel, kinds, origin, subscribed_at) VALUES (?, ?, ?, ?, ?)",
            [("slack", f"C{n:05d}", '["entry"]', "config", STAMP) for n in range(count)])
        rows = await (await conn.execute("SELECT id FROM destinations ORDER BY id")).fetchall()
    return [int(row[0]) for row in rows]


async def alert(db: Database, channels: list[int], n: int = 0) -> int:
    async with db.transaction() as conn:
        row = await (await conn.execute(
            "INSERT INTO events (kind, payload, created_at) VALUES ('entry', ?, ?) RETURNING id",
            (json.dumps({"n": n}), STAMP))).fetchone()
        assert row is not None
        await conn.executemany(
            "INSERT INTO outbox (event_id, destination_id, next_attempt_at, created_at) VALUES (?, ?, ?, ?)",
            [(int(row[0]), channel, STAMP, STAMP) for channel in channels])
    return int(row[0])


async def claim(db: Database, by: str, at: datetime, destinations: int, length: float = 30) -> list[outbox.OutboxItem]:
    async with db.transaction(serial=False) as conn:
        return await outbox.claim_due(conn, outbox.Claim(by, at + timedelta(seconds=length)), at, ["slack"],
                                      destinations)


async def test_two_deliverers_take_different_channels_each_with_all_its_alerts_in_order(db_path: Path):
    db = await open_database(store_of(db_path))
    try:
        channels = await destinations(db, 4)
        first, second = await alert(db, channels, 1), await alert(db, channels, 2)
        a = await claim(db, "host:1:a", T0, 2)
        b = await claim(db, "host:2:b", T0, 10)
        assert [(item.destination.id, item.event_id) for item in a] == [
            (channels[0], first), (channels[0], second), (channels[1], first), (channels[1], second)]
        assert {item.destination.id for item in b} == set(channels[2:])
        assert await claim(db, "host:3:c", T0, 10) == []  # every channel is held
        # A channel held by one deliverer stays its own, even for an alert queued after the claim.
        await alert(db, channels, 3)
        assert await claim(db, "host:3:c", T0, 10) == []
    finally:
        await db.close()


async def test_a_lapsed_claim_returns_to_the_pool_and_its_holder_may_no_longer_send(db_path: Path):
    db = await open_database(store_of(db_path))
    try:
        channels = await destinations(db, 1)
        await alert(db, channels)
        [item] = await claim(db, "host:1:a", T0, 5, length=3)
        later = T0 + timedelta(seconds=4)  # the claim lapsed (its holder was killed, or stalled)
        [again] = await claim(db, "host:2:b", later, 5)
        assert again.id == item.id
        async with db.transaction(serial=False) as conn:
            stale = outbox.Claim("host:1:a", later + timedelta(seconds=30))
            assert not await outbox.mark_sending(conn, item.id, later, stale)
            assert not await outbox.keep_claim(conn, item.id, stale, later)
            fresh = outbox.Claim("host:2:b", later + timedelta(seconds=30))
            assert await outbox.mark_sending(conn, item.id, later, fresh)
        row = await (await db.conn.execute("SELECT unconfirmed, claimed_by FROM outbox")).fetchone()
        assert row == (1, "host:2:b")  # only the holder's post was marked
    finally:
        await db.close()


async def test_renewed_claims_hold_and_released_ones_go_back(db_path: Path):
    db = await open_database(store_of(db_path))
    try:
        channels = await destinations(db, 2)
        await alert(db, channels)
        assert len(await claim(db, "host:1:a", T0, 5, length=3)) == 2
        async with db.transaction(serial=False) as conn:
            assert await outbox.renew_claims(conn, outbox.Claim("host:1:a", T0 + timedelta(seconds=60)),
                                             T0 + timedelta(seconds=2)) == 2
        assert await claim(db, "host:2:b", T0 + timedelta(seconds=10), 5) == []  # renewed: still held
        async with db.transaction(serial=False) as conn:
            assert await outbox.live_claimers(conn, T0 + timedelta(seconds=10)) == ["host:1:a"]
            assert await outbox.release_claims(conn, "host:1:a") == 2
        assert len(await claim(db, "host:2:b", T0 + timedelta(seconds=10), 5)) == 2
    finally:
        await db.close()


async def test_a_channel_whose_oldest_alert_waits_for_a_retry_is_not_claimed(db_path: Path):
    db = await open_database(store_of(db_path))
    try:
        channels = await destinations(db, 2)
        await alert(db, channels, 1)
        await alert(db, channels, 2)
        async with db.transaction() as conn:
            await conn.execute("UPDATE outbox SET next_attempt_at = ? WHERE destination_id = ? AND id = "
                               "(SELECT MIN(id) FROM outbox WHERE destination_id = ?)",
                               ("2026-07-01T13:00:00.000000Z", channels[0], channels[0]))
        items = await claim(db, "host:1:a", T0, 5)
        assert {item.destination.id for item in items} == {channels[1]}  # the later alert does not overtake
    finally:
        await db.close()


@pytest.mark.parametrize("deliverers", [2, 3])
async def test_deliverers_claiming_at_the_same_moment_never_share_a_row(db_path: Path, store_backend: str,
                                                                         deliverers: int):
    """One connection each (PostgreSQL: `SKIP LOCKED` lets them claim side by side; SQLite takes turns)."""
    setup = await open_database(store_of(db_path))
    dbs = [await open_database(store_of(db_path)) for _ in range(deliverers)]
    try:
        channels = await destinations(setup, 300)
        for n in range(2):
            await alert(setup, channels, n)

        async def deliverer(db: Database, name: str) -> list[int]:
            taken: list[int] = []
            while batch := await claim(db, name, T0, 7):
                taken += [item.id for item in batch]
            return taken

        shares = await asyncio.gather(*(deliverer(db, f"host:{n}:x") for n, db in enumerate(dbs)))
        everything = [row for share in shares for row in share]
        assert len(everything) == len(set(everything)) == 600, "a row was claimed twice, or left unclaimed"
        owners = await (await setup.conn.execute(
            "SELECT destination_id, COUNT(DISTINCT claimed_by) FROM outbox GROUP BY destination_id")).fetchall()
        assert {int(n) for _, n in owners} == {1}  # a channel's alerts all went to one deliverer
        if store_backend == "postgresql":
            assert all(shares), "a deliverer got nothing: the claims did not run side by side"
    finally:
        for db in [setup, *dbs]:
            await db.close()
