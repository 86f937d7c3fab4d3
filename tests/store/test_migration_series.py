"""Migration 0008 (every list one series: `items`, `entries`, `source_health` keyed by list) on a store at schema 6.

The store is made by the old migrations and old-shaped rows (tests/support/schema6.py). The answers it gave
before the migration were captured with the code of that time into tests/support/schema6_answers.json; after
the migration the same questions must get the same answers, and the next poll must alert as it would
have: the entries and the Space that are new, the recoveries of both failing sources, no new baseline.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.console import ConsoleAdapter, render_text
from bot.app import Trendwatch
from bot.attribution.upkeep import audit
from bot.commands.answers import model_message, share_message, share_view, trending_message, trending_view
from bot.commands.caller import CommandError
from bot.config import Secrets, Settings, parse_settings
from bot.digest.weekly import list_sections
from store import history, snapshots, watches
from store.channel_filters import all_filters
from store.db import Conn, open_database
from store.destinations import active_destinations, current_routing
from store.series import series_of
from tests.fakes.hub import FakeHub, hub_dataset, hub_space, ranked
from tests.support.cli import REPO
from tests.support.schema6 import SHARED, T, build_schema6
from tests.support.stores import query, store_env, store_of

GOLDEN = REPO / "tests" / "support" / "schema6_answers.json"
LISTS = [{"name": "spaces", "kind": "spaces", "top_n": 3, "depth": 4},
         {"name": "datasets", "kind": "datasets", "top_n": 3, "depth": 3}]


def settings_for(hub: FakeHub, db: Path) -> Settings:
    return parse_settings({
        "hub": {"endpoint": hub.endpoint, "retry_budget": "3s", "top_n": 3, "depth": 5, "lineage_lookups": 0},
        "store": {"path": str(db)},
        "console": {"enabled": True, "format": "jsonl"},
        "share_rules": [{"country": "CN", "above": 50}],
        "lists": LISTS,
    }, env=store_env())


async def _model(conn: Conn, hub_id: str) -> str:
    try:
        return render_text(await model_message(conn, hub_id))
    except CommandError as exc:
        return f"error: {exc}"


async def answers(conn: Conn, settings: Settings) -> dict[str, Any]:
    """What `trending`, `share`, `/model`, `channels`, `attribution`, the digest and the health endpoint say."""
    found: dict[str, Any] = {}
    for name, kind in (("models", "models"), ("spaces", "spaces"), ("datasets", "datasets")):
        found[f"trending {name}"] = render_text(trending_message(await trending_view(conn, None, None, name, kind)))
        top_two = await trending_view(conn, 2, None, name, kind)
        found[f"trending {name} json"] = [asdict(row) for row in top_two.rows]
        found[f"share {name}"] = render_text(share_message(await share_view(conn, 7, name)))
        found[f"health {name}"] = repr(await series_of(name).health(conn))
    for hub_id in ("qwen/Q0", SHARED, "mistralai/m0", "someone/shared", "Qwen/demo", "nobody/x1"):
        found[f"model {hub_id}"] = await _model(conn, hub_id)
    found["search q"] = await snapshots.search_models(conn, "q")
    found["search wen/"] = await snapshots.search_models(conn, "wen/")
    found["channels"] = [repr(d) for d in await active_destinations(conn)]
    found["filters"] = {str(k): repr(v) for k, v in (await all_filters(conn)).items()}
    found["watches"] = [repr(w) for w in await watches.all_watches(conn)]
    found["channel rules"] = [list(r) for r in (await current_routing(conn)).channel_rules]
    found["attribution"] = [asdict(row) for row in await audit(conn, T - timedelta(days=30))]
    week = await history.week_rows(conn, T - timedelta(days=1), T + timedelta(days=1))
    found["week"] = [repr(week.snapshots), repr(week.top), sorted(week.first_ranks.items()),
                     sorted(week.last_ranks.items()), sorted((k, repr(v)) for k, v in week.first_in_top.items())]
    found["sections"] = repr(await list_sections(conn, settings, T - timedelta(hours=1), T + timedelta(days=1)))
    return found


def alerts(stream: io.StringIO) -> list[dict[str, Any]]:
    """The console's alerts without the moment they were made (the poll's own clock)."""
    found = []
    for text in stream.getvalue().splitlines():
        if text.strip():
            alert = json.loads(text)
            alert.pop("taken_at", None)
            found.append(alert)
    return found


async def next_poll(hub: FakeHub, settings: Settings) -> dict[str, Any]:
    """One poll of every list after the stored ones, and the console's deliveries."""
    hub.models = ranked(["Qwen/q0", "mistralai/m0", "meta-llama/l0", "bob/x", "deepseek-ai/V4"])
    hub.spaces = [hub_space(s, score=100 - i) for i, s in enumerate(["Qwen/demo", "org9/new", "org0/space0",
                                                                        "org1/space1"])]
    hub.datasets = [hub_dataset(d, score=100 - i) for i, d in enumerate(["Qwen/data", SHARED, "org3/d"])]
    stream = io.StringIO()
    app = await Trendwatch.open(settings, Secrets.from_env({}), {"console": ConsoleAdapter("jsonl", stream)})
    try:
        assert await app.acquire_lease() is None
        result = await app.poll()
        await app.deliver()
    finally:
        await app.close()
    return {"error": result.error, "events": [(e.kind, e.list) for e in result.events], "alerts": alerts(stream)}


async def test_a_schema_6_store_answers_and_alerts_as_before(fake_hub: FakeHub, db_path: Path):
    target = store_of(db_path)
    await build_schema6(target)
    settings = settings_for(fake_hub, db_path)
    db = await open_database(target)
    try:
        found: dict[str, Any] = {"answers": await answers(db.conn, settings)}
    finally:
        await db.close()
    found["poll"] = await next_poll(fake_hub, settings)
    found["pending"] = [list(row) for row in query(
        db_path, "SELECT destination_id, status, COUNT(*) FROM outbox GROUP BY destination_id, status"
                 " ORDER BY destination_id, status")]
    if os.environ.get("CAPTURE_SCHEMA6"):  # how the golden file was written, by the code before 0008
        GOLDEN.write_text(json.dumps(found, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
        pytest.skip("captured")
    expected = json.loads(GOLDEN.read_text())
    found = json.loads(json.dumps(found))  # tuples as JSON lists, as in the golden file
    # Kinds added after the golden file (the console takes every kind) come beside the old alerts, not instead.
    newer = {"left", "climber"}
    added = [alert for alert in found["poll"]["alerts"] if alert["kind"] in newer]
    assert [(alert["kind"], alert["list"]) for alert in added] == [("left", "models"), ("left", "spaces")]
    found["poll"]["events"] = [event for event in found["poll"]["events"] if event[0] not in newer]
    found["poll"]["alerts"] = [alert for alert in found["poll"]["alerts"] if alert["kind"] not in newer]
    # Fields added after it (an entry's likes and downloads, which templates read) likewise come beside.
    later_fields = {"likes", "downloads"}
    for alert in found["poll"]["alerts"]:
        for model in alert.get("models", []):
            assert later_fields <= set(model), model
            for name in later_fields:
                del model[name]
        if alert["kind"] in {"new_leader", "watched"}:
            for name in later_fields & set(alert):
                del alert[name]
    found["pending"] = [[dest, status, n - len(added) if (dest, status) == (1, "delivered") else n]
                        for dest, status, n in found["pending"]]
    for key, value in expected["answers"].items():
        assert found["answers"][key] == value, key
    assert found == expected
