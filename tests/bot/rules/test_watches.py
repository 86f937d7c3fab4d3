"""Watchlists (issue 12): a watched author's first appearance in the fetched depth, a watched model entering
the top N; pure rules first, then through a poll against the fake Hub."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.rules.watches import WatchSpec, detect_watched, parse_target
from store import watches
from store.destinations import upsert_destination
from tests.conftest import T0, hours, snap
from tests.fakes.hub import FakeHub, hub_model, ranked
from tests.support.app import alerts, open_app, settings_for

FILLER = [f"meta-llama/l{i}" for i in range(40)]
DEEPSEEK = WatchSpec("author", "DeepSeek-AI")


def test_an_authors_model_is_announced_once_when_it_first_appears_anywhere_in_the_depth():
    before = snap(FILLER[:40])
    now = snap([*FILLER[:29], "deepseek-ai/V4", *FILLER[29:40]], at=T0 + hours(1))
    found = detect_watched(before, now, watches=[DEEPSEEK], top_n=10, seen_before=set())
    assert [(w.id, w.rank, w.reason, w.watch) for w in found] == [("deepseek-ai/V4", 30, "appeared",
                                                                    "author DeepSeek-AI")]
    assert detect_watched(before, now, watches=[DEEPSEEK], top_n=10, seen_before={"deepseek-ai/V4"}) == []


def test_the_first_snapshot_of_a_list_is_a_baseline_for_watches():
    assert detect_watched(None, snap(["deepseek-ai/V4"]), watches=[DEEPSEEK], top_n=10, seen_before=set()) == []


def test_a_watched_model_is_announced_when_it_enters_the_top_n():
    watch = WatchSpec("model", "Qwen/Qwen3-8B", scope=7)
    before = snap([*FILLER[:10], "Qwen/Qwen3-8B"])
    now = snap([*FILLER[:4], "Qwen/Qwen3-8B", *FILLER[4:10]], at=T0 + hours(1))
    found = detect_watched(before, now, watches=[watch], top_n=10, seen_before={"Qwen/Qwen3-8B"})
    assert [(w.id, w.rank, w.reason, w.scope) for w in found] == [("Qwen/Qwen3-8B", 5, "entered", 7)]
    assert detect_watched(now, now, watches=[watch], top_n=10, seen_before=set()) == []  # already in


@pytest.mark.parametrize(("text", "expected"), [
    ("deepseek-ai", ("author", "deepseek-ai")), (" Qwen/Qwen3-8B ", ("model", "Qwen/Qwen3-8B")),
])
def test_targets(text: str, expected: tuple[str, str]):
    assert parse_target(text) == expected


@pytest.mark.parametrize("text", ["", "a/b/c", "two words", "/"])
def test_bad_targets(text: str):
    with pytest.raises(ValueError, match="neither an author"):
        parse_target(text)


async def test_config_and_channel_watches_through_a_poll(fake_hub: FakeHub, db_path: Path):
    stream = io.StringIO()
    settings = settings_for(fake_hub, db_path, hub_settings={"depth": 40},
                            watch=[{"author": "deepseek-ai"}, {"model": "meta-llama/l20"}])
    fake_hub.models = ranked(FILLER[:40])
    app = await open_app(settings, stream)
    try:
        async with app.db.transaction() as conn:
            console = await upsert_destination(conn, "console", "stdout", ("entered",), "console", T0)
            assert await watches.add_watch(conn, console.id, "author", "moonshotai", "models", T0)
        await app.poll()
        fake_hub.models = ranked([*FILLER[:5], "meta-llama/l20", *FILLER[5:20], *FILLER[21:28],
                                  "deepseek-ai/V4", "moonshotai/Kimi-K3", *FILLER[28:37]])
        await app.poll()
        await app.deliver()
        watched = [(a["id"], a["rank"], a["reason"], a["watch"], a["list"]) for a in alerts(stream)
                   if a["kind"] == "watched"]
        # The console was re-subscribed to 'entered' only: config watches need the kind, its own watch does not.
        assert watched == [("moonshotai/Kimi-K3", 30, "appeared", "author moonshotai", "models")]
    finally:
        await app.close()


async def test_config_watches_reach_routes_taking_watched(fake_hub: FakeHub, db_path: Path):
    stream = io.StringIO()
    settings = settings_for(fake_hub, db_path, hub_settings={"depth": 40}, watch=[{"author": "deepseek-ai"}])
    fake_hub.models = ranked(FILLER[:40])
    app = await open_app(settings, stream)
    try:
        await app.poll()
        fake_hub.models = ranked([*FILLER[:29], "deepseek-ai/V4", *FILLER[29:39]])
        await app.poll()
        fake_hub.models = [hub_model("deepseek-ai/V4", 2000), *ranked(FILLER[:39])]
        await app.poll()  # already seen: no second 'appeared'; it enters the top 10 as an ordinary entry
        await app.deliver()
        printed = alerts(stream)
        assert [(a["id"], a["rank"]) for a in printed if a["kind"] == "watched"] == [("deepseek-ai/V4", 30)]
        assert [m["id"] for a in printed if a["kind"] == "entered" for m in a["models"]] == ["deepseek-ai/V4"]
    finally:
        await app.close()
