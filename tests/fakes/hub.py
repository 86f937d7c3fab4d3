"""A fake Hugging Face Hub on 127.0.0.1 answering `/api/models`, `/api/spaces` and `/api/datasets` in the Hub's
JSON shape, honouring the `author`, `pipeline_tag` and `filter` query parameters as the Hub does (so tests
prove a list's filters reach the Hub).

The real `huggingface_hub` client talks to it. Fault switches let tests make it
fail the ways the real Hub does: an HTTP status (with `Retry-After`), a delay,
a body that is not JSON, an empty list, entries without ids, a list shorter
than asked for, and fields whose type drifts (`trendingScore: "x"`). `rate_limit`
gives it the Hub's fixed-window quota, answered past its end the way the Hub
answers (hub-docs `rate-limits.md`): 429 with `RateLimit: "api";r=0;t=<seconds
to the reset>` and `RateLimit-Policy: "fixed window";"api";q=<quota>;w=<window>`,
and no `Retry-After`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from aiohttp import web

PAGE = 1000  # the most items one listing request answers; more come as further pages
DEFAULT_TAGS = ["transformers", "safetensors", "text-generation", "conversational", "region:us"]


def hub_model(model_id: str, score: int = 100, *, tags: Iterable[str] = (), likes: int = 10,
              downloads: int = 1000, pipeline_tag: str = "text-generation",
              library_name: str = "transformers", created_at: str = "2025-07-01T10:00:00.000Z") -> dict[str, Any]:
    """One model as `/api/models` lists it."""
    return {
        "_id": hashlib.sha1(model_id.encode()).hexdigest()[:24],
        "id": model_id,
        "likes": likes,
        "downloads": downloads,
        "trendingScore": score,
        "private": False,
        "tags": [*DEFAULT_TAGS, *tags],
        "pipeline_tag": pipeline_tag,
        "library_name": library_name,
        "createdAt": created_at,
    }


def hub_space(space_id: str, score: int = 100, *, sdk: str = "gradio", likes: int = 10,
              tags: Iterable[str] = (), created_at: str = "2025-07-01T10:00:00.000Z") -> dict[str, Any]:
    """One Space as `/api/spaces` lists it (no downloads; an `sdk`)."""
    return {
        "_id": hashlib.sha1(f"spaces/{space_id}".encode()).hexdigest()[:24],
        "id": space_id,
        "author": space_id.split("/", 1)[0],
        "likes": likes,
        "trendingScore": score,
        "private": False,
        "sdk": sdk,
        "tags": [sdk, *tags, "region:us"],
        "createdAt": created_at,
    }


def hub_dataset(dataset_id: str, score: int = 100, *, likes: int = 10, downloads: int = 1000,
                tags: Iterable[str] = (), created_at: str = "2025-07-01T10:00:00.000Z") -> dict[str, Any]:
    """One dataset as `/api/datasets` lists it."""
    return {
        "_id": hashlib.sha1(f"datasets/{dataset_id}".encode()).hexdigest()[:24],
        "id": dataset_id,
        "author": dataset_id.split("/", 1)[0],
        "likes": likes,
        "downloads": downloads,
        "trendingScore": score,
        "private": False,
        "gated": False,
        "disabled": False,
        "tags": ["format:parquet", *tags, "region:us"],
        "createdAt": created_at,
    }


def matches_query(item: dict[str, Any], query: Any) -> bool:
    """The Hub's list filters: `author` (namespace), `pipeline_tag`, and every `filter` among the tags
    (a library filter also matches `library_name`)."""
    author = query.get("author")
    if author and item["id"].split("/", 1)[0].lower() != author.lower():
        return False
    pipeline_tag = query.get("pipeline_tag")
    if pipeline_tag and item.get("pipeline_tag") != pipeline_tag:
        return False
    known = {*item.get("tags", []), item.get("library_name")}
    return all(wanted in known for wanted in query.getall("filter", []))


def base_models_answer(tags: Iterable[str]) -> dict[str, Any] | None:
    """What `expand=["baseModels"]` answers for a model with these tags: one relation, its bases."""
    relation: str | None = None
    ids: list[str] = []
    for tag in tags:
        parts = tag.split(":", 2)
        if parts[0] == "base_model" and len(parts) == 3:
            relation = relation or parts[1]
            if parts[2] not in ids:
                ids.append(parts[2])
    if not ids:
        return None
    return {"relation": relation, "models": [{"id": model_id} for model_id in ids]}


def ranked(ids: Iterable[str], **kwargs: Any) -> list[dict[str, Any]]:
    """Models in the given order with falling trending scores."""
    ids = list(ids)
    return [hub_model(model_id, score=1000 - 10 * i, **kwargs) for i, model_id in enumerate(ids)]


@dataclass
class Fault:
    status: int = 200
    retry_after: float | None = None
    body: str | None = None  # raw body instead of JSON
    delay: float = 0.0
    times: int = 1  # how many requests it applies to; -1 = until cleared
    drift: dict[str, Any] | None = None  # these fields replaced in every served entry
    only: int | None = None  # serve at most this many entries (a short list)


@dataclass
class Quota:
    """The Hub's "api" bucket: `requests` per fixed window of `window` seconds, the first starting at the first
    request after it is set."""

    requests: int
    window: float
    started: float | None = None
    used: int = 0

    def take(self, now: float) -> dict[str, str] | None:
        """Count one request; None when within the quota, else the headers of the Hub's 429."""
        if self.started is None or now >= self.started + self.window:
            self.started, self.used = now, 0
        if self.used < self.requests:
            self.used += 1
            return None
        reset = max(1, math.ceil(self.started + self.window - now))  # the Hub gives whole seconds
        return {"RateLimit": f'"api";r=0;t={reset}',
                "RateLimit-Policy": f'"fixed window";"api";q={self.requests};w={math.ceil(self.window)}'}


@dataclass
class FakeHub:
    models: list[dict[str, Any]] = field(default_factory=list)
    spaces: list[dict[str, Any]] = field(default_factory=list)  # GET /api/spaces
    datasets: list[dict[str, Any]] = field(default_factory=list)  # GET /api/datasets
    details: dict[str, dict[str, Any]] = field(default_factory=dict)  # GET /api/models/{id}
    requests: list[web.Request] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    quota: Quota | None = None
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def list_requests(self) -> list[web.Request]:
        return [r for r in self.requests if r.path == "/api/models"]

    def requests_to(self, path: str) -> list[web.Request]:
        """Listing requests of one path (`/api/spaces`, `/api/datasets`, `/api/models`)."""
        return [r for r in self.requests if r.path == path]

    def fail(self, status: int = 503, *, retry_after: float | None = None, times: int = 1) -> None:
        self.faults.append(Fault(status=status, retry_after=retry_after, times=times))

    def rate_limit(self, requests: int, window: float) -> None:
        """From now on, at most `requests` API requests per fixed window of `window` seconds (models, Spaces,
        datasets listings and model details all count), answered past it with the Hub's 429."""
        self.quota = Quota(requests, window)

    def _over_quota(self) -> web.StreamResponse | None:
        headers = self.quota.take(time.monotonic()) if self.quota is not None else None
        if headers is None:
            return None
        return web.json_response({"error": "rate limit reached for api requests"}, status=429,
                                 headers=headers)

    def answer_raw(self, body: str, *, times: int = 1) -> None:
        self.faults.append(Fault(body=body, times=times))

    def slow(self, delay: float, *, times: int = 1) -> None:
        self.faults.append(Fault(delay=delay, times=times))

    def drift(self, times: int = 1, **fields: Any) -> None:
        """Serve the list with these fields replaced in every entry, e.g. `drift(likes="lots")`."""
        self.faults.append(Fault(drift=fields, times=times))

    def short(self, count: int, *, times: int = 1) -> None:
        """Serve only the first `count` entries, whatever `limit` asked for."""
        self.faults.append(Fault(only=count, times=times))

    def _next_fault(self) -> Fault | None:
        if not self.faults:
            return None
        fault = self.faults[0]
        if fault.times > 0:
            fault.times -= 1
            if fault.times == 0:
                self.faults.pop(0)
        return fault

    async def _list(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        if (limited := self._over_quota()) is not None:
            return limited
        fault = self._next_fault()
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status != 200:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                return web.json_response({"error": "fault"}, status=fault.status, headers=headers)
            if fault.body is not None:
                return web.Response(text=fault.body, content_type="application/json")
        limit = min(int(request.query.get("limit", str(PAGE))), PAGE)
        start = int(request.query.get("cursor", "0"))
        listed = {"/api/spaces": self.spaces, "/api/datasets": self.datasets}.get(request.path, self.models)
        matching = [item for item in listed if matches_query(item, request.query)]
        served = matching[start:start + limit]
        if fault is not None and fault.only is not None:
            served = served[:fault.only]
        if fault is not None and fault.drift:
            served = [{**model, **fault.drift} for model in served]
        headers = {}
        if start + limit < len(matching):  # the Hub pages as GitHub does: the next page's URL in `Link`
            following = request.url.update_query({"cursor": str(start + limit)})
            headers["Link"] = f'<{following}>; rel="next"'
        return web.json_response(served, headers=headers)

    @property
    def detail_requests(self) -> list[web.Request]:
        return [r for r in self.requests if r.path.startswith("/api/models/")]

    def describe(self, models: Iterable[dict[str, Any]]) -> None:
        """Serve these models at `GET /api/models/{id}` (as `hub_model` builds them)."""
        self.details.update({model["id"]: model for model in models})

    async def _detail(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        if (limited := self._over_quota()) is not None:
            return limited
        fault = self._next_fault()
        if fault is not None and fault.status != 200:
            return web.json_response({"error": "fault"}, status=fault.status)
        model_id = f"{request.match_info['org']}/{request.match_info['name']}"
        found = self.details.get(model_id) or next((m for m in self.models if m["id"] == model_id), None)
        if found is None:
            return web.json_response({"error": "Repository not found"}, status=404,
                                     headers={"X-Error-Code": "RepoNotFound"})
        expand = request.query.getall("expand", [])
        if not expand:
            return web.json_response(found)
        # Like the Hub: with `expand`, only the asked properties (plus ids) come back.
        answer: dict[str, Any] = {"_id": found.get("_id"), "id": found["id"]}
        for prop in expand:
            if prop == "baseModels":
                if (bases := found.get("baseModels") or base_models_answer(found.get("tags", []))) is not None:
                    answer["baseModels"] = bases
            elif prop in found and prop != "baseModels":
                answer[prop] = found[prop]
        return web.json_response(answer)

    async def _unknown(self, request: web.Request) -> web.StreamResponse:
        # Unknown paths must 404: huggingface_hub probes e.g. /api/agent-harnesses.
        return web.json_response({"error": "not found"}, status=404)

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/api/models", self._list)
        app.router.add_get("/api/spaces", self._list)
        app.router.add_get("/api/datasets", self._list)
        app.router.add_get("/api/models/{org}/{name}", self._detail)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def write_replay(path: Path, records: Iterable[tuple[str, list[dict[str, Any]]]]) -> None:
    """A replay file: one `{"taken_at", "models"}` object a line."""
    with path.open("w", encoding="utf-8") as handle:
        for taken_at, models in records:
            handle.write(json.dumps({"taken_at": taken_at, "models": models}) + "\n")
