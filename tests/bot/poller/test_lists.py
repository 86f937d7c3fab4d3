"""Several trending lists (issue 12): config, the Hub's filters, storage per list, alerts naming their list."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.slack_app import ParsedCommand, parse_command
from bot.attribution.upkeep import reattribute
from bot.commands.answers import share_view, trending_view
from bot.commands.caller import CommandError
from bot.commands.channel_lists import parse_filter_words
from bot.config import ConfigError, Settings, configured_lists, parse_settings, requests_per_5_minutes
from bot.delivery.wording import list_section_field, render
from bot.digest.week import list_section
from bot.digest.weekly import compute_digest
from bot.domain.events import ALERT_KINDS
from bot.source.hub import HubError, HubSource
from store import labels
from store.db import migrations, open_database
from tests.fakes.hub import FakeHub, hub_dataset, hub_model, hub_space, ranked
from tests.support.app import alerts, open_app
from tests.support.cli import bot

CN = [f"Qwen/q{i}" for i in range(10)]
US = [f"meta-llama/l{i}" for i in range(10)]
SPACES = [f"org{i}/space{i}" for i in range(12)]


def spaces(ids: list[str]) -> list[dict[str, Any]]:
    return [hub_space(space_id, score=1000 - 10 * i) for i, space_id in enumerate(ids)]


def lists_settings(hub: FakeHub, db: Path, **extra: Any) -> Settings:
    data: dict[str, Any] = {
        "hub": {"endpoint": hub.endpoint, "retry_budget": "2s", "failures_before_notice": 2},
        "store": {"path": str(db)},
        "console": {"enabled": True, "format": "jsonl"},
        "lists": [
            {"name": "spaces", "kind": "spaces", "top_n": 5},
            {"name": "text-to-image", "kind": "models", "pipeline_tag": "text-to-image", "top_n": 3},
            {"name": "data", "kind": "datasets", "top_n": 3, "author": "HuggingFaceFW"},
        ],
    }
    data.update(extra)
    return parse_settings(data, env={})


def test_lists_config_defaults_and_names():
    settings = parse_settings({"lists": [{"name": "spaces", "kind": "spaces"}]}, env={})
    assert [(s.name, s.kind, s.top_n, s.depth) for s in configured_lists(settings)] == [
        ("models", "models", 10, 50), ("spaces", "spaces", 10, 50)]
    assert parse_settings({}, env={}).lists == ()


@pytest.mark.parametrize(("data", "message"), [
    ({"lists": [{"name": "Spaces!", "kind": "spaces"}]}, "lists[0].name"),
    ({"lists": [{"name": "spaces", "kind": "spaces", "depth": 5}]}, "lists[0].depth: 5 is less than its top_n 10"),
    ({"lists": [{"name": "cn", "kind": "spaces"}]}, "'cn' reads as a count or a country code"),
    ({"routes": [{"platform": "console", "channel": "x", "lists": []}]}, "routes[0].lists"),
    ({"lists": [{"name": "10", "kind": "spaces"}]}, "'10' reads as a count or a country code"),
    ({"lists": [{"name": "models"}]}, "'models' is the default list's name"),
    ({"lists": [{"name": "a"}, {"name": "a"}]}, "'a' is declared twice"),
    ({"lists": [{"name": "s", "kind": "spaces", "pipeline_tag": "x"}]}, "pipeline_tag filters models only"),
    ({"lists": [{"name": "s", "kind": "books"}]}, "lists[0].kind"),
    ({"routes": [{"platform": "console", "channel": "x", "lists": ["spaces"]}]}, "routes[0].lists: unknown list"),
    ({"share_rules": [{"country": "CN", "above": 50, "list": "nope"}]}, "share_rules[0].list: unknown list"),
    ({"watch": [{"author": "a", "list": "nope"}]}, "watch[0].list: unknown list"),
    ({"watch": [{"author": "a", "model": "a/b"}]}, "exactly one of 'author' or 'model'"),
])
def test_bad_lists_config_is_one_clear_line(data: dict[str, Any], message: str):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_settings(data, env={})


def test_a_config_beyond_the_hub_rate_limit_is_refused():
    lists = [{"name": "spaces", "kind": "spaces"}, {"name": "t2i", "pipeline_tag": "text-to-image"}]
    # models: 1 listing + 10 lineage; t2i the same; spaces 1: 23 a poll, one poll in 5 minutes.
    ok = parse_settings({"lists": lists}, env={})
    assert requests_per_5_minutes(ok) == 23
    assert parse_settings({"lists": lists, "hub": {"poll_interval": "15s"}}, env={})  # 23 x 20 = 460
    with pytest.raises(ConfigError, match="above the Hub's limit of 500"):
        parse_settings({"lists": lists, "hub": {"poll_interval": "10s"}}, env={})  # 23 x 30 = 690
    # Without [[lists]] nothing changes: today's configs are not budget-checked.
    assert parse_settings({"hub": {"poll_interval": "1s"}}, env={}).hub.lineage_lookups == 10


async def test_each_list_is_fetched_with_its_filters_stored_and_named_in_alerts(fake_hub: FakeHub, db_path: Path):
    stream = io.StringIO()
    fake_hub.models = ranked(US[:8] + CN[:2]) + [
        hub_model(f"bfl/flux{i}", score=50 - i, pipeline_tag="text-to-image") for i in range(4)]
    fake_hub.spaces = spaces(SPACES[:6])
    fake_hub.datasets = [hub_dataset(f"HuggingFaceFW/fine{i}", 90 - i) for i in range(4)] + [
        hub_dataset("other/data", 100)]
    app = await open_app(lists_settings(fake_hub, db_path), stream)
    try:
        first = await app.poll()
        assert first.error is None and first.events == ()
        sent = {r.path: dict(r.query) for r in fake_hub.requests}
        assert sent["/api/spaces"]["sort"] == "trendingScore"
        assert sent["/api/models"].get("pipeline_tag") in (None, "text-to-image")
        assert any(r.query.get("pipeline_tag") == "text-to-image" for r in fake_hub.requests_to("/api/models"))
        assert [r.query.get("author") for r in fake_hub.requests_to("/api/datasets")] == ["HuggingFaceFW"]

        fake_hub.spaces = spaces([SPACES[7], *SPACES[:5]])
        fake_hub.models = ranked(US[:8] + CN[:2]) + [
            hub_model(f"bfl/flux{i}", score=50 - i, pipeline_tag="text-to-image") for i in (3, 0, 1, 2)]
        second = await app.poll()
        assert second.error is None
        await app.deliver()
        printed = alerts(stream)
        assert {a["list"] for a in printed} == {"spaces", "text-to-image"}
        entered = {a["list"]: a for a in printed if a["kind"] == "entered"}
        assert [m["id"] for m in entered["spaces"]["models"]] == [SPACES[7]]
        assert entered["spaces"]["list_kind"] == "spaces"
        assert [m["id"] for m in entered["text-to-image"]["models"]] == ["bfl/flux3"]
        leaders = [a for a in printed if a["kind"] == "new_leader"]
        assert leaders == []  # a newcomer at #1 is announced as an entry, not twice
    finally:
        await app.close()

    with sqlite3.connect(db_path) as conn:
        per_list = dict(conn.execute("SELECT list, COUNT(*) FROM snapshots GROUP BY list").fetchall())
        assert per_list == {"models": 2, "spaces": 2, "text-to-image": 2, "data": 2}
        sdk = conn.execute("SELECT DISTINCT i.library_name FROM entries e JOIN snapshots s ON s.id = e.snapshot_id"
                           " JOIN items i ON i.id = e.item_id WHERE s.list = 'spaces'").fetchall()
        assert sdk == [("gradio",)]
        # The default list's per-model memory holds models only: no Space, no list of another kind.
        models = "SELECT COUNT(*) FROM items WHERE list = 'models' AND hub_id LIKE 'org%'"
        assert conn.execute(models).fetchone() == (0,)


async def test_one_list_failing_does_not_stop_the_others_and_has_its_own_notice(fake_hub: FakeHub, db_path: Path):
    stream = io.StringIO()
    fake_hub.models = ranked(US[:8] + CN[:2]) + [
        hub_model(f"bfl/flux{i}", score=50 - i, pipeline_tag="text-to-image") for i in range(4)]
    fake_hub.datasets = [hub_dataset(f"HuggingFaceFW/fine{i}", 90 - i) for i in range(4)]
    fake_hub.spaces = spaces(SPACES[:2])  # fewer than its top 5: unusable, counted
    app = await open_app(lists_settings(fake_hub, db_path), stream)
    try:
        for _ in range(3):
            result = await app.poll()
            assert result.error is not None and "list spaces" in result.error and "fewer than the top 5" in result.error
        await app.deliver()
        failing = [a for a in alerts(stream) if a["kind"] == "source"]
        assert [(a["list"], a["state"]) for a in failing] == [("spaces", "failing")]

        fake_hub.spaces = spaces(SPACES[:6])
        assert (await app.poll()).error is None
        await app.deliver()
        notices = [(a["list"], a["state"]) for a in alerts(stream) if a["kind"] == "source"]
        assert notices == [("spaces", "failing"), ("spaces", "recovered")]
    finally:
        await app.close()
    with sqlite3.connect(db_path) as conn:
        per_list = dict(conn.execute("SELECT list, COUNT(*) FROM snapshots GROUP BY list").fetchall())
        assert per_list == {"models": 4, "text-to-image": 4, "data": 4, "spaces": 1}


async def test_share_rules_of_a_list_use_its_own_keys(fake_hub: FakeHub, db_path: Path):
    stream = io.StringIO()
    settings = lists_settings(fake_hub, db_path, share_rules=[
        {"country": "CN", "above": 50}, {"country": "CN", "above": 50, "list": "text-to-image"}])
    fake_hub.models = ranked(US[:8] + CN[:2]) + [
        hub_model(f"bfl/flux{i}", score=50 - i, pipeline_tag="text-to-image") for i in range(4)]
    fake_hub.spaces = spaces(SPACES[:6])
    fake_hub.datasets = [hub_dataset(f"HuggingFaceFW/fine{i}", 90 - i) for i in range(4)]
    app = await open_app(settings, stream)
    try:
        await app.poll()
        fake_hub.models = ranked(CN[:6] + US[:4]) + [
            hub_model(f"Qwen/image{i}", score=60 - i, pipeline_tag="text-to-image") for i in range(2)] + [
            hub_model(f"bfl/flux{i}", score=50 - i, pipeline_tag="text-to-image") for i in range(4)]
        await app.poll()
        await app.deliver()
        share = sorted((a["list"], a["state"]) for a in alerts(stream) if a["kind"] == "share")
        assert share == [("models", "firing"), ("text-to-image", "firing")]
    finally:
        await app.close()
    with sqlite3.connect(db_path) as conn:
        keys = {key for (key,) in conn.execute("SELECT key FROM rule_state")}
        assert keys == {"CN:above:50", "text-to-image:CN:above:50"}


async def test_an_existing_database_migrates_with_its_history_as_the_models_list(fake_hub: FakeHub, db_path: Path):
    stream = io.StringIO()
    single = parse_settings({"hub": {"endpoint": fake_hub.endpoint}, "store": {"path": str(db_path)},
                             "console": {"enabled": True, "format": "jsonl"}}, env={})
    # A file of the release before migration 0005: made by its migrations, holding one poll as it stored it.
    with sqlite3.connect(db_path) as conn:
        for number, _, sql in migrations()[:4]:
            conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
        taken = "2025-07-21T00:00:00.000000Z"
        conn.execute("INSERT INTO snapshots (id, taken_at, top_n, depth, source, top_counts)"
                     " VALUES (1, ?, 10, 10, 'hub', '{\"CN\": 2, \"US\": 8}')", (taken,))
        for rank, model in enumerate(US[:8] + CN[:2], start=1):
            country, via = ("CN", "Qwen") if model in CN else ("US", "meta-llama")
            conn.execute("INSERT INTO models (id, hub_id, first_seen, last_seen, best_rank, best_rank_at, first_in_top,"
                         " last_in_top, top_polls) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
                         (rank, model, taken, taken, rank, taken, taken, taken))
            conn.execute("INSERT INTO entries (snapshot_id, rank, model_id, country, country_method, country_via)"
                         " VALUES (1, ?, ?, ?, 'namespace', ?)", (rank, rank, country, via))
        conn.execute("INSERT INTO destinations (platform, channel, kinds, origin, subscribed_at)"  # before that poll
                     " VALUES ('console', 'stdout', ?, 'console', ?)", (json.dumps(list(ALERT_KINDS)), taken))
    db = await open_database(db_path)
    await db.close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT list FROM snapshots").fetchall() == [("models",)]
        plan = " ".join(str(row) for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM snapshots WHERE list = 'models'"
            " ORDER BY taken_at DESC, id DESC LIMIT 2"))
        assert "snapshots_by_list_time" in plan
    fake_hub.models = ranked(US[:6] + CN[:4])
    app = await open_app(single, stream)
    try:
        result = await app.poll()
        await app.deliver()
    finally:
        await app.close()
    assert result.snapshot_id == 2
    entered = [a for a in alerts(stream) if a["kind"] == "entered"]
    assert [m["id"] for m in entered[0]["models"]] == ["Qwen/q2", "Qwen/q3"] and entered[0]["list"] == "models"


def test_the_digest_gives_another_list_a_short_section():
    spec = configured_lists(lists_settings_plain())[1]
    week = [(1, 1, "a/x"), (1, 2, "b/y"), (2, 1, "c/new"), (2, 2, "a/x")]
    section = list_section(spec, week, before={"a/x", "b/y"})
    assert (section.snapshots, section.newcomers, section.leaders) == (2, ("c/new",), ("a/x", "c/new"))
    field = list_section_field(section)
    assert field.name == "[spaces] trending Spaces (top 5)"
    assert ["".join(span.text for span in text) for text in field.value] == [
        "#1: a/x, c/new", "New in the top 5: c/new"]
    empty = list_section_field(section.model_copy(update={"snapshots": 0}))
    assert "No snapshot of this list that week." in empty.value[0][0].text


def lists_settings_plain() -> Settings:
    return parse_settings({"lists": [{"name": "spaces", "kind": "spaces", "top_n": 5}]}, env={})


def test_slack_words_name_a_list():
    names = ("models", "spaces")
    assert parse_command("spaces 5", names) == ParsedCommand("trending", ("spaces", "5"))
    assert parse_command("spaces 5 cn", names) == ParsedCommand("trending", ("spaces", "5", "cn"))
    assert parse_command("spaces", ("models",)) == ParsedCommand("help", ("spaces",))
    assert parse_command("alerts filter countries=CN", names) == ParsedCommand("filter", ("countries=CN",))
    assert parse_command("alerts watch deepseek-ai spaces", names) == ParsedCommand(
        "watch", ("deepseek-ai", "spaces"))


def test_slack_filter_words():
    assert parse_filter_words(["countries=CN,", "US", "derivatives=false"]) == {
        "countries": "CN,,US", "derivatives": "false"}
    with pytest.raises(CommandError, match="Unknown filter 'colour'"):
        parse_filter_words(["colour=red"])
    with pytest.raises(CommandError, match="Use: alerts filter"):
        parse_filter_words(["CN"])


def test_reserved_list_names_are_refused():
    with pytest.raises(ConfigError, match="'share' is a command word"):
        parse_settings({"lists": [{"name": "share", "kind": "spaces"}]}, env={})


async def test_the_weekly_digest_carries_the_other_lists(fake_hub: FakeHub, db_path: Path):
    fake_hub.models = ranked(US[:8] + CN[:2]) + [
        hub_model(f"bfl/flux{i}", score=50 - i, pipeline_tag="text-to-image") for i in range(4)]
    fake_hub.spaces = spaces(SPACES[:6])
    fake_hub.datasets = [hub_dataset(f"HuggingFaceFW/fine{i}", 90 - i) for i in range(4)]
    app = await open_app(lists_settings(fake_hub, db_path))
    try:
        await app.poll()
        fake_hub.spaces = spaces([SPACES[7], *SPACES[:5]])
        await app.poll()
        now = datetime.now(UTC) + timedelta(seconds=1)
        iso = now.isocalendar()
        digest = await compute_digest(app.db.conn, app.settings, f"{iso.year}-W{iso.week:02d}", now)
    finally:
        await app.close()
    assert [section.name for section in digest.lists] == ["spaces", "text-to-image", "data"]
    section = digest.lists[0]
    assert section.snapshots == 2 and section.leaders == (SPACES[0], SPACES[7]) and SPACES[7] in section.newcomers
    fields = [field.name for field in render(digest).fields]
    assert "[spaces] trending Spaces (top 5)" in fields and "[data] trending datasets (top 3)" in fields


def list_source(hub: FakeHub, **spec: Any) -> HubSource:
    settings = parse_settings({"lists": [{"name": "x", **spec}]}, env={})
    listed = configured_lists(settings)[1]
    return HubSource(hub.endpoint, listed.depth, budget=timedelta(seconds=3), lineage_lookups=0, spec=listed)


async def test_a_list_source_reads_drifting_fields_as_unknown(fake_hub: FakeHub, caplog: pytest.LogCaptureFixture):
    fake_hub.spaces = spaces(SPACES[:12])
    source = list_source(fake_hub, kind="spaces")
    fake_hub.drift(likes="lots")
    snapshot = await source.fetch()
    assert len(snapshot.entries) == 12 and {e.likes for e in snapshot.entries} == {None}
    fake_hub.drift(times=2, createdAt="yesterday")  # the client cannot parse it: read raw, the field is unknown
    snapshot = await source.fetch()
    assert [e.id for e in snapshot.entries] == SPACES[:12] and {e.created_at for e in snapshot.entries} == {None}
    assert {r.query.get("sort") for r in fake_hub.requests_to("/api/spaces")} == {"trendingScore"}


async def test_a_list_source_fails_with_one_line(fake_hub: FakeHub):
    fake_hub.datasets = [hub_dataset(f"HuggingFaceFW/fine{i}", 90 - i) for i in range(4)]
    source = list_source(fake_hub, kind="datasets")
    fake_hub.answer_raw("<html>not json</html>")
    with pytest.raises(HubError, match="not the expected JSON"):
        await source.fetch()
    fake_hub.fail(503)  # retried within the budget
    assert len((await source.fetch()).entries) == 4
    fake_hub.fail(404, times=-1)
    with pytest.raises(HubError, match="HTTP 404"):
        await source.fetch()


async def test_check_config_shows_the_lists_and_their_hub_budget(tmp_path: Path):
    config = tmp_path / "c.toml"
    config.write_text('[[lists]]\nname = "spaces"\nkind = "spaces"\n\n[[watch]]\nauthor = "deepseek-ai"\n')
    run = await bot("check-config", "--config", str(config))
    assert run.code == 0 and "lists: models (models, top 10 of 50), spaces (spaces, top 10 of 50)" in run.out
    assert "1 watch(es); at most 12 Hub requests in 5 minutes" in run.out
    config.write_text('[hub]\npoll_interval = "5s"\n\n[[lists]]\nname = "spaces"\nkind = "spaces"\n')
    refused = await bot("check-config", "--config", str(config))
    assert refused.code == 2 and "lists: 2 lists at hub.poll_interval" in refused.err
    assert "above the Hub's limit of 500" in refused.err and "Traceback" not in refused.err


async def test_library_and_author_filters_reach_the_hub(fake_hub: FakeHub):
    fake_hub.models = ranked(US[:8] + CN[:2]) + [
        hub_model(f"bfl/img{i}", score=50 - i, pipeline_tag="text-to-image", library_name="diffusers")
        for i in range(3)] + [hub_model("Qwen/image", pipeline_tag="text-to-image", library_name="diffusers")]
    source = list_source(fake_hub, kind="models", library="diffusers", author="bfl")
    snapshot = await source.fetch()
    assert [e.id for e in snapshot.entries] == ["bfl/img0", "bfl/img1", "bfl/img2"]
    asked = fake_hub.requests_to("/api/models")[-1].query
    assert asked.getall("filter") == ["diffusers"] and asked["author"] == "bfl" and asked["sort"] == "trendingScore"


async def test_the_other_lists_history_is_reattributed_with_labels(fake_hub: FakeHub, db_path: Path):
    fake_hub.models = ranked(US[:8] + CN[:2]) + [
        hub_model(f"bfl/flux{i}", score=50 - i, pipeline_tag="text-to-image") for i in range(4)]
    fake_hub.spaces = spaces(SPACES[:6])
    fake_hub.datasets = [hub_dataset(f"HuggingFaceFW/fine{i}", 90 - i) for i in range(4)]
    app = await open_app(lists_settings(fake_hub, db_path))
    try:
        await app.poll()
        before = await share_view(app.db.conn, 7, "spaces")
        assert [(row.country, row.count) for row in before.countries] == [("unknown", 5)]
        async with app.db.transaction() as conn:
            await labels.set_label(conn, "org0", "FR", "test", datetime.now(UTC))
        result = await reattribute(app.db, app.settings, datetime.now(UTC))
        assert result.changed >= 1
        after = await share_view(app.db.conn, 7, "spaces")
        assert {row.country: row.count for row in after.countries} == {"unknown": 4, "FR": 1}
        view = await trending_view(app.db.conn, None, None, "spaces", "spaces")
        assert (view.rows[0].id, view.rows[0].country, view.rows[0].country_method) == (SPACES[0], "FR", "label")
    finally:
        await app.close()


async def test_a_dataset_and_a_model_with_one_id_are_reattributed_apart(fake_hub: FakeHub, db_path: Path):
    """`jane/shared` is a fine-tune of a Chinese model on two model lists and a dataset on a third: each
    list's item keeps the decision its own tags give, whichever list was polled last."""
    shared = "jane/shared"
    fake_hub.models = [  # #2 on the default list, #1 on text-to-image
        *ranked(US[:1]),
        hub_model(shared, score=995, pipeline_tag="text-to-image", tags=["base_model:finetune:Qwen/q0"]),
        *ranked(US[1:8] + CN[:2]),
        *[hub_model(f"bfl/flux{i}", score=50 - i, pipeline_tag="text-to-image") for i in range(3)]]
    fake_hub.spaces = spaces(SPACES[:6])
    fake_hub.datasets = [hub_dataset(f"HuggingFaceFW/{name}", 90 - i) for i, name in enumerate(["shared", "a", "b"])]
    fake_hub.datasets.insert(0, hub_dataset(shared, 100))
    settings = lists_settings(fake_hub, db_path, lists=[
        {"name": "text-to-image", "kind": "models", "pipeline_tag": "text-to-image", "top_n": 3},
        {"name": "data", "kind": "datasets", "top_n": 3}])  # polled after the models lists

    async def origins() -> dict[str, tuple[str, str]]:
        found = {}
        for name, kind in (("models", "models"), ("text-to-image", "models"), ("data", "datasets")):
            view = await trending_view(app.db.conn, None, None, name, kind)
            found[name] = next((row.country, row.country_method) for row in view.rows if row.id == shared)
        return found

    expected = {"models": ("CN", "base_model"), "text-to-image": ("CN", "base_model"), "data": ("unknown", "unknown")}
    app = await open_app(settings)
    try:
        await app.poll()
        assert await origins() == expected  # as the poll decided them
        await reattribute(app.db, app.settings, datetime.now(UTC))
        assert await origins() == expected
    finally:
        await app.close()


async def test_a_list_entry_without_an_id_is_one_clear_line(fake_hub: FakeHub):
    fake_hub.spaces = spaces(SPACES[:3])
    del fake_hub.spaces[1]["id"]
    with pytest.raises(HubError, match="entry #2 is without a usable space id"):
        await list_source(fake_hub, kind="spaces").fetch()


async def test_a_filtered_list_may_hold_fewer_than_its_top_n(fake_hub: FakeHub, db_path: Path):
    """One author's datasets: two is a real answer, not a Hub glitch (the overall lists stay strict)."""
    fake_hub.models = ranked(US[:8] + CN[:2]) + [
        hub_model(f"bfl/flux{i}", score=50 - i, pipeline_tag="text-to-image") for i in range(4)]
    fake_hub.spaces = spaces(SPACES[:6])
    fake_hub.datasets = [hub_dataset(f"HuggingFaceFW/fine{i}", 90 - i) for i in range(2)]  # top_n is 3
    app = await open_app(lists_settings(fake_hub, db_path))
    try:
        assert (await app.poll()).error is None
    finally:
        await app.close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM snapshots WHERE list = 'data'").fetchone() == (1,)


async def test_a_model_and_a_dataset_sharing_an_id_are_reattributed_each_by_its_own_tags(
    fake_hub: FakeHub, db_path: Path
):
    """`acme/x` the model is a quantization of Qwen's (China, by its base); `acme/x` the dataset has no
    lineage (unknown). One decision per id would give both lists the same country, whichever was stored last."""
    fake_hub.models = [*ranked(US[:8] + CN[:2]), hub_model("acme/x", score=5,
                                                           tags=["base_model:quantized:Qwen/Qwen3-8B"])]
    fake_hub.datasets = [hub_dataset("acme/x", 90)]
    settings = lists_settings(fake_hub, db_path, lists=[
        {"name": "acme-models", "kind": "models", "author": "acme", "top_n": 1},
        {"name": "acme-data", "kind": "datasets", "author": "acme", "top_n": 1}])

    async def stored(app: Any) -> dict[str, tuple[str, str]]:
        async with app.db.conn.execute(
            "SELECT s.list, e.country, e.country_method FROM entries e JOIN snapshots s ON s.id = e.snapshot_id"
            " JOIN items i ON i.id = e.item_id WHERE i.hub_id = 'acme/x' AND s.list <> 'models'") as cursor:
            return {str(name): (str(country), str(method)) for name, country, method in await cursor.fetchall()}

    app = await open_app(settings)
    try:
        assert (await app.poll()).error is None
        polled = await stored(app)
        assert polled == {"acme-models": ("CN", "base_model"), "acme-data": ("unknown", "unknown")}
        await reattribute(app.db, app.settings, datetime.now(UTC))
        assert await stored(app) == polled
    finally:
        await app.close()
