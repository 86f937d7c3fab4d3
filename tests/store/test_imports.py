"""Imported history: one transaction, idempotent, never `latest`, never an alert, items' memory only widened,
attributed and re-attributed like polled history; the export reads back the same rows (both stores)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.archive.export import to_jsonl
from bot.archive.importer import ImportReport, import_reading
from bot.archive.reading import read_source
from bot.attribution.upkeep import reattribute
from bot.config import Settings, parse_settings
from bot.domain.snapshot import Attribution, Entry, Snapshot
from bot.rules.detect import detect
from store import labels, snapshots
from store.db import Database, open_database
from store.exports import snapshot_rows
from store.imports import save_imported
from tests.support.archives import park_archive, real_snapshots
from tests.support.stores import query, store_env, store_of

LIVE = datetime(2026, 6, 1, tzinfo=UTC)
PARK = "park-onezero/daily-hf-trending"


def settings_for(db_path: Path) -> Settings:
    return parse_settings({"store": {"path": str(db_path)}}, env=store_env(), origin="test")


async def run_import(db: Database, settings: Settings, source: Path, **options: Any) -> ImportReport:
    return await import_reading(db, settings, read_source(source), **options)


def live(ids: list[str], at: datetime) -> Snapshot:
    return Snapshot(at, tuple(Entry(rank, model_id, attribution=Attribution("US", "namespace", "x"))
                              for rank, model_id in enumerate(ids, start=1)))


async def test_a_git_archive_is_imported_once_with_its_unreadable_commit_counted(db_path: Path, tmp_path: Path):
    archive = park_archive(tmp_path / "park")
    settings = settings_for(db_path)
    db = await open_database(store_of(db_path))
    try:
        dry = await run_import(db, settings, archive, dry_run=True)
        assert (dry.snapshots, dry.rows, len(dry.unreadable)) == (5, 50, 1)
        assert query(db_path, "SELECT COUNT(*) FROM snapshots") == [(0,)]  # a dry run writes nothing
        first = await run_import(db, settings, archive)
        assert (first.snapshots, first.rows, first.skipped, first.archives) == (5, 50, 0, [PARK])
        assert "not JSON" in first.unreadable[0].reason
        again = await run_import(db, settings, archive)
        assert (again.snapshots, again.skipped) == (0, 5)
        assert query(db_path, "SELECT COUNT(*), MIN(archive), MIN(source), COUNT(kept_depth) FROM snapshots") == [
            (5, PARK, "archive", 0)]
        assert query(db_path, "SELECT COUNT(*) FROM entries") == [(50,)]
        counts = query(db_path, "SELECT top_counts FROM snapshots ORDER BY taken_at LIMIT 1")[0][0]
        assert json.loads(counts)["CN"] >= 5  # counted by today's rules: Qwen's models are Chinese
    finally:
        await db.close()


async def test_since_and_until_pick_the_days(db_path: Path, tmp_path: Path):
    archive = park_archive(tmp_path / "park", broken=False)
    db = await open_database(store_of(db_path))
    try:
        report = await run_import(db, settings_for(db_path), archive,
                                  since=datetime(2026, 3, 3, tzinfo=UTC), until=datetime(2026, 3, 4, tzinfo=UTC))
        assert (report.snapshots, report.outside) == (3, 2)
        assert query(db_path, "SELECT MIN(taken_at) >= '2026-03-03', MAX(taken_at) < '2026-03-04' FROM snapshots"
                     ) in ([(True, True)], [(1, 1)])
    finally:
        await db.close()


async def test_a_failure_midway_rolls_the_whole_import_back(db_path: Path, tmp_path: Path):
    archive = park_archive(tmp_path / "park", broken=False)
    db = await open_database(store_of(db_path))

    class Failing:
        def update(self, done: int) -> None:
            raise RuntimeError("the disk filled up")

        def close(self) -> None:
            pass

    try:
        with pytest.raises(RuntimeError):
            await run_import(db, settings_for(db_path), archive, progress=lambda total: Failing())
        assert query(db_path, "SELECT (SELECT COUNT(*) FROM snapshots), (SELECT COUNT(*) FROM items),"
                     " (SELECT COUNT(*) FROM entries)") == [(0, 0, 0)]
    finally:
        await db.close()


async def test_old_history_never_becomes_latest_nor_moves_memory_back_nor_alerts(db_path: Path, tmp_path: Path):
    archived = real_snapshots()
    in_archive = archived[0][1][0]["model_id"]  # #1 on 2 March: Qwen/Qwen3.5-35B-A3B
    leaver = archived[0][1][1]["model_id"]  # in the archive's top 10, and in the bot's own an hour before now
    newcomer = archived[0][1][2]["model_id"]  # in the archive's top 10 only
    others = [f"meta-llama/l{i}" for i in range(12)]
    db = await open_database(store_of(db_path))
    try:
        async with db.transaction() as conn:
            await snapshots.save_snapshot(conn, live([leaver, in_archive, *others[:8]], LIVE - timedelta(hours=1)),
                                          10, "hub")
            await snapshots.save_snapshot(conn, live([in_archive, *others[:9]], LIVE), 10, "hub")
        next_poll = live([newcomer, leaver, *others[:8]], LIVE + timedelta(minutes=15))

        async def detected() -> list[str]:
            previous = (await snapshots.latest_snapshots(db.conn, 1))[0].snapshot
            history = await snapshots.item_history(db.conn, [entry.id for entry in next_poll.top(10)])
            found = detect(previous, next_poll, top_n=10, rules=[], states={}, history=history,
                           cooldown=timedelta(hours=24))
            return sorted(repr(event) for event in found.events)

        memory = "SELECT hub_id, first_seen, last_seen, last_in_top, last_led, best_rank FROM items ORDER BY hub_id"
        before_events, before_memory = await detected(), {row[0]: row[1:] for row in query(db_path, memory)}
        report = await run_import(db, settings_for(db_path), park_archive(tmp_path / "park", broken=False))
        assert report.snapshots == 5
        assert await detected() == before_events  # the leaver stays in its cooldown; the newcomer still enters
        assert any(newcomer in event for event in before_events) and not any(leaver in e for e in before_events)
        after = {row[0]: row[1:] for row in query(db_path, memory)}
        first_seen, last_seen, last_in_top, last_led, best = after[in_archive]
        assert (last_seen, last_in_top, last_led) == before_memory[in_archive][1:4]  # the latest stay the latest
        assert first_seen < before_memory[in_archive][0] and first_seen.startswith("2026-03-02")  # earliest widens
        assert best == 1
        latest = await snapshots.latest_snapshots(db.conn, 2)
        assert [stored.snapshot.taken_at for stored in latest] == [LIVE, LIVE - timedelta(hours=1)]
        assert query(db_path, "SELECT (SELECT COUNT(*) FROM outbox), (SELECT COUNT(*) FROM events)") == [(0, 0)]
        assert len(await snapshots.share_series(db.conn, LIVE - timedelta(days=200))) == 7  # readers see both
    finally:
        await db.close()


async def test_imported_entries_are_attributed_and_re_attributed_like_polled_ones(db_path: Path, tmp_path: Path):
    settings = settings_for(db_path)
    db = await open_database(store_of(db_path))
    try:
        await run_import(db, settings, park_archive(tmp_path / "park", broken=False))
        country = ("SELECT DISTINCT e.country, e.country_method FROM entries e JOIN items i ON i.id = e.item_id"
                   " WHERE i.hub_id = ?")
        assert query(db_path, country, ("Qwen/Qwen3.5-27B",)) == [("CN", "namespace")]
        assert query(db_path, country, ("LocoreMind/LocoOperator-4B",)) == [("unknown", "unknown")]
        async with db.transaction() as conn:
            await labels.set_label(conn, "LocoreMind", "KR", "test", LIVE)
        report = await reattribute(db, settings, LIVE)
        assert report.changed > 0
        assert query(db_path, country, ("LocoreMind/LocoOperator-4B",)) == [("KR", "label")]
        first = query(db_path, "SELECT top_counts FROM snapshots ORDER BY taken_at LIMIT 1")[0][0]
        assert json.loads(first)["KR"] == 1  # the counts follow
    finally:
        await db.close()


async def test_export_then_import_into_an_empty_store_gives_the_same_rows(db_path: Path, tmp_path: Path):
    db = await open_database(store_of(db_path))
    other = await open_database(tmp_path / "other.db")  # SQLite, whichever store the first is
    try:
        await run_import(db, settings_for(db_path), park_archive(tmp_path / "park", broken=False))
        since, until = datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)
        exported = to_jsonl(await snapshot_rows(db.conn, None, since, until))
        assert exported.count("\n") == 50
        (tmp_path / "export.jsonl").write_text(exported, encoding="utf-8")
        other_settings = parse_settings({"store": {"path": str(tmp_path / "other.db")}}, env={}, origin="test")
        report = await import_reading(other, other_settings, read_source(tmp_path / "export.jsonl"))
        assert (report.snapshots, report.unreadable, report.archives) == (5, [], [PARK])
        assert to_jsonl(await snapshot_rows(other.conn, None, since, until)) == exported
    finally:
        await other.close()
        await db.close()


async def test_a_folder_of_snapshots_takes_each_files_time_or_refuses_it(db_path: Path, tmp_path: Path):
    from tests.support.archives import trending_json

    folder = tmp_path / "snaps"
    folder.mkdir()
    rows = real_snapshots()
    (folder / "trending-2026-03-02T12-17-14Z.json").write_text(trending_json(rows[0][1]), encoding="utf-8")
    (folder / "b.json").write_text('{"fetched_at": "2026-03-03T00:33:42Z", "models": '
                                   + trending_json(rows[1][1]) + "}", encoding="utf-8")
    (folder / "undated.json").write_text(trending_json(rows[2][1]), encoding="utf-8")
    db = await open_database(store_of(db_path))
    try:
        report = await run_import(db, settings_for(db_path), folder)
        assert report.snapshots == 2 and report.archives == ["snaps"]
        assert [(u.where, "no time" in u.reason) for u in report.unreadable] == [("undated.json", True)]
    finally:
        await db.close()


async def test_save_imported_alone_skips_moments_any_archive_already_holds(db_path: Path):
    db = await open_database(store_of(db_path))
    try:
        snap = live(["a/b", "c/d"], LIVE)
        async with db.transaction() as conn:
            assert (await save_imported(conn, "models", [snap], 10, "one")).imported == 1
            assert (await save_imported(conn, "models", [snap], 10, "two")).skipped == 1
    finally:
        await db.close()
