"""What `bot.source.hub_client` takes from huggingface_hub beyond its public API, pinned through the real client
against the fake Hub: a client upgrade that changes pagination, headers or the RateLimit parser fails here."""

from __future__ import annotations

import asyncio

from huggingface_hub import HfApi

from bot.domain.lists import ListSpec
from bot.source.hub import install_http_client
from bot.source.hub_client import listing_params, rate_limit, raw_listing
from tests.fakes.hub import PAGE, FakeHub, hub_model, hub_space


async def test_the_listing_follows_the_hubs_link_header_to_the_next_page(fake_hub: FakeHub) -> None:
    fake_hub.models = [hub_model(f"org/m{i}", score=5000 - i) for i in range(PAGE + 500)]
    spec = ListSpec("models", "models", top_n=10, depth=PAGE + 200)
    install_http_client(5.0)
    api = HfApi(endpoint=fake_hub.endpoint, token=False)
    items = await asyncio.to_thread(raw_listing, api, fake_hub.endpoint, spec)
    assert [item["id"] for item in items] == [f"org/m{i}" for i in range(PAGE + 200)]
    pages = fake_hub.requests_to("/api/models")
    assert len(pages) == 2 and pages[1].query["cursor"] == str(PAGE) and pages[1].query["sort"] == "trendingScore"


async def test_the_token_and_the_lists_filters_travel_with_the_request(fake_hub: FakeHub) -> None:
    fake_hub.spaces = [hub_space(f"org/s{i}") for i in range(3)]
    spec = ListSpec("apps", "spaces", top_n=3, depth=3, author="org")
    install_http_client(5.0)
    api = HfApi(endpoint=fake_hub.endpoint, token="hf_test_token")
    items = await asyncio.to_thread(raw_listing, api, fake_hub.endpoint, spec)
    assert [item["id"] for item in items] == ["org/s0", "org/s1", "org/s2"] and items[0]["sdk"] == "gradio"
    asked = fake_hub.requests_to("/api/spaces")[0]
    assert asked.headers["Authorization"] == "Bearer hf_test_token"
    assert dict(asked.query) == {key: str(value) for key, value in listing_params(spec).items()}


def test_the_hubs_ratelimit_headers_give_the_wait_and_a_line_for_the_operator() -> None:
    limited = rate_limit({"RateLimit": '"api";r=0;t=55', "RateLimit-Policy": '"fixed window";"api";q=500;w=300'})
    assert limited is not None and limited.reset_in == 55.0
    assert limited.summary == "rate limited: 0 of 500 api requests left in this 300 s window, which resets in 55 s"
    assert rate_limit({"RateLimit": '"api";r=0;t=99999', "RateLimit-Policy": '"fixed window";"api";q=500;w=300'}
                      ).reset_in == 300.0  # type: ignore[union-attr]
    assert rate_limit({"Retry-After": "5"}) is None
