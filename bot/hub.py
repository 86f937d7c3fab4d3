"""The only code that talks to the Hub: fetch the trending list, validate it.

huggingface_hub retries on its own (five times, sleeping up to the full
`Retry-After`), which would make `once` hang for minutes. Our transport turns
every retryable answer into `HubTransient` before the library sees it, so the
one retry policy is ours (tenacity): backoff, `Retry-After` honoured, and the
whole fetch bounded by `hub.retry_budget`.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")  # an unattended bot phones nobody extra

import httpx2
from huggingface_hub import HfApi, ModelInfo, set_client_factory
from huggingface_hub.errors import RepositoryNotFoundError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_before_delay,
    stop_when_event_set,
    wait_exponential_jitter,
)

from bot.log import get_logger
from bot.snapshot import Entry, Snapshot

log = get_logger(__name__)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class HubError(Exception):
    """The Hub's answer cannot be used; the message is one line for the user."""


class HubTransient(HubError):
    """Worth another try: 429, 5xx, timeout, connection trouble."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Source(Protocol):
    """Where snapshots come from: the Hub, or a replay file."""

    name: str

    async def fetch(self, after: datetime | None) -> Snapshot: ...

    async def lookup_tags(self, model_ids: Sequence[str]) -> dict[str, list[str]]: ...

    def stop(self) -> None:
        """Give up waiting and retrying: the process is shutting down."""


def _retry_after(headers: httpx2.Headers) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class _FailFastTransport(httpx2.BaseTransport):
    """Raises `HubTransient` instead of returning a retryable answer (see module docstring)."""

    def __init__(self, inner: httpx2.BaseTransport, timeout: float) -> None:
        self._inner = inner
        self._timeout = timeout

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        # huggingface_hub passes timeout=None per request, which disables the client's default.
        limits = dict(request.extensions.get("timeout") or {})
        request.extensions["timeout"] = {
            phase: limits.get(phase) or self._timeout for phase in ("connect", "read", "write", "pool")
        }
        try:
            response = self._inner.handle_request(request)
        except httpx2.TimeoutException as exc:
            raise HubTransient(f"the Hub did not answer in time ({type(exc).__name__})") from exc
        except httpx2.TransportError as exc:
            raise HubTransient(f"cannot reach the Hub: {exc or type(exc).__name__}") from exc
        if response.status_code in RETRY_STATUSES:
            retry_after = _retry_after(response.headers)
            response.close()
            raise HubTransient(f"the Hub answered HTTP {response.status_code}", retry_after)
        return response

    def close(self) -> None:
        self._inner.close()


def install_http_client(timeout: float) -> None:
    """Give huggingface_hub a client with a real timeout (its default has none) and our transport."""

    def factory() -> httpx2.Client:
        return httpx2.Client(
            transport=_FailFastTransport(httpx2.HTTPTransport(), timeout),
            follow_redirects=True,
            timeout=timeout,
        )

    set_client_factory(factory)


def _wait(base: Callable[[RetryCallState], float]) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        backoff = base(state)
        if isinstance(error, HubTransient) and error.retry_after is not None:
            return max(error.retry_after, 0.0)
        return backoff

    return wait


def entry_from_model(rank: int, model: ModelInfo) -> Entry:
    if not isinstance(model.id, str) or not model.id.strip():
        raise HubError(f"entry #{rank} has no usable model id")
    created = model.created_at
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return Entry(
        rank=rank,
        id=model.id,
        likes=model.likes,
        downloads=model.downloads,
        trending_score=float(model.trending_score) if model.trending_score is not None else None,
        pipeline_tag=model.pipeline_tag,
        library_name=model.library_name,
        created_at=created,
        tags=tuple(model.tags or ()),
    )


def snapshot_from_models(models: Iterable[ModelInfo], taken_at: datetime) -> Snapshot:
    """Validate a Hub answer. Anything unusable raises HubError, so nothing is stored."""
    entries = tuple(entry_from_model(rank, model) for rank, model in enumerate(models, start=1))
    if not entries:
        raise HubError("the Hub answered an empty trending list")
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise HubError(f"the Hub listed {entry.id} twice")
        seen.add(entry.id)
    return Snapshot(taken_at=taken_at, entries=entries)


def models_from_json(items: object) -> list[ModelInfo]:
    """Raw `/api/models` JSON → ModelInfo, with the Hub client's own parsing."""
    if not isinstance(items, list):
        raise HubError(f"expected a JSON list of models, got {type(items).__name__}")
    models = []
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"].strip():
            raise HubError(f"entry #{position} has no model id")
        models.append(ModelInfo(**{"siblings": None, **item}))  # type: ignore[no-untyped-call]
    return models


class HubSource:
    name = "hub"

    def __init__(
        self,
        endpoint: str,
        depth: int,
        token: str | None = None,
        timeout: timedelta = timedelta(seconds=10),
        budget: timedelta = timedelta(seconds=30),
        lineage_lookups: int = 10,
    ) -> None:
        install_http_client(timeout.total_seconds())
        self.endpoint = endpoint
        self.depth = depth
        self.budget = budget.total_seconds()
        self.lineage_lookups = lineage_lookups
        self._api = HfApi(endpoint=endpoint, token=token if token else False)
        # The fetch runs in a thread, which cancelling the poll cannot stop; this lets shutdown end its retries.
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _list(self) -> list[ModelInfo]:
        try:
            return list(self._api.list_models(sort="trending_score", limit=self.depth))
        except HubError:
            raise
        except ValueError as exc:  # includes JSONDecodeError
            raise HubError(f"the Hub's answer is not the expected JSON ({exc})") from exc
        except KeyError as exc:
            raise HubError(f"the Hub's answer has an entry without {exc}") from exc
        except (TypeError, AttributeError) as exc:
            raise HubError("the Hub's answer is not a list of models") from exc
        except httpx2.HTTPStatusError as exc:
            raise HubError(f"the Hub answered HTTP {exc.response.status_code}") from exc
        except OSError as exc:
            raise HubError(f"cannot reach the Hub: {exc}") from exc

    def _fetch_with_retries(self) -> list[ModelInfo]:
        retrying = Retrying(
            retry=retry_if_exception_type(HubTransient),
            wait=_wait(wait_exponential_jitter(initial=1, max=8, jitter=1)),
            stop=stop_before_delay(self.budget) | stop_when_event_set(self._stopping),
            sleep=self._sleep,
            reraise=True,
            before_sleep=lambda state: log.warning(
                "Hub fetch failed (%s); retry %d", state.outcome.exception() if state.outcome else "?",
                state.attempt_number,
            ),
        )
        return retrying(self._list)

    async def fetch(self, after: datetime | None = None) -> Snapshot:
        started = time.monotonic()
        models = await asyncio.to_thread(self._fetch_with_retries)
        snapshot = snapshot_from_models(models, datetime.now(UTC))
        log.info("fetched %d trending models in %.1fs", len(snapshot.entries), time.monotonic() - started)
        return snapshot

    def _lookup_sync(self, model_ids: Sequence[str]) -> dict[str, list[str]]:
        """Each model's tags plus its `baseModels` as relation tags; a model the Hub does not know maps to []."""
        found: dict[str, list[str]] = {}
        for model_id in model_ids[: self.lineage_lookups]:
            if self._stopping.is_set():
                break
            try:
                info = self._api.model_info(model_id, expand=["baseModels", "tags"])
            except RepositoryNotFoundError:
                found[model_id] = []  # gone or private: an answer worth caching, not an error
                continue
            except Exception as exc:  # lineage is best effort: unknown is an honest answer
                log.debug("lineage lookup of %s failed: %s", model_id, exc)
                continue
            found[model_id] = [*(t for t in info.tags or [] if isinstance(t, str)),
                               *_base_model_tags(info.base_models)]
        return found

    async def lookup_tags(self, model_ids: Sequence[str]) -> dict[str, list[str]]:
        if not model_ids or self.lineage_lookups == 0:
            return {}
        return await asyncio.to_thread(self._lookup_sync, list(model_ids))


def _base_model_tags(answer: object) -> list[str]:
    """`expand=["baseModels"]` answers `{"relation": ..., "models": [{"id": ...}]}`; anything else is ignored."""
    if not isinstance(answer, dict) or not isinstance(answer.get("models"), list):
        return []
    relation = answer.get("relation")
    prefix = f"base_model:{relation}:" if isinstance(relation, str) and relation else "base_model:"
    return [prefix + model["id"] for model in answer["models"]
            if isinstance(model, dict) and isinstance(model.get("id"), str) and "/" in model["id"]]


def describe(error: BaseException) -> str:
    """One line, no secrets: what went wrong with the source."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:300]

