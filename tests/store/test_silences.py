"""store/silences.py and fan-out with silences, on both stores: a silence is kept per channel and scope, and
what it holds back is stored once and recorded as silenced, with no outbox row."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.domain.events import Digest, Entered, EnteredModel, ShareChange
from bot.poller.fan_out import fan_out, fan_out_whole
from store import destinations as dest_store
from store import silences, tenants, web_reads
from store.db import Database, open_database
from tests.conftest import T0
from tests.support.stores import store_of

NOW = T0 + timedelta(hours=1)
WEEK = T0 + timedelta(days=7)


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    database = await open_database(store_of(db_path))
    yield database
    await database.close()


async def test_a_silence_is_listed_while_active_and_ended_only_in_its_own_channel_and_scope(db: Database):
    async with db.transaction() as conn:
        team = await tenants.ensure_tenant(conn, "slack", "T1", "one", T0)
        other = await tenants.ensure_tenant(conn, "slack", "T2", "two", T0)
        mine = await silences.add_silence(conn, "slack", "C1", team, "author", "deepseek-ai", "alice (U1)", T0, WEEK)
        short = await silences.add_silence(conn, "slack", "C1", None, "kind", "share", "bob (U2)", T0,
                                           T0 + timedelta(minutes=30))
        theirs = await silences.add_silence(conn, "slack", "C1", other, "country", "CN", "eve (U3)", T0, WEEK)
        elsewhere = await silences.add_silence(conn, "slack", "C2", team, "model", "org/name", "alice (U1)", T0, WEEK)
    assert (mine.matcher, mine.value, mine.created_by, mine.ends_at, mine.tenant_id) == (
        "author", "deepseek-ai", "alice (U1)", WEEK, team)

    listed = await silences.silences_of(db.conn, "slack", "C1", team, NOW)
    assert [s.id for s in listed] == [mine.id]  # the short one ran out; the other tenant's is not shown
    recent = await silences.silences_of(db.conn, "slack", "C1", team, NOW, ended_since=T0)
    assert [s.id for s in recent] == [mine.id, short.id]
    assert [s.id for s in await silences.silences_of(db.conn, "slack", "C1", other, NOW)] == [theirs.id]

    async with db.transaction() as conn:
        assert await silences.end_silence(conn, theirs.id, "slack", "C1", team, "alice (U1)", NOW) is None
        assert await silences.end_silence(conn, elsewhere.id, "slack", "C1", team, "alice (U1)", NOW) is None
        assert await silences.end_silence(conn, short.id, "slack", "C1", team, "alice (U1)", NOW) is None  # ran out
        ended = await silences.end_silence(conn, mine.id, "slack", "C1", team, "alice (U1)", NOW)
    assert ended is not None and (ended.ended_at, ended.ended_by) == (NOW, "alice (U1)")
    assert await silences.silences_of(db.conn, "slack", "C1", team, NOW) == []
    found = await silences.find_silence(db.conn, mine.id, "slack", "C1", team)
    assert found is not None and not found.active(NOW)
    assert await silences.find_silence(db.conn, theirs.id, "slack", "C1", team) is None

    active = await silences.active_for_channels(db.conn, NOW)
    assert {channel: [s.id for s in found] for channel, found in active.items()} == {
        ("slack", "C1"): [theirs.id], ("slack", "C2"): [elsewhere.id]}


ENTERED = Entered(taken_at=NOW, top_n=10, models=(
    EnteredModel(id="deepseek-ai/DeepSeek-V4", rank=2, country="CN"),
    EnteredModel(id="meta-llama/Llama-5", rank=5, country="US")))
SHARE = ShareChange(taken_at=NOW, country="CN", state="firing", direction="above", share=60.0, threshold=50,
                    top_n=10, count=6, rule="CN above 50%")


async def test_fan_out_queues_the_rest_and_records_the_silenced_part_with_no_outbox_row(db: Database):
    kinds = ["entered", "new_leader", "share"]
    async with db.transaction() as conn:
        quiet = await dest_store.upsert_destination(conn, "discord", "1", kinds, "command", T0)
        china = await dest_store.upsert_destination(conn, "discord", "1", kinds, "command", T0, name="china")
        loud = await dest_store.upsert_destination(conn, "discord", "2", kinds, "command", T0)
        by_author = await silences.add_silence(conn, "discord", "1", None, "author", "DeepSeek-AI", "a (1)", T0,
                                               WEEK)
        by_kind = await silences.add_silence(conn, "discord", "1", None, "kind", "share", "a (1)", T0, WEEK)
        await silences.add_silence(conn, "discord", "2", None, "kind", "entered", "a (1)", T0, NOW)  # ran out
        await fan_out(conn, [ENTERED, SHARE], None, 1, NOW)  # after a baseline

    async with db.conn.execute("SELECT id, kind, payload FROM events ORDER BY id") as cursor:
        events = {int(row[0]): (str(row[1]), json.loads(row[2])) for row in await cursor.fetchall()}
    async with db.conn.execute("SELECT event_id, destination_id FROM outbox ORDER BY id") as cursor:
        queued = [(int(e), int(d)) for e, d in await cursor.fetchall()]
    async with db.conn.execute("SELECT event_id, destination_id, silence_id FROM silenced_alerts") as cursor:
        held = [(int(e), int(d), int(s)) for e, d, s in await cursor.fetchall()]

    def models(event_id: int) -> str:
        return ",".join(m["id"] for m in events[event_id][1]["models"])

    got = {(models(e) if events[e][0] == "entered" else events[e][0], d) for e, d in queued}
    assert got == {("deepseek-ai/DeepSeek-V4,meta-llama/Llama-5", loud.id), ("share", loud.id),
                   ("meta-llama/Llama-5", quiet.id), ("meta-llama/Llama-5", china.id)}
    recorded = {(models(e) if events[e][0] == "entered" else events[e][0], d, s) for e, d, s in held}
    assert recorded == {("deepseek-ai/DeepSeek-V4", quiet.id, by_author.id),
                        ("deepseek-ai/DeepSeek-V4", china.id, by_author.id),
                        ("share", quiet.id, by_kind.id), ("share", china.id, by_kind.id)}
    # The whole entry, the channel's rest, its held part; the share alert queued, and held as a row of its own.
    assert len(events) == 5
    assert not {e for e, _ in queued} & {e for e, _, _ in held}  # a held-back event is queued nowhere
    assert {e for e, _ in queued} | {e for e, _, _ in held} == set(events)
    # The public page never shows what was held back, even once the outbox has forgotten what was sent.
    async with db.transaction() as conn:
        await conn.execute("UPDATE outbox SET status = 'delivered'")
    for forgotten in (False, True):
        if forgotten:
            async with db.transaction() as conn:
                await conn.execute("DELETE FROM outbox")  # what pruning does after `[store] keep_outbox`
        public = await web_reads.sent_alerts(db.conn, pruned_before=WEEK)
        assert sorted(alert.id for alert in public) == sorted({e for e, _ in queued}), forgotten
    assert await silences.held_counts(db.conn, [by_author.id, by_kind.id, 999]) == {by_author.id: 2, by_kind.id: 2}
    # What the page says instead: a count of the alerts held back (each held part once, whatever its channels).
    assert await web_reads.held_back_alerts(db.conn, NOW - timedelta(days=1)) == len({e for e, _, _ in held}) == 2
    assert await web_reads.held_back_alerts(db.conn, NOW + timedelta(seconds=1)) == 0


async def test_a_forgotten_tenant_takes_its_silences_and_their_records_along(db: Database):
    async with db.transaction() as conn:
        team = await tenants.tenant_joined(conn, "discord", "9", "gone", T0)
        await dest_store.upsert_destination(conn, "discord", "1", ["entered"], "command", T0, team)
        kept = await silences.add_silence(conn, "discord", "5", None, "kind", "entered", "a (1)", T0, WEEK)
        await silences.add_silence(conn, "discord", "1", team, "author", "deepseek-ai", "a (1)", T0, WEEK)
        await fan_out(conn, [ENTERED], None, 1, NOW)
        exported = await tenants.export_tenant(conn, team)
        await tenants.delete_tenant(conn, team)
    [shown] = exported["silences"]
    assert {key: shown[key] for key in ("channel", "matcher", "value", "created_by", "ended_at")} == {
        "channel": "1", "matcher": "author", "value": "deepseek-ai", "created_by": "a (1)", "ended_at": None}
    assert [s.id for found in (await silences.active_for_channels(db.conn, NOW)).values() for s in found] == [kept.id]
    async with db.conn.execute("SELECT COUNT(*) FROM silenced_alerts") as cursor:
        assert await cursor.fetchone() == (0,)


async def test_a_digest_is_stored_once_queued_for_the_rest_and_held_back_where_its_kind_is_silenced(db: Database):
    digest = Digest(taken_at=NOW, week="2025-W30", start=T0, end=NOW, timezone="UTC", top_n=10, snapshots=3)
    async with db.transaction() as conn:
        quiet = await dest_store.upsert_destination(conn, "slack", "C1", ["digest"], "command", T0)
        loud = await dest_store.upsert_destination(conn, "slack", "C2", ["digest"], "command", T0)
        await dest_store.upsert_destination(conn, "slack", "C3", ["entered"], "command", T0)
        held = await silences.add_silence(conn, "slack", "C1", None, "kind", "digest", "a (1)", T0, WEEK)
        await silences.add_silence(conn, "slack", "C2", None, "country", "CN", "a (1)", T0, WEEK)  # not a digest's
        event_id, queued = await fan_out_whole(conn, digest, await dest_store.active_destinations(conn), NOW)
    assert queued == [loud.id]
    async with db.conn.execute("SELECT event_id, destination_id FROM outbox") as cursor:
        assert [tuple(row) for row in await cursor.fetchall()] == [(event_id, loud.id)]
    async with db.conn.execute("SELECT s.destination_id, s.silence_id, e.payload FROM silenced_alerts s"
                               " JOIN events e ON e.id = s.event_id WHERE s.event_id != ?", (event_id,)) as cursor:
        [(destination_id, silence_id, payload)] = await cursor.fetchall()
    assert (destination_id, silence_id, json.loads(payload)["week"]) == (quiet.id, held.id, "2025-W30")
