"""Alerts to Slack channels through the Web API (no Socket Mode needed, so `once` works with a bot token alone).

Transport only: what to post was decided by the core; this module paces,
posts, uploads charts and turns Slack's answers into `DeliveryError` (try
again later) or `DestinationGone` (pause the channel with the reason).

Rate limits. Slack allows about one message a second per channel and a
workspace-wide limit it does not publish. The adapter paces each channel to
one post a second itself, so a 429 almost always means the workspace limit:
every sender then waits until `Retry-After` has passed (one shared gate per
workspace), instead of each request sleeping `Retry-After + random()` on its
own as slack_sdk's stock handler does.

Duplicates. Slack has no send nonce. A post whose answer is lost (timeout,
crash before the outbox row is marked delivered) is sent again on retry;
checking `conversations.history` first would need read scopes on every
channel and a tier-3 call per retry, so the adapter does not. Each post
carries the alert key in its message metadata, so a duplicate can be told
apart. A chart whose message went out but whose upload failed is retried as
the upload alone (remembered in memory for this process).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack_render import render
from bot.delivery import AlertRejected, DeliveryError, DestinationGone, PlatformRefused
from bot.log import get_logger
from bot.messages import Alert, Image

log = get_logger(__name__)

#: Answers that will not change by retrying: the channel is gone or closed to the bot.
GONE_ERRORS = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "restricted_action", "team_access_not_granted",
    "missing_scope",
})
#: The token itself is dead: every channel would answer the same, so none is to blame.
AUTH_ERRORS = frozenset({"invalid_auth", "account_inactive", "token_revoked", "token_expired", "not_authed"})
#: Answers about the message itself: set it aside so the channel's next alerts are not held behind it.
REJECTED_ERRORS = frozenset({
    "invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text", "too_many_attachments",
    "invalid_arguments", "invalid_metadata_format", "invalid_metadata_schema", "metadata_too_large",
})
METADATA_EVENT = "trendwatch_alert"


class WorkspaceGate:
    """One Retry-After for the whole workspace: a 429 holds every sender until it has passed."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self.clock = clock
        self.until = 0.0

    def hold(self, seconds: float) -> None:
        self.until = max(self.until, self.clock() + seconds)

    async def wait(self) -> None:
        # A loop, not an Event: another 429 may move the deadline while we sleep.
        while (delay := self.until - self.clock()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(delay)


class GatedRateLimitRetryHandler(AsyncRetryHandler):
    """slack_sdk's 429 retry, but waiting on the shared gate for exactly `Retry-After`, no extra jitter."""

    def __init__(self, gate: WorkspaceGate, max_retry_count: int = 5) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.gate = gate

    async def _can_retry_async(self, *, state: RetryState, request: HttpRequest,
                               response: HttpResponse | None = None, error: Exception | None = None) -> bool:
        return response is not None and response.status_code == 429

    async def prepare_for_next_attempt_async(self, *, state: RetryState, request: HttpRequest,
                                             response: HttpResponse | None = None,
                                             error: Exception | None = None) -> None:
        state.next_attempt_requested = True
        self.gate.hold(retry_after(response))
        await self.gate.wait()
        state.increment_current_attempt()


def retry_after(response: HttpResponse | None) -> float:
    """Seconds from a `Retry-After` header (slack_sdk keeps header values as lists); 1 when absent or odd."""
    if response is not None:
        for name, value in response.headers.items():
            if name.lower() == "retry-after":
                raw = value[0] if isinstance(value, list) and value else value
                try:
                    return max(float(str(raw)), 0.0)
                except ValueError:
                    break
    return 1.0


class ChannelPacer:
    """At most one post a second per channel (Slack's documented pace), so bursts do not earn 429s."""

    def __init__(self, interval: float = 1.0, clock: Any = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._next: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def turn(self, channel: str) -> None:
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            delay = self._next.get(channel, 0.0) - self.clock()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next[channel] = self.clock() + self.interval


class SlackAdapter:
    """The Adapter for `platform = "slack"`: one bot token, one workspace."""

    platform = "slack"

    def __init__(self, token: str, api_url: str = "https://slack.com/api/", *, timeout: int = 15,
                 max_rate_limit_retries: int = 5, channel_interval: float = 1.0) -> None:
        self._token = token
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.timeout = timeout
        self.gate = WorkspaceGate()
        self.pacer = ChannelPacer(channel_interval)
        self.max_rate_limit_retries = max_rate_limit_retries
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None
        self._posted: dict[str, str] = {}  # alert key → ts of a message whose chart is still to upload

    @property
    def client(self) -> AsyncWebClient:
        """Built on first use, inside the running loop; one HTTP session for every call (keep-alive)."""
        if self._client is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
            self._client = AsyncWebClient(
                token=self._token, base_url=self.api_url, timeout=self.timeout, session=self._session,
                retry_handlers=[
                    AsyncConnectionErrorRetryHandler(max_retry_count=1),
                    GatedRateLimitRetryHandler(self.gate, self.max_rate_limit_retries),
                ],
            )
        return self._client

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = self._client = None

    async def send(self, channel: str, alert: Alert, mention: str | None = None) -> None:
        message = alert.message
        try:
            if alert.key not in self._posted:
                post = render(message, mention)
                await self.gate.wait()
                await self.pacer.turn(channel)
                answer = await self.client.chat_postMessage(
                    channel=channel, text=post.text, blocks=post.blocks, unfurl_links=False, unfurl_media=False,
                    metadata={"event_type": METADATA_EVENT, "event_payload": {"key": alert.key}},
                )
                if message.image is None:
                    return
                self._posted[alert.key] = str(answer.get("ts", ""))
            if message.image is not None:
                await self._upload(channel, message.image, message.title)
                self._posted.pop(alert.key, None)
        except SlackApiError as exc:
            raise _failure(exc) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise DeliveryError(f"Slack did not answer: {type(exc).__name__} {exc}".strip()) from None

    async def _upload(self, channel: str, image: Image, title: str) -> None:
        await self.gate.wait()
        await self.client.files_upload_v2(
            channel=channel, content=image.data, filename=image.filename, title=image.description or title,
            alt_txt=image.description or title,
        )


def _failure(exc: SlackApiError) -> DeliveryError:
    """Slack's answer → pause the channel, set the message aside, or retry later (with its Retry-After if any)."""
    response = exc.response
    status = getattr(response, "status_code", 0)
    error = str(response.get("error", "")) if hasattr(response, "get") else ""
    if error in GONE_ERRORS:
        return DestinationGone(f"Slack answered {error}")
    if error in AUTH_ERRORS:
        return PlatformRefused(f"Slack answered {error}")
    if error in REJECTED_ERRORS:
        return AlertRejected(f"Slack answered {error}")
    if status == 429 or error == "ratelimited":
        wait: float | None = None
        headers = getattr(response, "headers", {}) or {}
        for name, value in headers.items():
            if name.lower() == "retry-after":
                try:
                    wait = float(value[0] if isinstance(value, list) else value)
                except ValueError:
                    wait = None
        return DeliveryError("Slack kept answering 429 (rate limited)", retry_after=wait)
    return DeliveryError(f"Slack answered HTTP {status} {error or 'error'}".strip())
