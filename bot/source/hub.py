"""The only code that talks to the Hub: fetch the trending list, validate it.

huggingface_hub retries on its own (five times, sleeping up to the full
`Retry-After`), which would make `once` hang for minutes. Our transport turns
every retryable answer into `HubTransient` before the library sees it, so the
one retry policy is ours (tenacity): backoff, `Retry-After` honoured, and the
whole fetch bounded by `hub.retry_budget`.

The Hub's own 429 carries no `Retry-After` but `RateLimit: "api";r=0;t=55`
(IETF draft ratelimit-headers, hub-docs `rate-limits.md`): its quota is per
fixed 5-minute window, and every request before `t` runs out is refused. So
a fetch waits for that reset rather than backing off into more refusals, for
at most the poll interval (a wait never holds up the next poll); a reset
further away fails the poll at once, and the Hub is not asked again before it.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Protocol

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")  # an unattended bot phones nobody extra

import httpx2
from huggingface_hub import HfApi, set_client_factory
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, StringConstraints, ValidationError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
)

from bot.domain.lists import ListSpec
from bot.domain.outcomes import PollFailure
from bot.domain.snapshot import DEFAULT_LIST, Entry, Snapshot
from bot.log import get_logger
from bot.retry import HUB
from bot.source.hub_client import rate_limit, raw_listing

log = get_logger(__name__)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class HubError(Exception):
    """The Hub's answer cannot be used; the message is one line for the user, the reason is what code reads."""

    def __init__(self, message: str, reason: PollFailure = PollFailure.BAD_ANSWER) -> None:
        super().__init__(message)
        self.reason = reason


class HubTransient(HubError):
    """Worth another try: 429, 5xx, timeout, connection trouble."""

    def __init__(self, message: str, reason: PollFailure, retry_after: float | None = None,
                 reset_in: float | None = None) -> None:
        super().__init__(message, reason)
        self.retry_after = retry_after
        self.reset_in = reset_in  # the Hub's 429: seconds until its rate-limit window resets (`RateLimit` t)


def status_failure(status: int) -> PollFailure:
    """An HTTP status the Hub answered → why the poll failed."""
    if status == 429:
        return PollFailure.RATE_LIMITED
    return PollFailure.HTTP_5XX if 500 <= status <= 599 else PollFailure.HTTP_ERROR


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
            raise HubTransient(f"the Hub did not answer in time ({type(exc).__name__})", PollFailure.TIMEOUT) from exc
        except httpx2.TransportError as exc:
            raise HubTransient(f"cannot reach the Hub: {exc or type(exc).__name__}", PollFailure.UNREACHABLE) from exc
        if response.status_code in RETRY_STATUSES:
            retry_after = _retry_after(response.headers)
            limited = rate_limit(response.headers) if response.status_code == 429 else None
            response.close()
            if limited is not None and retry_after is None:
                raise HubTransient(f"the Hub answered HTTP 429 ({limited.summary})", PollFailure.RATE_LIMITED,
                                   reset_in=limited.reset_in)
            raise HubTransient(f"the Hub answered HTTP {response.status_code}", status_failure(response.status_code),
                               retry_after)
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
        if isinstance(error, HubTransient) and error.reset_in is not None:
            return max(error.reset_in, 0.0)
        if isinstance(error, HubTransient) and error.retry_after is not None:
            return max(error.retry_after, 0.0)
        return backoff

    return wait


def _reset_in(state: RetryCallState) -> float | None:
    error = state.outcome.exception() if state.outcome else None
    return error.reset_in if isinstance(error, HubTransient) else None


_MAX_INT64 = 2**63 - 1
# No spaces or control characters in an id, and no NUL anywhere: PostgreSQL's text cannot hold it.
_HubId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300,
                                          pattern=r"^[^\s\x00-\x1f\x7f]+$")]
_Count = Annotated[int, Strict(), Field(ge=0, le=_MAX_INT64)]
_Score = Annotated[float, Strict(), Field(allow_inf_nan=False, ge=-1e15, le=1e15)]
_Label = Annotated[str, Strict(), StringConstraints(max_length=200, pattern=r"^[^\x00]*$")]


def _hub_time(value: object) -> datetime | None:
    """The Hub writes '2025-07-01T10:00:00.000Z'; anything else is not a time we can trust."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("expected an ISO 8601 time")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not 1990 <= moment.year <= 9000:
        raise ValueError("a time outside any plausible range")
    return moment


class HubModel(BaseModel):
    """One item of `/api/models`, as far as the bot uses it: parsed once, here, into known types.

    Only `id` is required. Every other field may drift (a string where a
    number was, a number too big for the store): `parse_item` drops such a
    field to None ("unknown") and says which, so no later read trips on it.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    id: _HubId
    likes: _Count | None = None
    downloads: _Count | None = None
    trending_score: _Score | None = Field(None, alias="trendingScore")
    pipeline_tag: _Label | None = None
    library_name: _Label | None = None
    created_at: Annotated[datetime | None, BeforeValidator(_hub_time)] = Field(None, alias="createdAt")
    tags: tuple[_Label, ...] | None = Field(None, max_length=2000)


_OPTIONAL_FIELDS = {
    name: (info.alias or name) for name, info in HubModel.model_fields.items() if name != "id"
}


def parse_item(position: int, item: object, kind: str = "models") -> tuple[HubModel, list[str]]:
    """One raw item → (HubModel, the Hub's names of fields that drifted and were dropped to unknown).

    A Space has no library: its `sdk` (gradio, docker, …) stands in as `library_name`."""
    noun = kind.removesuffix("s")
    if not isinstance(item, dict):
        raise HubError(f"the Hub's answer is not a list of {kind}")
    if "id" not in item or not isinstance(item["id"], str):
        raise HubError(f"entry #{position} is without a usable {noun} id")
    if kind == "spaces" and "library_name" not in item and "sdk" in item:
        item = {**item, "library_name": item["sdk"]}
    data = {key: item[key] for key in ("id", *_OPTIONAL_FIELDS.values()) if key in item}
    try:
        return HubModel.model_validate(data), []
    except ValidationError as exc:
        bad = sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]})
    if "id" in bad:
        raise HubError(f"entry #{position} is without a usable {noun} id ({str(item['id'])[:60]!r})")
    for key in bad:
        data.pop(key, None)
    return HubModel.model_validate(data), bad


def entry_from_model(rank: int, model: HubModel) -> Entry:
    return Entry(
        rank=rank,
        id=model.id,
        likes=model.likes,
        downloads=model.downloads,
        trending_score=model.trending_score,
        pipeline_tag=model.pipeline_tag,
        library_name=model.library_name,
        created_at=model.created_at,
        tags=model.tags or (),
    )


def snapshot_from_json(items: object, taken_at: datetime, kind: str = "models") -> Snapshot:
    """The Hub's raw answer → Snapshot, or HubError (stores nothing, counts as a failed poll).

    An answer is usable when it is a list of objects, each with a model id,
    no id twice. Optional fields of an unexpected type become unknown, with
    ONE warning for the whole answer naming them.
    """
    if not isinstance(items, list):
        raise HubError(f"the Hub's answer is not a list of {kind}")
    if not items:
        raise HubError("the Hub answered an empty trending list", PollFailure.SHORT_LIST)
    entries: list[Entry] = []
    drifted: dict[str, int] = {}
    seen: set[str] = set()
    for rank, item in enumerate(items, start=1):
        model, bad = parse_item(rank, item, kind)
        if model.id in seen:
            raise HubError(f"the Hub listed {model.id} twice")
        seen.add(model.id)
        for key in bad:
            drifted[key] = drifted.get(key, 0) + 1
        entries.append(entry_from_model(rank, model))
    if drifted:
        fields = ", ".join(f"{key} ({count} entr{'y' if count == 1 else 'ies'})" for key, count in drifted.items())
        log.warning("the Hub's answer has fields of an unexpected type, treated as unknown: %s", fields)
    return Snapshot(taken_at=taken_at, entries=tuple(entries))


class HubSource:
    """Any trending list of the Hub (models, Spaces, datasets, filtered): one fetch path, one parser, one retry
    policy. Without a `spec` it is the overall trending models list at `depth`."""

    def __init__(
        self,
        endpoint: str,
        depth: int,
        token: str | None = None,
        timeout: timedelta = timedelta(seconds=10),
        budget: timedelta = timedelta(seconds=30),
        lineage_lookups: int = 10,
        poll_interval: timedelta = timedelta(minutes=15),
        *,
        spec: ListSpec | None = None,
    ) -> None:
        install_http_client(timeout.total_seconds())
        self.spec = spec if spec is not None else ListSpec(DEFAULT_LIST, "models", top_n=depth, depth=depth)
        self.name = "hub" if self.spec.is_default else f"hub:{self.spec.name}"  # stored with each snapshot
        self.endpoint = endpoint
        self.depth = self.spec.depth
        if self.spec.kind != "models":
            lineage_lookups = 0  # only models have bases
        self.budget = budget.total_seconds()
        self.patience = poll_interval.total_seconds()  # the longest wait for the Hub's rate-limit reset
        self._not_before = 0.0  # monotonic time before which the Hub refuses us (its rate-limit window)
        self.lineage_lookups = lineage_lookups
        self._api = HfApi(endpoint=endpoint, token=token if token else False)
        # The fetch runs in a thread, which cancelling the poll cannot stop; this lets shutdown end its retries.
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _list(self) -> list[Any]:
        """The raw list as the Hub sent it (`hub_client.raw_listing`); parsing it is ours (`snapshot_from_json`)."""
        kind = self.spec.kind
        try:
            return raw_listing(self._api, self.endpoint, self.spec)
        except HubError:
            raise
        except ValueError as exc:  # includes JSONDecodeError
            raise HubError(f"the Hub's answer is not the expected JSON ({exc})") from exc
        except KeyError as exc:
            raise HubError(f"the Hub's answer has an entry without {exc}") from exc
        except (TypeError, AttributeError) as exc:
            raise HubError(f"the Hub's answer is not a list of {kind}") from exc
        except (httpx2.HTTPStatusError, HfHubHTTPError) as exc:  # the client's error is an OSError: before it
            status = exc.response.status_code
            raise HubError(f"the Hub answered HTTP {status}", status_failure(status)) from exc
        except OSError as exc:
            raise HubError(f"cannot reach the Hub: {exc}", PollFailure.UNREACHABLE) from exc

    def _limited(self, reset_in: float) -> None:
        self._not_before = max(self._not_before, time.monotonic() + reset_in)

    def _await_reset(self) -> None:
        """Before asking: wait out a rate-limit window that resets within the poll interval; else fail at once."""
        remaining = self._not_before - time.monotonic()
        if remaining <= 0:
            return
        if remaining > self.patience:
            raise HubTransient(f"rate limited (the Hub answered HTTP 429 earlier): its window resets in"
                               f" {remaining:.0f} s; not asking before then", PollFailure.RATE_LIMITED,
                               reset_in=remaining)
        log.info("waiting %.0f s for the Hub's rate-limit window to reset", remaining)
        self._sleep(remaining)

    def _stop(self, state: RetryCallState, waited: list[float]) -> bool:
        """The budget bounds backoff; a rate-limit reset may be waited for up to the poll interval instead."""
        if self._stopping.is_set():
            return True
        elapsed = state.seconds_since_start or 0.0
        reset_in = _reset_in(state)
        if reset_in is None:
            return elapsed - waited[0] + state.upcoming_sleep >= self.budget
        self._limited(reset_in)
        if elapsed + state.upcoming_sleep > self.patience:
            return True
        waited[0] += state.upcoming_sleep
        return False

    def _fetch_with_retries(self) -> list[Any]:
        self._await_reset()
        waited = [0.0]  # seconds spent waiting for rate-limit resets: not counted against the budget
        retrying = Retrying(
            retry=retry_if_exception_type(HubTransient),
            wait=_wait(HUB.wait()),
            stop=lambda state: self._stop(state, waited),
            sleep=self._sleep,
            reraise=True,
            # INFO: a retry is routine; the poll's final outcome is what gets a warning (or `once`'s one line).
            before_sleep=lambda state: log.info(
                "Hub fetch failed (%s); retry %d", state.outcome.exception() if state.outcome else "?",
                state.attempt_number,
            ),
        )
        return retrying(self._list)

    async def fetch(self, after: datetime | None = None) -> Snapshot:
        started = time.monotonic()
        items = await asyncio.to_thread(self._fetch_with_retries)
        snapshot = snapshot_from_json(items, datetime.now(UTC), self.spec.kind)
        log.info("fetched %d trending %s of list %s in %.1fs", len(snapshot.entries), self.spec.kind, self.spec.name,
                 time.monotonic() - started)
        return snapshot

    def _lookup_sync(self, model_ids: Sequence[str]) -> dict[str, list[str]]:
        """Each model's tags plus its `baseModels` as relation tags; a model the Hub does not know maps to []."""
        found: dict[str, list[str]] = {}
        for model_id in model_ids[: self.lineage_lookups]:
            if self._stopping.is_set() or time.monotonic() < self._not_before:
                break  # rate limited: every further lookup would be refused too (and the list fetch needs the quota)
            try:
                info = self._api.model_info(model_id, expand=["baseModels", "tags"])
            except RepositoryNotFoundError:
                found[model_id] = []  # gone or private: an answer worth caching, not an error
                continue
            except HubTransient as exc:
                if exc.reset_in is not None:
                    self._limited(exc.reset_in)
                log.debug("lineage lookup of %s failed: %s", model_id, exc)
                continue
            except Exception as exc:  # lineage is best effort: unknown is an honest answer
                log.debug("lineage lookup of %s failed: %s", model_id, exc)
                continue
            tags = info.tags if isinstance(info.tags, list) else []  # drifted types are no lineage, not a crash
            found[model_id] = [*(t for t in tags if isinstance(t, str)), *_base_model_tags(info.base_models)]
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

