"""The real huggingface_hub client against the fake Hub: retries, Retry-After, the time budget, validation."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest

from bot.source.hub import HubError, HubSource
from tests.fakes.hub import FakeHub, hub_model, ranked

IDS = [f"Qwen/m{i}" for i in range(60)]


def source(hub: FakeHub, budget: float = 5, timeout: float = 2, depth: int = 50) -> HubSource:
    return HubSource(hub.endpoint, depth=depth, budget=timedelta(seconds=budget), timeout=timedelta(seconds=timeout))


async def test_fetch_asks_for_trending_with_depth_and_ranks_in_order(fake_hub: FakeHub):
    fake_hub.models = ranked(IDS)
    snapshot = await source(fake_hub, depth=30).fetch()
    assert [e.rank for e in snapshot.entries] == list(range(1, 31))
    assert snapshot.entries[0].id == "Qwen/m0" and snapshot.entries[0].trending_score == 1000
    query = fake_hub.list_requests[0].query
    assert (query["sort"], query["limit"]) == ("trendingScore", "30")


async def test_5xx_is_retried_then_succeeds(fake_hub: FakeHub):
    fake_hub.models = ranked(IDS)
    fake_hub.fail(503, times=2)
    snapshot = await source(fake_hub).fetch()
    assert len(snapshot.entries) == 50 and len(fake_hub.list_requests) == 3


async def test_429_waits_for_retry_after(fake_hub: FakeHub):
    fake_hub.models = ranked(IDS)
    fake_hub.fail(429, retry_after=1.5)
    started = time.monotonic()
    await source(fake_hub).fetch()
    assert time.monotonic() - started >= 1.5
    assert len(fake_hub.list_requests) == 2


async def test_retry_after_beyond_the_budget_gives_up_at_once(fake_hub: FakeHub):
    fake_hub.fail(429, retry_after=600, times=-1)
    started = time.monotonic()
    with pytest.raises(HubError, match="429"):
        await source(fake_hub, budget=3).fetch()
    assert time.monotonic() - started < 2


async def test_persistent_failure_is_bounded_by_the_budget(fake_hub: FakeHub):
    fake_hub.fail(500, times=-1)
    started = time.monotonic()
    with pytest.raises(HubError, match="HTTP 500"):
        await source(fake_hub, budget=2.5).fetch()
    elapsed = time.monotonic() - started
    # the bound, with room for a loaded machine: without it the fetch would retry for as long as the Hub fails
    assert 0.5 <= elapsed < 10 and len(fake_hub.list_requests) >= 2


async def test_a_hanging_hub_times_out(fake_hub: FakeHub):
    fake_hub.models = ranked(IDS)
    fake_hub.slow(5, times=-1)
    started = time.monotonic()
    with pytest.raises(HubError, match="in time"):
        await source(fake_hub, budget=1, timeout=0.5).fetch()
    assert time.monotonic() - started < 4


async def test_unreachable_hub_is_a_clear_error():
    hub = FakeHub()
    hub.port = 9  # nothing listens there
    with pytest.raises(HubError, match="cannot reach"):
        await source(hub, budget=0).fetch()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json at all", "not the expected JSON"),
        ("[]", "empty"),
        ('[{"likes": 1}]', "without"),
        ('{"error": "oops"}', "not a list"),
        ('[{"id": "a/b"}, {"id": "a/b"}]', "twice"),
    ],
)
async def test_unusable_answers_are_errors(fake_hub: FakeHub, body: str, message: str):
    fake_hub.answer_raw(body)
    with pytest.raises(HubError, match=message):
        await source(fake_hub).fetch()


async def test_lineage_lookup_answers_tags_and_maps_unknown_models_to_no_bases(fake_hub: FakeHub):
    """A model the Hub does not know is an answer (cached as 'no bases'), not an error to retry."""
    fake_hub.models = ranked(["jane/ft"], tags=["base_model:Qwen/Qwen3-8B"])
    found = await source(fake_hub).lookup_tags(["jane/ft", "nobody/missing"])
    assert list(found) == ["jane/ft", "nobody/missing"] and found["nobody/missing"] == []
    assert "base_model:Qwen/Qwen3-8B" in found["jane/ft"]


async def test_lineage_lookup_asks_for_base_models_and_reads_the_relation(fake_hub: FakeHub):
    """`expand=["baseModels", "tags"]`: a base answered only as `baseModels` still becomes a relation tag."""
    fake_hub.describe([hub_model("jane/q-GGUF", tags=["gguf"])])
    fake_hub.details["jane/q-GGUF"]["baseModels"] = {"relation": "quantized", "models": [{"id": "Qwen/Qwen3-8B"}]}
    found = await source(fake_hub).lookup_tags(["jane/q-GGUF"])
    assert "gguf" in found["jane/q-GGUF"] and "base_model:quantized:Qwen/Qwen3-8B" in found["jane/q-GGUF"]
    assert fake_hub.detail_requests[-1].query.getall("expand") == ["baseModels", "tags"]


async def test_lineage_lookup_skips_a_failing_answer(fake_hub: FakeHub):
    fake_hub.describe([hub_model("jane/ft", tags=["base_model:finetune:Qwen/Qwen3-8B"])])
    fake_hub.fail(500)
    assert await source(fake_hub).lookup_tags(["jane/ft"]) == {}


@pytest.mark.parametrize("tags", [5, "base_model:Qwen/Qwen3-8B", [1, None, "gguf"]])
async def test_lineage_lookup_of_drifted_tags_is_no_lineage_not_a_crash(fake_hub: FakeHub, tags: object):
    fake_hub.describe([hub_model("jane/ft")])
    fake_hub.details["jane/ft"]["tags"] = tags
    found = await source(fake_hub).lookup_tags(["jane/ft"])
    assert all(isinstance(tag, str) for tag in found.get("jane/ft", []))
    assert not any(tag.startswith("base_model:") for tag in found.get("jane/ft", []))


@pytest.mark.parametrize(
    ("drift", "field"),
    [
        ({"trendingScore": "x"}, "trendingScore"),
        ({"likes": 2**64}, "likes"),
        ({"likes": "lots"}, "likes"),
        ({"downloads": -5}, "downloads"),
        ({"pipeline_tag": ["text-generation"]}, "pipeline_tag"),
        ({"createdAt": "last tuesday"}, "createdAt"),
        ({"tags": "transformers"}, "tags"),
        ({"tags": [1, 2]}, "tags"),
        ({"library_name": {"name": "transformers"}}, "library_name"),
    ],
)
async def test_drifting_optional_fields_become_unknown_with_one_warning(
    fake_hub: FakeHub, caplog: pytest.LogCaptureFixture, drift: dict[str, Any], field: str
):
    fake_hub.models = ranked(IDS[:20])
    fake_hub.drift(**drift)
    with caplog.at_level("WARNING", logger="bot.source.hub"):
        snapshot = await source(fake_hub, depth=20).fetch()
    assert [e.id for e in snapshot.entries] == IDS[:20]
    attribute = {"trendingScore": "trending_score", "createdAt": "created_at"}.get(field, field)
    assert {getattr(e, attribute) for e in snapshot.entries} == {() if field == "tags" else None}
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and f"{field} (20 entries)" in warnings[0], warnings


async def test_fields_of_the_right_type_are_kept_without_warning(fake_hub: FakeHub, caplog: pytest.LogCaptureFixture):
    fake_hub.models = ranked(IDS[:3], likes=7, downloads=2**62)
    with caplog.at_level("WARNING", logger="bot.source.hub"):
        entry = (await source(fake_hub, depth=3).fetch()).entries[0]
    assert (entry.likes, entry.downloads, entry.trending_score, entry.pipeline_tag) == (
        7, 2**62, 1000.0, "text-generation")
    assert entry.created_at is not None and entry.created_at.year == 2025 and "region:us" in entry.tags
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


@pytest.mark.parametrize(
    "body",
    ['[{"id": 5}]', '[{"id": ""}]', '[{"id": "a b"}]', '[{"id": null}]', '["Qwen/m0"]', '[[1]]'],
)
async def test_an_answer_without_usable_ids_is_an_error(fake_hub: FakeHub, body: str):
    fake_hub.answer_raw(body)
    with pytest.raises(HubError, match=r"model id|not a list"):
        await source(fake_hub).fetch()


# The Hub's own 429 (hub-docs rate-limits.md): no Retry-After, but `RateLimit: "api";r=0;t=<seconds to the reset>`.


async def test_the_hubs_429_waits_for_the_reset_its_ratelimit_header_names(fake_hub: FakeHub):
    """A budget too short for the reset: the wait is bounded by the poll interval (15 min by default), not the
    budget, so the poll lands once the window resets instead of failing every poll until then."""
    fake_hub.models = ranked(IDS)
    fake_hub.rate_limit(requests=1, window=2)
    hub = source(fake_hub, budget=1)
    await hub.fetch()
    started = time.monotonic()
    snapshot = await hub.fetch()
    assert len(snapshot.entries) == 50
    assert time.monotonic() - started >= 1
    assert len(fake_hub.list_requests) == 3  # one 429, then one request after the reset


async def test_a_reset_beyond_the_poll_interval_fails_at_once_and_the_hub_is_asked_again_only_after_it(
    fake_hub: FakeHub
):
    fake_hub.models = ranked(IDS)
    fake_hub.rate_limit(requests=1, window=3)
    hub = HubSource(fake_hub.endpoint, depth=50, budget=timedelta(seconds=5), poll_interval=timedelta(seconds=1))
    await hub.fetch()
    started = time.monotonic()
    with pytest.raises(HubError, match=r"answered HTTP 429.*resets in 3 s"):
        await hub.fetch()
    with pytest.raises(HubError, match="not asking before then"):
        await hub.fetch()  # still limited: not asked
    assert time.monotonic() - started < 1
    assert len(fake_hub.list_requests) == 2
    await asyncio.sleep(2.2)  # the reset is now within a poll interval: waited for, then one request
    assert len((await hub.fetch()).entries) == 50
    assert len(fake_hub.list_requests) == 3


async def test_lineage_lookups_stop_at_the_hubs_429(fake_hub: FakeHub):
    fake_hub.rate_limit(requests=0, window=60)
    found = await source(fake_hub).lookup_tags(["a/one", "b/two", "c/three"])
    assert found == {} and len(fake_hub.detail_requests) == 1
