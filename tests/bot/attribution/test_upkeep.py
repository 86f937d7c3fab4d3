"""Attribution with the store and the Hub: lineage lookups and their cache, labels, re-attribution, the audit
and the unknown display — the real huggingface_hub client against the fake Hub, a real SQLite file."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import Trendwatch
from bot.commands.answers import share_message, share_view
from bot.config import Secrets
from bot.domain.messages import Message
from bot.poller.poll import PollResult
from store import labels
from store.reattribution import set_attribution_version
from tests.fakes.hub import FakeHub, hub_model, ranked
from tests.support.app import US, count, open_app, settings_for
from tests.support.cli import bot, write_config


def top_attribution(app_result: PollResult) -> tuple[str, str, str | None]:
    snapshot = app_result.snapshot
    assert snapshot is not None
    top = snapshot.entries[0]
    return top.country, top.attribution.method, top.attribution.via


async def test_a_base_is_looked_up_once_then_read_from_the_cache(fake_hub: FakeHub, db_path: Path):
    fake_hub.models = [hub_model("bartowski/mid-GGUF", 900, tags=["base_model:quantized:jane/mid"]), *ranked(US[:9])]
    fake_hub.describe([hub_model("jane/mid", tags=["base_model:finetune:Qwen/Qwen3-8B"])])
    app = await open_app(settings_for(fake_hub, db_path))
    try:
        assert top_attribution(await app.poll()) == ("CN", "base_model", "Qwen/Qwen3-8B")
        looked_up = [r for r in fake_hub.detail_requests if r.path == "/api/models/jane/mid"]
        assert len(looked_up) == 1 and looked_up[0].query.getall("expand") == ["baseModels", "tags"]
        assert top_attribution(await app.poll()) == ("CN", "base_model", "Qwen/Qwen3-8B")
        assert len(fake_hub.detail_requests) == 1  # the second poll read the cache
        async with app.db.conn.execute("SELECT hub_id, bases, looked_up_at FROM lineage") as cursor:
            rows = await cursor.fetchall()
        assert [(hub_id, json.loads(bases)) for hub_id, bases, _ in rows] == [
            ("jane/mid", [["Qwen/Qwen3-8B", "finetune"]])]
    finally:
        await app.close()


async def test_an_old_cached_lineage_is_asked_again(fake_hub: FakeHub, db_path: Path):
    fake_hub.models = [hub_model("bartowski/mid-GGUF", 900, tags=["base_model:quantized:jane/mid"]), *ranked(US[:9])]
    fake_hub.describe([hub_model("jane/mid", tags=["base_model:finetune:Qwen/Qwen3-8B"])])
    app = await open_app(settings_for(fake_hub, db_path))
    try:
        await app.poll()
        await app.poll(clock=lambda: datetime.now(UTC) + timedelta(days=31))  # [countries] lineage_max_age = 30d
        assert len(fake_hub.detail_requests) == 2
    finally:
        await app.close()


async def test_the_per_poll_bound_cuts_lookups_and_says_so(fake_hub: FakeHub, db_path: Path,
                                                           caplog: pytest.LogCaptureFixture):
    fake_hub.models = [hub_model("bartowski/a-GGUF", 900, tags=["base_model:quantized:jane/a"]),
                       hub_model("bartowski/b-GGUF", 890, tags=["base_model:quantized:jane/b"]), *ranked(US[:8])]
    fake_hub.describe([hub_model("jane/a", tags=["base_model:finetune:Qwen/Qwen3-8B"]),
                       hub_model("jane/b", tags=["base_model:finetune:meta-llama/Llama-3.1-8B"])])
    app = await open_app(settings_for(fake_hub, db_path, {"lineage_lookups": 1}))
    try:
        with caplog.at_level(logging.INFO, logger="bot.attribution.upkeep"):
            first = await app.poll()
        assert first.snapshot is not None
        assert [e.country for e in first.snapshot.entries[:2]] == ["CN", "unknown"]
        assert "cut 1 base(s)" in caplog.text and "jane/b" in caplog.text
        second = await app.poll()
        assert second.snapshot is not None and [e.country for e in second.snapshot.entries[:2]] == ["CN", "US"]
        assert len(fake_hub.detail_requests) == 2
    finally:
        await app.close()


async def test_a_base_the_hub_does_not_know_is_cached_as_having_no_bases(fake_hub: FakeHub, db_path: Path):
    fake_hub.models = [hub_model("bartowski/gone-GGUF", 900, tags=["base_model:quantized:jane/gone"]),
                       *ranked(US[:9])]
    app = await open_app(settings_for(fake_hub, db_path))
    try:
        assert top_attribution(await app.poll()) == ("unknown", "unknown", None)
        await app.poll()
        assert len(fake_hub.detail_requests) == 1
    finally:
        await app.close()


async def test_a_labs_quantization_counts_for_the_base_through_the_hubs_tags(fake_hub: FakeHub, db_path: Path):
    fake_hub.models = [hub_model("nvidia/Qwen3.6-27B-NVFP4", 900, tags=["base_model:quantized:Qwen/Qwen3.6-27B"]),
                       *ranked(US[:9])]
    app = await open_app(settings_for(fake_hub, db_path))
    try:
        assert top_attribution(await app.poll()) == ("CN", "base_model", "Qwen/Qwen3.6-27B")
    finally:
        await app.close()


async def test_history_is_re_attributed_at_start_when_the_data_changed_and_alerts_are_not_resent(
    fake_hub: FakeHub, db_path: Path
):
    """By the worker that holds the lease: a standby started with newer tables waits for its turn."""
    stream = io.StringIO()
    settings = settings_for(fake_hub, db_path)
    fake_hub.models = ranked(["jane/Qwen3-8B-ft", *US[:9]])
    app = await open_app(settings, stream)
    standby: Trendwatch | None = None

    async def stored() -> list[tuple[object, ...]]:
        assert standby is not None
        async with standby.db.conn.execute(
            "SELECT DISTINCT country, country_method, country_via FROM entries e JOIN items i ON i.id = e.item_id"
            " WHERE i.hub_id = 'jane/Qwen3-8B-ft'") as cursor:
            return [tuple(row) for row in await cursor.fetchall()]

    try:
        await app.poll()
        fake_hub.models = ranked(["jane/Qwen3-8B-ft", "Qwen/new", *US[:8]])
        await app.poll()
        await app.deliver()
        # As if stored by an older rule: unknown, and an older attribution version.
        async with app.db.transaction() as conn:
            await conn.execute("UPDATE entries SET country = 'unknown', country_method = 'unknown', country_via = NULL"
                               " WHERE item_id = (SELECT id FROM items WHERE hub_id = 'jane/Qwen3-8B-ft')")
            await set_attribution_version(conn, "old", datetime.now(UTC))
        events, sent = await count(app, "events"), stream.getvalue()
        standby = await Trendwatch.open(settings, Secrets.from_env({}), {})
        assert await standby.acquire_lease() is not None
        assert await stored() == [("unknown", "unknown", None)]  # not the standby's to rewrite
    finally:
        await app.close()
    assert standby is not None
    try:
        assert await standby.acquire_lease() is None
        assert await stored() == [("CN", "family", "Qwen")]
        assert await count(standby, "events") == events
        async with standby.db.conn.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'") as cursor:
            assert await cursor.fetchone() == (0,)
    finally:
        await standby.close()
    assert stream.getvalue() == sent


async def test_an_unchanged_version_does_not_re_attribute(fake_hub: FakeHub, db_path: Path):
    settings = settings_for(fake_hub, db_path)
    fake_hub.models = ranked(["jane/x", *US[:9]])
    app = await open_app(settings)
    try:
        await app.poll()
        async with app.db.transaction() as conn:  # a stored decision the current rule would not make
            await conn.execute("UPDATE entries SET country = 'FR' WHERE rank = 1")
    finally:
        await app.close()
    reopened = await Trendwatch.open(settings, Secrets.from_env({}), {})
    try:
        assert await reopened.acquire_lease() is None
        async with reopened.db.conn.execute("SELECT country FROM entries WHERE rank = 1") as cursor:
            assert await cursor.fetchone() == ("FR",)
    finally:
        await reopened.close()


def text_of(message: Message) -> str:
    return "\n".join("".join(span.text for span in spans) for spans in message.lines)


async def test_share_names_the_unknown_models_beside_the_countries(fake_hub: FakeHub, db_path: Path):
    fake_hub.models = ranked(["jane/mystery", "bob/enigma", *US[:8]])
    app = await open_app(settings_for(fake_hub, db_path))
    try:
        await app.poll()
        view = await share_view(app.db.conn)
    finally:
        await app.close()
    assert view.unknown_models == ("jane/mystery", "bob/enigma")
    assert "unknown: 2 of 10 (jane/mystery, bob/enigma)" in text_of(share_message(view))


async def test_cli_label_is_stored_logged_and_applied_to_history(fake_hub: FakeHub, tmp_path: Path):
    db = tmp_path / "t.db"
    config = write_config(tmp_path / "c.toml", fake_hub, db)
    fake_hub.models = ranked(["jane/mystery", *US[:9]])
    assert (await bot("once", "--config", str(config))).code == 0

    run = await bot("label", "Jane", "fr", "--config", str(config))
    assert run.code == 0, run.err
    assert "jane labelled FR; 1 stored entry re-attributed" in run.out
    assert "label jane: none -> FR by " in run.err  # who and when, in the log
    rows = json.loads((await bot("trending", "--config", str(config), "--json")).out)
    assert (rows[0]["country"], rows[0]["country_method"], rows[0]["country_via"]) == ("FR", "label", "jane")

    share = json.loads((await bot("share", "--config", str(config), "--json")).out)
    assert share["unknown"] == {"count": 0, "of": 10, "models": [], "average": 0.0}

    run = await bot("label", "jane", "--remove", "--config", str(config))
    assert run.code == 0 and "label on jane removed" in run.out
    rows = json.loads((await bot("trending", "--config", str(config), "--json")).out)
    assert rows[0]["country"] == "unknown"
    share = json.loads((await bot("share", "--config", str(config), "--json")).out)
    assert share["unknown"] == {"count": 1, "of": 10, "models": ["jane/mystery"], "average": 1.0}
    assert {row["country"]: row["unknown"] for row in share["countries"]}["US"] == 1  # beside every country


@pytest.mark.parametrize(("args", "message"), [
    (["jane", "ZZ"], "ISO 3166-1"),
    (["jane"], "ISO 3166-1"),
    (["not a name", "CN"], "not a namespace"),
    (["jane", "CN", "--remove"], "not both"),
])
async def test_cli_label_refuses_bad_input_in_one_line(fake_hub: FakeHub, tmp_path: Path, args: list[str],
                                                       message: str):
    config = write_config(tmp_path / "c.toml", fake_hub, tmp_path / "t.db")
    run = await bot("label", *args, "--config", str(config))
    assert run.code == 1 and message in run.err and "Traceback" not in run.err
    assert len(run.err.strip().splitlines()) == 1


async def test_cli_attribution_lists_namespaces_unknowns_first(fake_hub: FakeHub, tmp_path: Path):
    config = write_config(tmp_path / "c.toml", fake_hub, tmp_path / "t.db")
    fake_hub.models = ranked(["meta-llama/l0", "jane/mystery", "unsloth/Qwen3-8B-GGUF", *US[1:8]])
    assert (await bot("once", "--config", str(config))).code == 0
    run = await bot("attribution", "--config", str(config), "--json")
    assert run.code == 0, run.err
    rows = json.loads(run.out)
    assert rows[0] | {"models": None} == {"namespace": "jane", "country": "unknown", "method": "unknown", "via": None,
                                          "confidence": "-", "appearances": 1, "models": None}
    by_namespace = {row["namespace"]: row for row in rows}
    assert by_namespace["meta-llama"] | {"models": None} == {
        "namespace": "meta-llama", "country": "US", "method": "namespace", "via": "meta-llama",
        "confidence": by_namespace["meta-llama"]["confidence"], "appearances": 8, "models": None}
    assert by_namespace["meta-llama"]["confidence"] in {"high", "medium", "low"}
    assert by_namespace["unsloth"]["method"] == "family" and by_namespace["unsloth"]["country"] == "CN"
    text = await bot("attribution", "--config", str(config), "--days", "7")
    assert text.code == 0 and text.out.splitlines()[1].split()[:3] == ["1", "unknown", "jane"]


async def test_cli_reattribute_reports_what_changed(fake_hub: FakeHub, tmp_path: Path):
    db = tmp_path / "t.db"
    config = write_config(tmp_path / "c.toml", fake_hub, db)
    fake_hub.models = ranked(["jane/mystery", *US[:9]])
    assert (await bot("once", "--config", str(config))).code == 0
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO attribution_labels VALUES ('jane', 'DE', 'test', '2026-01-01T00:00:00.000000Z')")
    run = await bot("reattribute", "--config", str(config))
    assert run.code == 0 and "1 stored entry changed" in run.out and "sent alerts stay as sent" in run.out


async def test_labels_are_stored_case_insensitively(db_path: Path):
    from store.db import open_database

    db = await open_database(db_path)
    try:
        async with db.transaction() as conn:
            await labels.set_label(conn, "Jane/Model", "FR", "op", datetime.now(UTC))
            assert await labels.all_labels(conn) == {"jane/model": "FR"}
            assert (await labels.remove_label(conn, "JANE/model")) is not None
            assert await labels.all_labels(conn) == {}
    finally:
        await db.close()


@pytest.mark.sqlite_only
async def test_a_database_of_the_old_schema_migrates_and_its_history_follows_the_new_rule(
    fake_hub: FakeHub, db_path: Path
):
    """A 0002 database written by the old rule (namespace first: nvidia's NVFP4 quant of Qwen was US)."""
    import sqlite3
    from importlib import resources

    from store.db import migrations

    with sqlite3.connect(db_path) as conn:
        for name in ("0001_initial.sql", "0002_digest.sql"):
            conn.executescript(resources.files("store.migrations").joinpath(name).read_text(encoding="utf-8"))
        conn.execute("PRAGMA user_version = 2")
        conn.execute("INSERT INTO snapshots VALUES (1, '2026-03-02T12:00:00.000000Z', 10, 2, 'hub')")
        for row_id, hub_id, tags in [(1, "nvidia/Qwen3.6-27B-NVFP4", ["base_model:quantized:Qwen/Qwen3.6-27B"]),
                                     (2, "unsloth/gemma-4-31B-it-GGUF", [])]:
            conn.execute("INSERT INTO models (id, hub_id, first_seen, last_seen, best_rank, best_rank_at, tags)"
                         " VALUES (?, ?, 't', 't', 1, 't', ?)", (row_id, hub_id, json.dumps(tags)))
        conn.execute("INSERT INTO entries VALUES (1, 1, 1, 0, 0, 0, 'US', 'namespace', 'nvidia')")
        conn.execute("INSERT INTO entries VALUES (1, 2, 2, 0, 0, 0, 'unknown', 'unknown', NULL)")
    app = await Trendwatch.open(settings_for(fake_hub, db_path), Secrets.from_env({}), {})
    try:
        assert await app.acquire_lease() is None  # the worker that writes history re-attributes it
        async with app.db.conn.execute("PRAGMA user_version") as cursor:
            assert await cursor.fetchone() == (len(migrations()),)
        async with app.db.conn.execute(
            "SELECT rank, country, country_method, country_via FROM entries ORDER BY rank") as cursor:
            assert [tuple(row) for row in await cursor.fetchall()] == [
                (1, "CN", "base_model", "Qwen/Qwen3.6-27B"), (2, "US", "family", "Gemma")]
    finally:
        await app.close()


async def test_reattribute_entries_names_the_snapshots_it_rewrote(fake_hub: FakeHub, db_path: Path):
    from bot.domain.snapshot import Attribution
    from store.reattribution import Rewritten, reattribute_entries
    from store.snapshots import item_row_ids

    fake_hub.models = ranked(["jane/x", *US[:9]])
    app = await open_app(settings_for(fake_hub, db_path))
    try:
        first, second = await app.poll(), await app.poll()
        assert first.snapshot_id is not None and second.snapshot_id is not None
        async with app.db.transaction() as conn:
            ids = await item_row_ids(conn, "models", ["jane/x", "meta-llama/l0"])
            rewritten = await reattribute_entries(conn, {ids["jane/x"]: Attribution("FR", "label", "jane"),
                                                         ids["meta-llama/l0"]: Attribution("US", "namespace",
                                                                                           "meta-llama")})
        assert rewritten == Rewritten(2, frozenset({first.snapshot_id, second.snapshot_id}))
        # The per-snapshot counts that share and charts read follow the rewrite in the same transaction.
        async with app.db.conn.execute("SELECT DISTINCT top_counts FROM snapshots") as cursor:
            assert [json.loads(row[0]) for row in await cursor.fetchall()] == [{"FR": 1, "US": 9}]
    finally:
        await app.close()
