"""The one place that uses huggingface_hub beyond its public API, and why.

`HfApi.list_models` / `list_spaces` / `list_datasets` build `ModelInfo` / `SpaceInfo` / `DatasetInfo`
objects, and one optional field they cannot parse (a drifting `createdAt`, say) throws away the whole
answer. The bot must keep such an answer and turn only that field into "unknown" (its own parser,
`bot.source.hub.snapshot_from_json`). So the trending listing is read raw, with the client's own
pagination (its HTTP client, our transport, `Link` headers) and headers (token, user agent); and a 429's
`RateLimit` headers are read with the client's own parser. None of the three is documented API:
`tests/bot/source/test_hub_client.py` pins what this module relies on, so a client upgrade that changes
them fails there, not in production.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

from huggingface_hub import HfApi
from huggingface_hub.utils._http import parse_ratelimit_headers
from huggingface_hub.utils._pagination import paginate

from bot.domain.lists import ListSpec

HUB_WINDOW = 300.0  # seconds: the Hub's rate-limit window (hub-docs `rate-limits.md`), when it names none


def listing_params(spec: ListSpec) -> dict[str, Any]:
    """The query of a list's trending listing: sorted by trending score, the list's Hub filters."""
    params: dict[str, Any] = {"sort": "trendingScore", "limit": spec.depth}
    found = {"author": spec.author, "pipeline_tag": spec.pipeline_tag, "filter": spec.library}
    params.update({key: value for key, value in found.items() if value})
    return params


def raw_listing(api: HfApi, endpoint: str, spec: ListSpec) -> list[Any]:
    """`/api/models|spaces|datasets?sort=trendingScore`, the first `spec.depth` items as the Hub sent them."""
    headers = api._build_hf_headers()
    url = f"{endpoint.rstrip('/')}/api/{spec.kind}"
    return list(islice(paginate(url, params=listing_params(spec), headers=headers), spec.depth))


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A 429's quota: when the window resets, and one line for the operator."""

    reset_in: float
    summary: str


def rate_limit(headers: Mapping[str, str]) -> RateLimit | None:
    """`RateLimit: "api";r=0;t=55` and `RateLimit-Policy: "fixed window";"api";q=500;w=300` → the wait, or None."""
    info = parse_ratelimit_headers(headers)
    if info is None:
        return None
    window = float(info.window_seconds or HUB_WINDOW)
    reset = min(float(info.reset_in_seconds), window, HUB_WINDOW)  # a bogus t must not park the bot for hours
    quota = f"{info.remaining} of {info.limit}" if info.limit is not None else f"{info.remaining}"
    return RateLimit(reset, f"rate limited: {quota} {info.resource_type} requests left in this"
                            f" {window:.0f} s window, which resets in {reset:.0f} s")
