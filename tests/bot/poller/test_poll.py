"""The whole core flow against the fake Hub and a real SQLite file: poll → store → outbox → deliver."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import Trendwatch
from bot.config import Secrets
from bot.delivery.adapter import Adapter, DeliveryError, DestinationGone
from bot.delivery.threading import Thread
from bot.domain.messages import Alert
from store import lease, outbox
from store.destinations import upsert_destination
from tests.fakes.hub import FakeHub, hub_model, ranked
from tests.support.app import CN, US, alerts, count, dead_pid, open_app, settings_for


async def test_first_poll_is_a_baseline_then_entries_come_as_one_alert(fake_hub: FakeHub, db_path: Path):
    stream = io.StringIO()
    app = await open_app(settings_for(fake_hub, db_path), stream)
    try:
        fake_hub.models = ranked(US[:8] + CN[:2])
        assert (await app.poll()).events == ()
        await app.deliver()
        assert alerts(stream) == []

        fake_hub.models = ranked(US[:6] + CN[:4])
        result = await app.poll()
        await app.deliver()
        entered = [a for a in alerts(stream) if a["kind"] == "entered"]
        assert len(entered) == 1
        assert [(m["id"], m["rank"], m["country"]) for m in entered[0]["models"]] == [
            ("Qwen/q2", 9, "CN"), ("Qwen/q3", 10, "CN")]
        assert result.snapshot_id == 2
    finally:
        await app.close()


async def test_share_alert_fires_once_and_resolves_with_hysteresis(fake_hub: FakeHub, db_path: Path):
    stream = io.StringIO()
    app = await open_app(settings_for(fake_hub, db_path), stream)
    try:
        for cn_count in (4, 5, 6, 4, 3, 5):
            fake_hub.models = ranked(CN[:cn_count] + US[: 10 - cn_count])
            await app.poll()
            await app.deliver()
        share = [(a["state"], a["share"]) for a in alerts(stream) if a["kind"] == "share"]
        assert share == [("firing", 50), ("resolved", 30), ("firing", 50)]
        first = next(a for a in alerts(stream) if a["kind"] == "share")
        assert first["country"] == "CN" and first["direction"] == "above" and first["threshold"] == 50
    finally:
        await app.close()


@pytest.mark.parametrize(
    "break_it",
    [
        lambda hub: hub.fail(500, times=-1),
        lambda hub: hub.fail(429, retry_after=0, times=-1),
        lambda hub: hub.answer_raw("<html>oops</html>", times=-1),
        lambda hub: hub.answer_raw("[]", times=-1),
        lambda hub: hub.answer_raw(json.dumps([{"likes": 1, "trendingScore": 5}]), times=-1),
    ],
    ids=["5xx", "429", "not-json", "empty", "no-ids"],
)
async def test_bad_answer_stores_nothing_and_changes_no_state(fake_hub: FakeHub, db_path: Path, break_it):
    stream = io.StringIO()
    app = await open_app(settings_for(
        fake_hub, db_path, {"retry_budget": "1s", "failures_before_notice": 5}), stream)
    try:
        fake_hub.models = ranked(CN[:4] + US[:6])
        await app.poll()
        async with app.db.conn.execute("SELECT key, streak, firing FROM rule_state") as cursor:
            states_before = await cursor.fetchall()
        break_it(fake_hub)
        result = await app.poll()
        assert result.error and result.snapshot_id is None
        assert await count(app, "snapshots") == 1
        assert await count(app, "events") == 0
        async with app.db.conn.execute("SELECT key, streak, firing FROM rule_state") as cursor:
            assert await cursor.fetchall() == states_before

        fake_hub.faults.clear()
        fake_hub.models = ranked(CN[:5] + US[:5])  # compared with the last GOOD snapshot
        await app.poll()
        await app.deliver()
        kinds = [a["kind"] for a in alerts(stream)]
        assert kinds == ["entered", "share", "left"]  # the console takes every kind
    finally:
        await app.close()


async def test_repeated_failures_raise_one_notice_and_one_recovery(fake_hub: FakeHub, db_path: Path):
    stream = io.StringIO()
    app = await open_app(settings_for(
        fake_hub, db_path, {"retry_budget": "0s", "failures_before_notice": 2}), stream)
    try:
        fake_hub.models = ranked(US)
        await app.poll()
        fake_hub.fail(503, times=-1)
        for _ in range(4):
            await app.poll()
            await app.deliver()
        fake_hub.faults.clear()
        await app.poll()
        await app.deliver()
        source = [(a["state"], a["failures"]) for a in alerts(stream) if a["kind"] == "source"]
        assert source == [("failing", 2), ("recovered", 4)]
    finally:
        await app.close()


async def test_crash_between_store_and_delivery_loses_nothing_and_resends_nothing(
    fake_hub: FakeHub, db_path: Path
):
    settings = settings_for(fake_hub, db_path)
    first = await open_app(settings)
    fake_hub.models = ranked(US)
    await first.poll()
    fake_hub.models = ranked(CN[:3] + US[:7])
    await first.poll()  # stored with its outbox rows … and the process "dies" before delivering
    await first.db.conn.execute("UPDATE lease SET pid = ?", (dead_pid(),))
    await first.db.close()

    stream = io.StringIO()
    second = await open_app(settings, stream)  # same host, dead holder: lease taken over
    try:
        await second.deliver()
        assert [a["kind"] for a in alerts(stream)] == ["entered", "left"]
        await second.deliver()
        fake_hub.models = ranked(CN[:3] + US[:7])
        await second.poll()
        await second.deliver()
        assert len(alerts(stream)) == 2  # nothing sent twice
        assert await outbox.counts(second.db.conn) == {"delivered": 2}
    finally:
        await second.close()


class FlakyAdapter(Adapter):
    """A platform that fails on demand (stands in for Discord/Slack in core tests)."""

    platform = "discord"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.failures: dict[str, Exception] = {}

    async def send(self, channel: str, alert: Alert, mention: str | None = None,
                   thread: Thread | None = None) -> None:
        if channel in self.failures:
            raise self.failures[channel]
        self.sent.append((channel, alert.key))


async def test_transient_failure_keeps_order_and_permanent_failure_pauses(fake_hub: FakeHub, db_path: Path):
    flaky = FlakyAdapter()
    ok, flaky_id, gone = "1001", "1002", "1003"  # Discord channel ids are numbers
    routes = [{"platform": "discord", "channel": ok}, {"platform": "discord", "channel": flaky_id},
              {"platform": "discord", "channel": gone}]
    app = await open_app(settings_for(fake_hub, db_path, routes=routes), discord=flaky)
    try:
        fake_hub.models = ranked(US)
        await app.poll()
        flaky.failures = {flaky_id: DeliveryError("HTTP 503"), gone: DestinationGone("403 Missing Access")}
        for batch in (CN[:1] + US[:9], CN[:2] + US[:8]):
            fake_hub.models = ranked(batch)
            await app.poll()
        report = await app.deliver()
        assert report.paused == [f"discord:{gone}"]
        assert [channel for channel, _ in flaky.sent].count(ok) == 2  # two polls, one entry alert each
        assert all(channel == ok for channel, _ in flaky.sent)

        async with app.db.conn.execute(
            "SELECT paused_reason FROM destinations WHERE channel = ?", (gone,)) as cursor:
            row = await cursor.fetchone()
        assert row is not None and row[0].startswith("403 Missing Access")

        flaky.failures = {}
        assert (await app.deliver()).sent == 0  # the flaky channel waits for its backoff
        await app.db.conn.execute("UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00.000000Z'")
        await app.deliver()
        flaky_keys = [key for channel, key in flaky.sent if channel == flaky_id]
        assert len(flaky_keys) == 2 and flaky_keys == sorted(flaky_keys, key=lambda k: int(k.split("-")[1]))
        assert not any(channel == gone for channel, _ in flaky.sent)
    finally:
        await app.close()


async def test_a_channel_subscribed_later_starts_with_its_own_baseline(fake_hub: FakeHub, db_path: Path):
    flaky = FlakyAdapter()
    app = await open_app(settings_for(fake_hub, db_path), discord=flaky)
    try:
        fake_hub.models = ranked(US)
        await app.poll()
        async with app.db.transaction() as conn:
            await upsert_destination(conn, "discord", "late", ["entered"], "command", datetime.now(UTC))
        fake_hub.models = ranked(CN[:1] + US[:9])
        await app.poll()  # the late channel's baseline
        fake_hub.models = ranked(CN[:2] + US[:8])
        await app.poll()
        await app.deliver()
        assert len(flaky.sent) == 1
    finally:
        await app.close()


async def test_second_process_on_the_same_database_waits_for_the_lease(fake_hub: FakeHub, db_path: Path):
    settings = settings_for(fake_hub, db_path)
    first = await open_app(settings)
    second = await Trendwatch.open(settings, Secrets.from_env({}), {})
    try:
        holder = await second.acquire_lease()
        assert holder is not None and not second.has_lease
        await first.close()
        assert await second.acquire_lease() is None
    finally:
        await second.close()


async def test_expired_lease_is_taken_over(db_path: Path, fake_hub: FakeHub):
    app = await Trendwatch.open(settings_for(fake_hub, db_path), Secrets.from_env({}), {})
    try:
        past = datetime.now(UTC) - timedelta(hours=1)
        assert await lease.try_acquire(app.db, "worker", "other", "elsewhere", 1, timedelta(seconds=1), past) is None
        assert await app.acquire_lease() is None
    finally:
        await app.close()


async def test_lineage_walks_through_models_the_hub_describes(fake_hub: FakeHub, db_path: Path):
    fake_hub.models = [
        hub_model("bartowski/cool-ft-GGUF", 900, tags=["base_model:quantized:jane/cool-ft"]),
        *ranked(US[:9]),
    ]
    fake_hub.details["jane/cool-ft"] = hub_model("jane/cool-ft", tags=["base_model:finetune:Qwen/Qwen3-8B"])
    app = await open_app(settings_for(fake_hub, db_path))
    try:
        result = await app.poll()
        assert result.snapshot is not None
        top = result.snapshot.entries[0]
        assert (top.country, top.attribution.method, top.attribution.via) == ("CN", "base_model", "Qwen/Qwen3-8B")
    finally:
        await app.close()


async def failures(app: Trendwatch) -> int:
    async with app.db.conn.execute("SELECT failures FROM source_health WHERE list = 'models'") as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def test_drifting_field_types_are_stored_as_unknown_and_read_back(fake_hub: FakeHub, db_path: Path):
    from bot.commands.answers import trending_message, trending_view

    app = await open_app(settings_for(fake_hub, db_path))
    try:
        fake_hub.models = ranked(CN[:4] + US[:6])
        fake_hub.drift(trendingScore="x", likes=2**64, downloads="lots", pipeline_tag=["a", "b"], createdAt="?",
                       library_name="trans\x00formers", tags=["ok", "n\x00ul"])  # PostgreSQL text cannot hold NUL
        result = await app.poll()
        assert result.error is None and result.snapshot_id is not None
        assert await failures(app) == 0
        view = await trending_view(app.db.conn)
        assert [(r.likes, r.downloads, r.trending_score) for r in view.rows] == [(None, None, None)] * 10
        assert trending_message(view).lines
    finally:
        await app.close()


NUL_IN_AN_ID = json.dumps([{"id": f"a/m{i}"} for i in range(2)] + [{"id": "a/b\x00c"}]
                          + [{"id": f"a/m{i}"} for i in range(3, 10)])  # PostgreSQL text cannot hold NUL


@pytest.mark.parametrize("body", ['[{"id": 5, "likes": 1}]', '{"models": []}', '[{"id": "a/b"}, "c/d"]',
                                  NUL_IN_AN_ID])
async def test_an_answer_without_usable_ids_is_a_counted_failure(fake_hub: FakeHub, db_path: Path, body: str):
    app = await open_app(settings_for(fake_hub, db_path, {"failures_before_notice": 1}))
    try:
        fake_hub.answer_raw(body)
        result = await app.poll()
        assert result.error and result.snapshot_id is None
        assert await failures(app) == 1 and await count(app, "snapshots") == 0
        assert [event.kind for event in result.events] == ["source"]  # "source failing" is told
    finally:
        await app.close()


async def test_a_list_shorter_than_top_n_is_unusable(fake_hub: FakeHub, db_path: Path):
    stream = io.StringIO()
    app = await open_app(settings_for(fake_hub, db_path, {"failures_before_notice": 5}), stream)
    try:
        fake_hub.models = ranked(CN[:6] + US[:4])
        await app.poll()  # baseline: CN holds 60%, the rule fires
        await app.deliver()
        before = alerts(stream)
        fake_hub.short(3)
        result = await app.poll()
        assert result.error and "only 3 models" in result.error and "top 10" in result.error
        assert await count(app, "snapshots") == 1 and await failures(app) == 1
        await app.poll()  # the full list again: nothing changed since the last GOOD snapshot
        await app.deliver()
        assert alerts(stream) == before
    finally:
        await app.close()


@pytest.mark.sqlite_only  # SQLite keeps any type in any column and has EXPLAIN QUERY PLAN
async def test_garbage_stored_by_older_versions_does_not_break_reads(fake_hub: FakeHub, db_path: Path):
    import sqlite3

    from bot.commands.answers import share_view, trending_message, trending_view

    app = await open_app(settings_for(fake_hub, db_path))
    try:
        fake_hub.models = ranked(CN[:4] + US[:6], tags=["base_model:Qwen/Qwen3-8B"])
        await app.poll()
    finally:
        await app.close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE entries SET likes = 'lots', downloads = 1.5, trending_score = 'x'")
        conn.execute("UPDATE items SET pipeline_tag = 7, tags = 'not json'")
    app = await open_app(settings_for(fake_hub, db_path))
    try:
        view = await trending_view(app.db.conn)
        assert {(r.likes, r.trending_score) for r in view.rows} == {(None, None)}
        assert trending_message(view).lines and (await share_view(app.db.conn)).countries
        assert (await app.poll()).error is None  # lineage reads the stored tags
    finally:
        await app.close()


async def test_each_poll_prunes_sent_alerts_older_than_keep_outbox(fake_hub: FakeHub, db_path: Path):
    stream = io.StringIO()
    app = await open_app(settings_for(fake_hub, db_path, store={"path": str(db_path), "keep_outbox": "2h"}), stream)
    times = iter([datetime(2025, 7, 21, h, tzinfo=UTC) for h in (0, 1, 5)])
    try:
        fake_hub.models = ranked(US)
        await app.poll(lambda: next(times))
        fake_hub.models = ranked(CN[:6] + US[:4])  # entries, a new #1, CN above 50%: alerts at 01:00
        await app.poll(lambda: next(times))
        await app.deliver()
        sent = await count(app, "outbox")
        assert sent >= 2 and len(alerts(stream)) == sent
        fake_hub.models = ranked(CN[:6] + US[:4])
        await app.poll(lambda: next(times))  # 05:00: the 01:00 alerts are older than 2 h
        assert await count(app, "outbox") == 0
        assert await count(app, "events") == sent  # what happened stays; only the delivery rows go
    finally:
        await app.close()


@pytest.mark.sqlite_only  # SQLite keeps any type in any column and has EXPLAIN QUERY PLAN
async def test_every_query_of_a_poll_uses_an_index(fake_hub: FakeHub, db_path: Path):
    """Each statement of a routine poll, replayed under EXPLAIN QUERY PLAN: no scan of a table that grows."""
    growing = ("snapshots", "entries", "models", "events", "outbox", "destinations")
    app = await open_app(settings_for(fake_hub, db_path))
    statements: list[str] = []
    try:
        fake_hub.models = ranked(US)
        await app.poll()
        fake_hub.models = ranked(CN[:6] + US[:4])
        await app.poll()  # routing is cached from here on
        await (await app.db.driver_connection()).set_trace_callback(statements.append)
        fake_hub.models = ranked(CN[:7] + US[:3])
        await app.poll()
        await (await app.db.driver_connection()).set_trace_callback(lambda _: None)
        scans = []
        for sql in list(statements):
            if not sql.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
                continue
            async with app.db.conn.execute("EXPLAIN QUERY PLAN " + sql) as cursor:
                for row in await cursor.fetchall():
                    detail = str(row[3])
                    if not detail.startswith("SCAN ") or (table := detail.split()[1]) not in growing:
                        continue
                    if not re.search(rf"\b{table}\b", sql):
                        continue  # a foreign-key subprogram (child rows of an inserted parent): skipped at run time
                    if "ORDER BY" in sql and "LIMIT" in sql:
                        continue  # an ordered walk that stops at its first rows
                    scans.append(f"{detail}: {sql[:120]}")
        assert statements and scans == [], "\n".join(scans)
    finally:
        await app.close()
