"""A store as trendwatch left it at schema version 6, with the rows its code wrote then, for migration tests.

Made by the migration files 0001-0006 themselves (not by today's code) and raw rows in the old shape:
the default list in `models` / `entries` / `source_health`, the other lists in `list_items` /
`list_entries` / `list_health`. It holds what an operator would lose if a migration dropped it:
history on three lists (a model and a dataset sharing one id), thinned snapshots, subscriptions with
channel rules, filters and watches, rule state, labels, lineage, a pending outbox row, and failing
source health (announced) on `models` and on `spaces`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.domain.events import SourceHealth
from store.db import Conn, Database, PostgresDatabase, StoreLocation, _open_sqlite, migrations, utc_iso

T = datetime(2025, 7, 10, 10, 0, tzinfo=UTC)  # the latest stored snapshot
TOP_N = 3
SHARED = "jane/shared"  # a model on `models` and a dataset on `datasets`: one id, two items

# (list, taken_at, kept_depth, [(hub id, country, method, via)] by rank)
SNAPSHOTS: list[tuple[str, datetime, int | None, list[tuple[str, str, str, str | None]]]] = [
    ("models", T - timedelta(hours=2), None, [
        ("Qwen/q0", "CN", "namespace", "Qwen"), ("meta-llama/l0", "US", "namespace", "meta-llama"),
        ("mistralai/m0", "FR", "namespace", "mistralai"), ("bob/x", "unknown", "unknown", None),
        (SHARED, "CN", "base_model", "Qwen/q0")]),
    ("models", T - timedelta(hours=1, minutes=30), TOP_N, [  # not the first of its hour: thinned to its top N
        ("meta-llama/l0", "US", "namespace", "meta-llama"), ("Qwen/q0", "CN", "namespace", "Qwen"),
        ("mistralai/m0", "FR", "namespace", "mistralai")]),
    ("spaces", T - timedelta(minutes=45), None, [
        ("org0/space0", "unknown", "unknown", None), ("Qwen/demo", "CN", "namespace", "Qwen"),
        ("org1/space1", "unknown", "unknown", None), ("org2/space2", "unknown", "unknown", None)]),
    ("models", T - timedelta(hours=1), None, [
        ("Qwen/q0", "CN", "namespace", "Qwen"), ("meta-llama/l0", "US", "namespace", "meta-llama"),
        (SHARED, "CN", "base_model", "Qwen/q0"), ("mistralai/m0", "FR", "namespace", "mistralai"),
        ("bob/x", "unknown", "unknown", None)]),
    ("datasets", T - timedelta(minutes=20), None, [
        (SHARED, "unknown", "unknown", None), ("Qwen/data", "CN", "namespace", "Qwen"),
        ("org3/d", "unknown", "unknown", None)]),
    ("models", T, None, [
        ("Qwen/q0", "CN", "namespace", "Qwen"), ("meta-llama/l0", "US", "namespace", "meta-llama"),
        (SHARED, "CN", "base_model", "Qwen/q0"), ("bob/x", "unknown", "unknown", None),
        ("mistralai/m0", "FR", "namespace", "mistralai")]),
    ("spaces", T, None, [
        ("Qwen/demo", "CN", "namespace", "Qwen"), ("org0/space0", "unknown", "unknown", None),
        ("org1/space1", "unknown", "unknown", None), ("org2/space2", "unknown", "unknown", None)]),
    ("datasets", T + timedelta(minutes=1), None, [
        ("Qwen/data", "CN", "namespace", "Qwen"), (SHARED, "unknown", "unknown", None),
        ("org3/d", "unknown", "unknown", None)]),
]
MODEL_TAGS = {SHARED: ["base_model:finetune:Qwen/q0"], "Qwen/q0": ["text-generation"]}
ITEM_TAGS = {"spaces": ["gradio", "region:us"], "datasets": ["format:parquet", "region:us"]}

SCHEMA6_KINDS = ("entered", "new_leader", "share", "source", "digest", "watched")  # every kind of that time


async def open_unmigrated(target: Path | str) -> Database:
    """The store's own connection, without bringing the schema up to date."""
    location = StoreLocation.of(target)
    return await _open_sqlite(location) if location.path is not None else PostgresDatabase(location)


async def build_schema6(target: Path | str) -> None:
    """Apply migrations 0001-0006 as the loader did, then write the old-shaped rows."""
    db = await open_unmigrated(target)
    try:
        for number, _name, sql in migrations(db.dialect)[:6]:
            if db.dialect == "sqlite":
                await db.script(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
            else:
                await db.script(f"BEGIN;\nCREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);\n"
                                f"{sql}\nINSERT INTO schema_version (version) VALUES ({number});\nCOMMIT;")
        async with db.transaction() as conn:
            await _rows(conn)
    finally:
        await db.close()


async def _rows(conn: Conn) -> None:
    model_ids: dict[str, int] = {}
    items: dict[tuple[str, str], dict[str, object]] = {}
    entries: list[tuple[object, ...]] = []
    list_entries: list[tuple[object, ...]] = []
    for sid, (list_name, taken, kept, ranked) in enumerate(SNAPSHOTS, start=1):
        at = utc_iso(taken)
        counts: dict[str, int] = {}
        for _hub_id, country, _method, _via in ranked[:TOP_N]:
            counts[country] = counts.get(country, 0) + 1
        await conn.execute(
            "INSERT INTO snapshots (id, taken_at, top_n, depth, source, top_counts, kept_depth, list)"
            " VALUES (?, ?, ?, ?, 'hub', ?, ?, ?)",
            (sid, at, TOP_N, 5, json.dumps(dict(sorted(counts.items()))), kept, list_name))
        for rank, (hub_id, country, method, via) in enumerate(ranked, start=1):
            item = items.setdefault((list_name, hub_id), {"first_seen": at, "best": rank, "best_at": at, "polls": 0,
                                                          "first_top": None, "top": None, "led": None})
            if list_name == "models":
                if hub_id not in model_ids:
                    model_ids[hub_id] = 10 * (len(model_ids) + 1)  # ids with gaps: they must be kept as they are
                entries.append((sid, rank, model_ids[hub_id], 100 - rank, 1000 * rank, 90.0 - rank, country, method,
                                via))
            else:
                list_entries.append((sid, rank, hub_id, 50 - rank, None if list_name == "spaces" else 10 * rank,
                                     40.0 - rank, None, "gradio" if list_name == "spaces" else None,
                                     json.dumps(ITEM_TAGS[list_name]), country, method, via))
            item["last_seen"] = at
            if rank < int(str(item["best"])):
                item["best"], item["best_at"] = rank, at
            if rank <= TOP_N:
                item["top"] = at
                item["polls"] = int(str(item["polls"])) + 1
                item["first_top"] = item["first_top"] or at
            if rank == 1:
                item["led"] = at
    for (list_name, hub_id), m in items.items():
        if list_name == "models":
            await conn.execute(
                "INSERT INTO models (id, hub_id, first_seen, last_seen, best_rank, best_rank_at, first_in_top,"
                " last_in_top, last_led, top_polls, pipeline_tag, library_name, created_at, tags)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'text-generation', 'transformers', ?, ?)",
                (model_ids[hub_id], hub_id, m["first_seen"], m["last_seen"], m["best"], m["best_at"],
                 m["first_top"], m["top"], m["led"], m["polls"], "2025-07-01T10:00:00.000000Z",
                 json.dumps(MODEL_TAGS.get(hub_id, []))))
        else:
            await conn.execute(
                "INSERT INTO list_items (list, item_id, first_seen, last_seen, best_rank, last_in_top, last_led)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (list_name, hub_id, m["first_seen"], m["last_seen"], m["best"], m["top"], m["led"]))
    await conn.executemany(
        "INSERT INTO entries (snapshot_id, rank, model_id, likes, downloads, trending_score, country,"
        " country_method, country_via) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", entries)
    await conn.executemany(
        "INSERT INTO list_entries (snapshot_id, rank, item_id, likes, downloads, trending_score, pipeline_tag,"
        " library_name, tags, country, country_method, country_via) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        list_entries)
    if conn.dialect == "postgresql":
        for table in ("snapshots", "models"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    stamp = utc_iso(T - timedelta(days=3))
    await conn.execute(
        "INSERT INTO destinations (id, platform, channel, kinds, origin, active, subscribed_at, since_snapshot)"
        " VALUES (1, 'console', 'stdout', ?, 'console', 1, ?, 1), (2, 'discord', '111', ?, 'command', 1, ?, 1),"
        " (3, 'slack', 'C9', ?, 'command', 1, ?, 4)",
        (json.dumps(list(SCHEMA6_KINDS)), stamp, json.dumps(["entered", "share", "watched", "source"]), stamp,
         json.dumps(["entered"]), stamp))
    await conn.execute(
        "UPDATE destinations SET paused_at = ?, paused_reason = 'the bot was removed from the channel' WHERE id = 3",
        (stamp,))
    await conn.execute("INSERT INTO channel_rules (id, destination_id, country, direction, threshold, created_at)"
                       " VALUES (1, 2, 'CN', 'above', 60, ?)", (stamp,))
    await conn.execute("INSERT INTO channel_filters (destination_id, lists, countries, tasks, authors, derivatives,"
                       " updated_at) VALUES (2, '[\"models\", \"spaces\"]', '[\"CN\", \"US\"]', '[]', '[]', 1, ?)",
                       (stamp,))
    await conn.execute("INSERT INTO channel_watches (id, destination_id, target_kind, target, list, created_at)"
                       " VALUES (1, 2, 'author', 'deepseek-ai', 'models', ?)", (stamp,))
    await conn.execute("INSERT INTO rule_state (key, streak, firing, updated_at) VALUES"
                       " ('dest2:CN:above:60', 1, 0, ?), ('share:CN:above:50', 2, 1, ?)", (stamp, stamp))
    await conn.execute("INSERT INTO attribution_labels (target, country, labelled_by, labelled_at)"
                       " VALUES ('org0', 'DE', 'ops', ?)", (stamp,))
    await conn.execute("INSERT INTO lineage (hub_id, bases, looked_up_at) VALUES ('Qwen/q0', '[]', ?)", (stamp,))
    failing = SourceHealth(taken_at=T - timedelta(minutes=5), state="failing", failures=3)
    await conn.execute("INSERT INTO events (id, snapshot_id, kind, payload, created_at) VALUES (1, 6, 'source', ?, ?)",
                       (json.dumps(failing.to_payload()), utc_iso(T)))
    await conn.execute("INSERT INTO outbox (id, event_id, destination_id, next_attempt_at, created_at)"
                       " VALUES (1, 1, 1, ?, ?)", (utc_iso(T), utc_iso(T)))
    await conn.execute("UPDATE source_health SET failures = 3, last_error = 'HTTP 502', last_failure_at = ?,"
                       " last_success_at = ?, failing_announced = 1 WHERE id = 1",
                       (utc_iso(T + timedelta(minutes=5)), utc_iso(T)))
    await conn.execute("INSERT INTO list_health (list, failures, last_error, last_failure_at, last_success_at,"
                       " failing_announced) VALUES ('spaces', 4, 'timed out', ?, ?, 1)",
                       (utc_iso(T + timedelta(minutes=5)), utc_iso(T)))
    if conn.dialect == "postgresql":
        for table in ("destinations", "channel_rules", "channel_watches", "events", "outbox"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
