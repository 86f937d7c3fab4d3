"""History that stays small and fast: per-snapshot counts, thinning, migration, retention, lookups."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from bot.commands.answers import model_message, share_view
from bot.commands.caller import CommandError
from bot.config import ConfigError, Route, parse_settings
from bot.domain.events import Entered
from bot.domain.snapshot import Attribution, Entry, Snapshot
from store import history, outbox, snapshots
from store.db import migrations, open_database, utc_iso
from store.destinations import current_routing, pause_channel, sync_configured, upsert_destination
from store.imports import save_imported
from tests.conftest import T0, hours, snap

CN = {f"Qwen/q{i}": "CN" for i in range(30)}
IDS = [f"Qwen/q{i}" for i in range(6)] + [f"meta-llama/l{i}" for i in range(24)]


def counted(series: Sequence[tuple[object, int, dict[str, int]]]) -> list[dict[str, int]]:
    return [counts for _, _, counts in series]


async def test_counts_are_written_with_the_snapshot_and_recounted_after_reattribution(db_path: Path):
    db = await open_database(db_path)
    try:
        async with db.transaction() as conn:
            first = await snapshots.save_snapshot(conn, snap(IDS, T0, CN), 10, "test")
            await snapshots.save_snapshot(conn, snap(IDS[1:] + IDS[:1], T0 + hours(1), CN), 10, "test")
        series = await snapshots.share_series(db.conn, T0 - hours(1))
        assert counted(series) == [{"CN": 6, "unknown": 4}, {"CN": 5, "unknown": 5}]
        async with db.transaction() as conn:  # the attribution tables learnt who publishes meta-llama
            await conn.execute("UPDATE entries SET country = 'US' WHERE country = 'unknown'")
            await snapshots.recount_snapshots(conn, [first])
        assert counted(await snapshots.share_series(db.conn, T0 - hours(1))) == [
            {"CN": 6, "US": 4}, {"CN": 5, "unknown": 5}]  # only the snapshots named were recounted
        async with db.transaction() as conn:
            await snapshots.recount_snapshots(conn)
        assert counted(await snapshots.share_series(db.conn, T0 - hours(1))) == [{"CN": 6, "US": 4}, {"CN": 5, "US": 5}]
    finally:
        await db.close()


async def test_share_over_a_window_reads_counts_not_entries(db_path: Path):
    db = await open_database(db_path)
    try:
        async with db.transaction() as conn:
            for hour in range(48):
                ids = IDS if hour % 2 else IDS[3:] + IDS[:3]  # CN alternates between 6 and 3 of 10
                await snapshots.save_snapshot(conn, snap(ids, T0 + hours(hour), CN), 10, "test")
        view = await share_view(db.conn, 1)  # 25 snapshots, hours 23 … 47: 13 at 60%, 12 at 30%
        assert view.snapshots_7d == 25
        shares = {row.country: row for row in view.countries}
        assert (shares["CN"].share, shares["CN"].low_7d, shares["CN"].high_7d) == (60.0, 30.0, 60.0)
        assert shares["CN"].average_7d == 45.6
        assert shares["CN"].week_ago == 60.0 and shares["CN"].change == 0.0
    finally:
        await db.close()


async def test_older_snapshots_keep_their_top_n_unless_first_of_their_hour(db_path: Path):
    db = await open_database(db_path)
    try:
        async with db.transaction() as conn:
            ids = []
            for quarter in range(9):  # 00:00 … 02:00 every 15 minutes
                ids.append(await snapshots.save_snapshot(
                    conn, snap(IDS, T0 + timedelta(minutes=15 * quarter), CN), 10, "test"))
        async with db.conn.execute("SELECT id, kept_depth FROM snapshots ORDER BY id") as cursor:
            kept = {int(sid): depth for sid, depth in await cursor.fetchall()}
        async with db.conn.execute("SELECT snapshot_id, COUNT(*) FROM entries GROUP BY snapshot_id") as cursor:
            stored = {int(sid): int(n) for sid, n in await cursor.fetchall()}
        full = {ids[0], ids[4], ids[7], ids[8]}  # 00:00, 01:00 and the two latest
        assert {sid for sid, depth in kept.items() if depth is None} == full
        assert all(stored[sid] == (30 if sid in full else 10) for sid in ids)
        assert counted(await snapshots.share_series(db.conn, T0)) == [{"CN": 6, "unknown": 4}] * 9
        rows = await history.week_rows(db.conn, T0 + timedelta(minutes=10), T0 + timedelta(minutes=100))
        assert len(rows.first_ranks) == 30 and len(rows.last_ranks) == 30  # from 01:00, the first full one
    finally:
        await db.close()


def _old_database(path: Path) -> None:
    """A file as the code before migration 0003 left it, with a little of everything."""
    conn = sqlite3.connect(path)
    for number, _, sql in migrations()[:2]:
        conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
    for i, model in enumerate(IDS):
        conn.execute("INSERT INTO models (hub_id, first_seen, last_seen, best_rank, best_rank_at, top_polls)"
                     " VALUES (?, ?, ?, ?, ?, 1)", (model, utc_iso(T0), utc_iso(T0), i + 1, utc_iso(T0)))
    for s in range(4):  # every 15 minutes: 00:00 is the first of its hour, 00:15 is thinned, 00:30 and 00:45 latest
        conn.execute("INSERT INTO snapshots (id, taken_at, top_n, depth, source) VALUES (?, ?, 10, 30, 'hub')",
                     (s + 1, utc_iso(T0 + timedelta(minutes=15 * s))))
        order = IDS[s:] + IDS[:s]
        for rank, model in enumerate(order, start=1):
            conn.execute("INSERT INTO entries (snapshot_id, rank, model_id, country, country_method)"
                         " SELECT ?, ?, id, ?, 'namespace' FROM models WHERE hub_id = ?",
                         (s + 1, rank, CN.get(model, "unknown"), model))
    conn.execute("INSERT INTO destinations (platform, channel, kinds, origin, subscribed_at)"
                 " VALUES ('slack', 'C1', '[\"entered\"]', 'command', ?)", (utc_iso(T0),))
    conn.commit()
    conn.close()


async def test_a_0002_database_with_data_migrates_and_reads_the_same(db_path: Path):
    _old_database(db_path)
    with sqlite3.connect(db_path) as conn:
        before = conn.execute(
            "SELECT s.id, e.country, COUNT(*) FROM snapshots s JOIN entries e ON e.snapshot_id = s.id"
            " AND e.rank <= s.top_n GROUP BY s.id, e.country ORDER BY s.id, e.country").fetchall()
        ranks_before = conn.execute("SELECT snapshot_id, rank, model_id FROM entries ORDER BY 1, 2").fetchall()
    db = await open_database(db_path)
    try:
        series = await snapshots.share_series(db.conn, T0 - hours(1))
        after = [(i + 1, country, n) for i, (_, _, counts) in enumerate(series) for country, n in counts.items()]
        assert sorted(after) == before
        async with db.conn.execute("SELECT snapshot_id, rank, item_id FROM entries ORDER BY 1, 2") as cursor:
            kept = [tuple(row) for row in await cursor.fetchall()]
        assert kept == [row for row in ranks_before if row[0] != 2 or row[1] <= 10]  # 00:15 keeps its top 10
        latest = (await snapshots.latest_snapshots(db.conn, 2))
        assert [e.id for e in latest[0].snapshot.entries] == IDS[3:] + IDS[:3]
        assert len(latest[1].snapshot.entries) == 30
        record = await snapshots.model_record(db.conn, "QWEN/Q3")
        assert record is not None and record.hub_id == "Qwen/q3"
        assert await snapshots.search_models(db.conn, "LLAMA/L1", limit=3) == ["meta-llama/l1", "meta-llama/l10",
                                                                              "meta-llama/l11"]
        assert [d.channel for d in (await current_routing(db.conn)).destinations] == ["C1"]
        async with db.transaction() as conn:  # new snapshots on the migrated file carry their counts
            await snapshots.save_snapshot(conn, snap(IDS, T0 + hours(3), CN), 10, "test")
        assert counted(await snapshots.share_series(db.conn, T0 + hours(3))) == [{"CN": 6, "unknown": 4}]
        rows = await history.week_rows(db.conn, T0, T0 + hours(4))
        assert len(rows.snapshots) == 5 and len(rows.first_ranks) == 30
    finally:
        await db.close()


async def test_model_lookup_and_hints_use_indexes(db_path: Path):
    db = await open_database(db_path)
    try:
        async with db.transaction() as conn:
            await snapshots.save_snapshot(conn, snap(["org/My_Model-7B", "org/MyXModel-7B", "x/tiny"] * 1, T0), 2,
                                          "test")
        async def plan(query: str) -> str:
            async with db.conn.execute("EXPLAIN QUERY PLAN " + query) as cursor:
                return " ".join(str(row[3]) for row in await cursor.fetchall())

        nocase = await plan("SELECT hub_id FROM items WHERE list = 'models' AND hub_id = 'a' COLLATE NOCASE")
        assert "USING COVERING INDEX items_by_hub_id_nocase" in nocase, nocase
        substring = await plan("SELECT rowid FROM items_search WHERE hub_id LIKE '%abc%'")
        assert "INDEX 0:L0" in substring, substring  # the LIKE is answered by the trigram index
        search = await plan(snapshots.SEARCH_BY_TRIGRAMS.replace("?", "'x'", 2))
        assert search.startswith("SCAN s VIRTUAL TABLE INDEX 0:L0") and "USING INTEGER PRIMARY KEY" in search, search
        assert await snapshots.search_models(db.conn, "my_model") == ["org/My_Model-7B"]  # `_` is not a wildcard
        assert await snapshots.search_models(db.conn, "ti") == ["x/tiny"]
        # SQLite 3.40's trigram LIKE segfaults on this pattern (found by the slash-command fuzz test):
        # non-ASCII text never reaches the index.
        assert await snapshots.search_models(db.conn, "\u01c5?_\u00e9.\\\U0010ffff") == []
        assert await snapshots.search_models(db.conn, "TİNY") == []
        with pytest.raises(CommandError, match="Did you mean org/My_Model-7B"):
            await model_message(db.conn, "other/my_model")
    finally:
        await db.close()


async def test_outbox_retention_prunes_old_sent_rows_and_keeps_pending_ones(db_path: Path):
    db = await open_database(db_path)
    try:
        event = Entered(taken_at=T0, top_n=10, models=())
        async with db.transaction() as conn:
            dest = await upsert_destination(conn, "slack", "C1", ["entered"], "command", T0)
            old = [await outbox.add_event(conn, event, None, [dest.id], T0 + timedelta(minutes=m)) for m in range(3)]
            new = await outbox.add_event(conn, event, None, [dest.id], T0 + timedelta(days=40))
            await conn.execute("UPDATE outbox SET status = 'delivered' WHERE event_id IN (?, ?, ?)",
                               (old[0], old[2], new))
        async with db.transaction() as conn:
            assert await outbox.prune(conn, T0 + timedelta(days=10), batch=1) == 1
            assert await outbox.prune(conn, T0 + timedelta(days=10)) == 1
            assert await outbox.prune(conn, T0 + timedelta(days=10)) == 0
        async with db.conn.execute("SELECT event_id, status FROM outbox ORDER BY id") as cursor:
            assert [tuple(row) for row in await cursor.fetchall()] == [(old[1], "pending"), (new, "delivered")]
    finally:
        await db.close()


async def test_routing_is_reloaded_when_a_channel_changes_in_any_process(db_path: Path):
    db = await open_database(db_path)
    try:
        async with db.transaction() as conn:
            await sync_configured(conn, [Route(platform="slack", channel="C1")], True, T0)
        first = await current_routing(db.conn)
        assert await current_routing(db.conn) is first  # nothing changed: parsed once
        async with db.transaction() as conn:
            await pause_channel(conn, "slack", "C1", "gone", T0)
        paused = await current_routing(db.conn)
        assert paused is not first and paused.destinations[1].paused_reason == "gone"
        with sqlite3.connect(db_path) as other:  # `python -m bot resume` is another process
            other.execute("UPDATE destinations SET paused_at = NULL, paused_reason = NULL")
        assert (await current_routing(db.conn)).destinations[1].paused_reason is None
        with sqlite3.connect(db_path) as other:
            other.execute("INSERT INTO channel_rules (destination_id, country, direction, threshold, created_at)"
                          " VALUES (2, 'CN', 'above', 50, 'x')")
        assert (await current_routing(db.conn)).channel_rules == ((2, "CN", "above", 50, "top_n"),)
    finally:
        await db.close()


def test_keep_outbox_defaults_to_30_days_and_refuses_nonsense():
    assert parse_settings({}, env={}).store.keep_outbox == timedelta(days=30)
    assert parse_settings({"store": {"keep_outbox": "7d"}}, env={}).store.keep_outbox == timedelta(days=7)
    with pytest.raises(ConfigError, match=r"store\.keep_outbox"):
        parse_settings({"store": {"keep_outbox": "0s"}}, env={})


def test_entries_of_every_depth_are_counted_only_in_the_top_n():
    entries = tuple(Entry(rank=r, id=f"a/{r}", attribution=Attribution("CN" if r % 2 else "US")) for r in range(1, 8))
    assert snapshots.top_counts(entries, 4) == {"CN": 2, "US": 2}
    assert snapshots.top_counts(Snapshot(T0, ()).entries, 10) == {}


async def test_a_share_built_on_imported_history_names_its_archive_and_anchors_on_it_before_any_poll(
    db_path: Path,
):
    db = await open_database(db_path)
    try:
        archived = [snap(IDS, T0 + hours(24 * day), CN) for day in range(5)]
        async with db.transaction() as conn:
            await save_imported(conn, "models", archived, 10, "park-onezero/daily-hf-trending")
        view = await share_view(db.conn, 7)  # no poll yet: the newest imported snapshot is "now"
        assert view.taken_at == T0 + hours(96) and view.snapshots_7d == 5
        assert view.archives == (("park-onezero/daily-hf-trending", 5),)
        async with db.transaction() as conn:
            await snapshots.save_snapshot(conn, snap(IDS, T0 + hours(100), CN), 10, "test")
        view = await share_view(db.conn, 7)  # the bot's own poll anchors once there is one
        assert view.taken_at == T0 + hours(100) and view.snapshots_7d == 6
        assert "5 imported from park-onezero/daily-hf-trending" in view.based_on()
    finally:
        await db.close()
