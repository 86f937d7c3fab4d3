"""Alerts to Slack channels through the Web API (no Socket Mode needed, so `once` works with a bot token alone).

Transport only: what to post was decided by the core; this module paces,
posts, uploads charts and turns Slack's answers into `DeliveryError` (try
again later) or `DestinationGone` (pause the channel with the reason).

Rate limits. Slack allows about one message a second per channel and a
workspace-wide limit it does not publish. The adapter paces each channel a
margin slower than that (`ready`, before delivery takes a send slot), so a
channel's 429 is rare. A 429 holds only its own channel; a second channel
limited while the first is held means the workspace limit, and then every
sender waits until `Retry-After` has passed (one shared gate). A wait longer
than `max_wait` is not waited for: the alert goes back to the outbox with its
`Retry-After`, so nothing (not `once`, not other channels) sits through it.

Duplicates. Slack has no send nonce. Delivery marks each post before it goes
out, so a post whose answer never came (timeout, dropped connection, a crash)
is known on the next attempt (`Alert.unconfirmed`). Then the adapter looks for
the alert key (carried in every post's message metadata) in the channel's
recent `conversations.history` and posts only if it is not there. Without the
`channels:history` / `groups:history` scope it cannot look: it posts once more
and says so, and after a second unanswered post it does not post again. So an
alert appears at most twice in a channel, and once where the app can read
history.

Charts (the weekly digest's) are shared with `files.completeUploadExternal`,
which, unlike `chat.postMessage` with `chat:write.public`, needs the bot in the
channel. So the adapter joins a public channel first (`conversations.join`,
scope `channels:join`). Where it cannot join, the digest goes out once without
its chart, its text saying why. A chart Slack will not share is dropped with
one log line; the channel is never paused and the digest never reposted for
it. See `_chart_failed` for a chart whose upload failed after its text went
out.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import ClientConnectorError
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack_render import render
from bot.delivery.adapter import (
    Adapter,
    AlertRejected,
    AssumedDelivered,
    DeliveryError,
    DestinationGone,
    OutcomeUnknown,
    PlatformRefused,
)
from bot.delivery.threading import Thread
from bot.domain.messages import Alert, Image, line
from bot.log import get_logger
from bot.metrics import rate_limited

if TYPE_CHECKING:
    from adapters.slack_installs import StoredInstallations

log = get_logger(__name__)

#: Answers that will not change by retrying: the channel is gone or closed to the bot's posts.
GONE_ERRORS = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "team_access_not_granted",
    "posting_to_general_channel_denied",  # an admin restricted posting to #general
})
#: ... and every `restricted_action*`: a workspace preference (`restricted_action`), an announcement channel
#: (`_read_only_channel`), a channel that takes thread replies only (`_thread_only_channel`), and any later
#: refusal Slack names this way (`_non_threadable_channel`, …).
GONE_PREFIX = "restricted_action"
#: Slack's "wait": HTTP 429 with `ratelimited`, or `rate_limited` in a 200 answer (chat.postMessage documents both).
RATE_LIMIT_ERRORS = frozenset({"ratelimited", "rate_limited"})
#: The token itself is dead or lacks a scope: every channel would answer the same, so none is to blame.
AUTH_ERRORS = frozenset({"invalid_auth", "account_inactive", "token_revoked", "token_expired", "not_authed",
                         "missing_scope"})
#: Answers about the message itself: set it aside so the channel's next alerts are not held behind it.
REJECTED_ERRORS = frozenset({
    "invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text", "too_many_attachments",
    "invalid_arguments", "invalid_metadata_format", "invalid_metadata_schema", "metadata_too_large",
})
METADATA_EVENT = "trendwatch_alert"
CHANNEL_INTERVAL = 1.1  # seconds between posts to one channel: 10% above Slack's documented one a second
MIN_SPACING = 1.05  # ... and between two requests really leaving, whatever happened between turn and send
MAX_WAIT = 60.0  # a longer Retry-After re-queues the alert instead of holding a sender
HISTORY_LOOKBACK = 200  # recent messages searched for an unconfirmed alert's key (one tier-3 call)
#: Answers to a chart upload that no retry changes: the bot may not share files in that channel (or at all).
CHART_REFUSED = frozenset({
    "not_in_channel", "invalid_channel", "posting_to_channel_denied", "no_permission", "channel_not_found",
    "access_denied", "is_archived", "posting_to_general_channel_denied", "file_uploads_disabled",
    "blocked_file_type", "missing_scope", "file_not_found", "invalid_arguments",
})
#: Upload attempts of one chart before it is dropped: a chart must not hold the channel's later alerts for long.
CHART_ATTEMPTS = 3
#: conversations.join answers meaning "the post decides": a private channel (posting there needs membership,
#: so the chart can go where the post goes), or a channel the post itself will find gone.
JOIN_LEAVES_IT_TO_THE_POST = frozenset({"method_not_supported_for_channel_type", "channel_not_found", "is_archived"})


class ChartPending(OutcomeUnknown):
    """The message is out, its chart is not: retry the chart alone.

    An `OutcomeUnknown` so that delivery keeps the row's "posted" mark: the next attempt, in this
    process or after a restart, is an unconfirmed one, which looks for the post in the channel's
    history and uploads only the chart when it is there.
    """


class WorkspaceGate:
    """One Retry-After for the whole workspace: a workspace-wide 429 holds every sender until it has passed."""

    def __init__(self, clock: Any = time.monotonic, max_wait: float = MAX_WAIT) -> None:
        self.clock = clock
        self.max_wait = max_wait
        self.until = 0.0

    def hold(self, seconds: float) -> None:
        self.until = max(self.until, self.clock() + seconds)

    async def wait_if_short(self) -> None:
        """Wait out a hold up to `max_wait` long (before a send slot is taken); a longer one is for `send` to raise."""
        delay = self.until - self.clock()
        if 0 < delay <= self.max_wait:
            await self.wait()

    async def wait(self) -> None:
        """Wait out the hold; one longer than `max_wait` raises instead, so the alert is retried later."""
        # A loop, not an Event: another 429 may move the deadline while we sleep.
        while (delay := self.until - self.clock()) > 0:
            if delay > self.max_wait:
                raise DeliveryError(f"Slack asked the workspace to wait {delay:.0f}s", retry_after=delay)
            await asyncio.sleep(delay)


class WorkspacePace:
    """The workspace's limit, learned from its 429s (Slack does not publish it); no pacing until one comes.

    When the workspace says wait, the posts it accepted over the last minute plus that wait are
    what it allows in that time: posts are paced at that rate from then on, so the senders do not
    run into the limit again as soon as the wait is over. The pace creeps up 0.2% a second (to at
    most twice what was learned), and the next workspace 429 learns it again.
    """

    WINDOW = 60.0
    GROWTH = 0.002  # per second since the rate was learned

    def __init__(self, clock: Any = time.monotonic) -> None:
        self.clock = clock
        self.accepted: deque[float] = deque()
        self.learned: float | None = None
        self.learned_at = 0.0
        self._next = 0.0

    def _trim(self, now: float) -> None:
        while self.accepted and self.accepted[0] < now - self.WINDOW:
            self.accepted.popleft()

    def accepted_post(self) -> None:
        now = self.clock()
        self.accepted.append(now)
        self._trim(now)

    def limited(self, retry_after: float) -> None:
        now = self.clock()
        self._trim(now)
        if not self.accepted:
            return
        # Retry-After comes in whole seconds, rounded up: the real wait is half a second shorter on average.
        self.learned = len(self.accepted) / (now - self.accepted[0] + max(retry_after - 0.5, 0.5))
        self.learned_at = now
        log.info("slack: the workspace allows about %.0f posts/s; pacing every channel together at that", self.learned)

    @property
    def rate(self) -> float | None:
        if self.learned is None:
            return None
        return self.learned * min(2.0, 1.0 + self.GROWTH * (float(self.clock()) - self.learned_at))

    async def wait(self) -> None:
        rate = self.rate
        if not rate:
            return
        now = self.clock()
        slot = max(now, self._next)
        self._next = slot + 1.0 / rate
        if slot > now:
            await asyncio.sleep(slot - now)


class GatedRateLimitRetryHandler(AsyncRetryHandler):
    """slack_sdk's 429 retry, but waiting on the shared gate for exactly `Retry-After`, no extra jitter.

    Not for `chat.postMessage`: the adapter handles its 429s, knowing the channel. Not beyond `max_wait`.
    """

    def __init__(self, gate: WorkspaceGate, max_retry_count: int = 5) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.gate = gate

    async def _can_retry_async(self, *, state: RetryState, request: HttpRequest,
                               response: HttpResponse | None = None, error: Exception | None = None) -> bool:
        return (response is not None and response.status_code == 429
                and not request.url.endswith("chat.postMessage") and retry_after(response) <= self.gate.max_wait)

    async def prepare_for_next_attempt_async(self, *, state: RetryState, request: HttpRequest,
                                             response: HttpResponse | None = None,
                                             error: Exception | None = None) -> None:
        state.next_attempt_requested = True
        rate_limited("slack")
        self.gate.hold(retry_after(response))
        await self.gate.wait()
        state.increment_current_attempt()


def header_seconds(headers: Any) -> float | None:
    """Seconds from a `Retry-After` header (slack_sdk keeps header values as lists); None when absent or odd."""
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) and value else value
            try:
                return max(float(str(raw)), 0.0)
            except ValueError:
                return None
    return None


def retry_after(response: HttpResponse | None) -> float:
    """A 429 answer's wait; 1 s when it names none."""
    seconds = header_seconds(response.headers) if response is not None else None
    return 1.0 if seconds is None else seconds


class ChannelPacer:
    """At most one post per `interval` per channel (a margin under Slack's pace), so bursts do not earn 429s.

    A channel's own 429 moves only that channel's next turn (`hold`). Turns are spaced by
    `interval`; the wait between a turn and the request leaving (a send slot, the outbox mark)
    varies, so `spaced` also keeps two requests `spacing` apart where they really leave.
    """

    def __init__(self, interval: float = CHANNEL_INTERVAL, clock: Any = time.monotonic,
                 spacing: float | None = None) -> None:
        self.interval = interval
        self.spacing = min(interval, MIN_SPACING) if spacing is None else spacing
        self.clock = clock
        self._next: dict[str, float] = {}
        self._sent: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def turn(self, channel: str) -> None:
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            delay = self._next.get(channel, 0.0) - self.clock()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next[channel] = self.clock() + self.interval

    async def spaced(self, channel: str) -> None:
        """Right before a request leaves: at least `spacing` after the channel's previous one left."""
        if (delay := self._sent.get(channel, float("-inf")) + self.spacing - self.clock()) > 0:
            await asyncio.sleep(delay)
        self._sent[channel] = self.clock()

    def hold(self, channel: str, seconds: float) -> None:
        self._next[channel] = max(self._next.get(channel, 0.0), self.clock() + seconds)


class ConnectFailureRetryHandler(AsyncConnectionErrorRetryHandler):
    """Retry only a connection that never opened: a request cut off later may have been posted already."""

    def __init__(self) -> None:
        super().__init__(max_retry_count=1, error_types=[ClientConnectorError])


class SlackAdapter(Adapter):
    """The Adapter for `platform = "slack"`: one bot token, one workspace."""

    platform = "slack"

    idempotent = False  # no send nonce: delivery marks each post, and `send` checks unconfirmed ones

    def __init__(self, token: str, api_url: str = "https://slack.com/api/", *, timeout: int = 15,
                 max_rate_limit_retries: int = 5, channel_interval: float = CHANNEL_INTERVAL,
                 max_wait: float = MAX_WAIT, session: aiohttp.ClientSession | None = None) -> None:
        self._token = token
        self._shared_session = session  # one workspace among many: the HTTP session is theirs, not closed here
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.timeout = timeout
        self.max_wait = max_wait
        self.gate = WorkspaceGate(max_wait=max_wait)
        self.pacer = ChannelPacer(channel_interval)
        self.workspace = WorkspacePace()
        self.max_rate_limit_retries = max_rate_limit_retries
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None
        self._posted: set[str] = set()  # alert keys whose message is out and whose chart is still to upload
        self._joined: set[str] = set()  # channels this process joined (or found itself in) for charts
        self._turn_taken: set[str] = set()  # channels whose pacing turn `ready` took for the next post
        self._limited: dict[str, float] = {}  # channel → until when its own 429 holds it
        self._workspace_limited_at = float("-inf")

    @property
    def client(self) -> AsyncWebClient:
        """Built on first use, inside the running loop; one HTTP session for every call (keep-alive)."""
        if self._client is None:
            if self._shared_session is None:
                self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
            self._client = AsyncWebClient(
                token=self._token, base_url=self.api_url, timeout=self.timeout,
                session=self._shared_session or self._session,
                retry_handlers=[
                    ConnectFailureRetryHandler(),
                    GatedRateLimitRetryHandler(self.gate, self.max_rate_limit_retries),
                ],
            )
        return self._client

    def use_token(self, token: str) -> None:
        """The workspace's token (rotated, or the app reinstalled): the next request carries it."""
        if token == self._token:
            return
        self._token = token
        if self._client is not None:
            self._client.token = token

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = self._client = None

    async def ready(self, channel: str) -> None:
        """Wait for this channel's next turn; delivery calls it before taking a send slot."""
        await self.pacer.turn(channel)
        self._turn_taken.add(channel)

    async def send(self, channel: str, alert: Alert, mention: str | None = None,
                   thread: Thread | None = None) -> str | None:
        """Post in the channel, or as a reply in `thread.anchor`'s thread (also shown in the channel with
        `thread.broadcast`); with a `thread`, a new top-level post's `ts` is returned for later replies."""
        reply_to = thread.anchor if thread is not None else None
        try:
            if alert.message.image is not None:  # the digest: never a reply, never an anchor
                await self._send_with_chart(channel, alert, alert.message.image, mention)
                return None
            found = await self._posted_before(channel, alert, reply_to) if alert.unconfirmed else False
            if found is False:
                try:
                    ts = str((await self._post(channel, alert, mention, thread)).get("ts") or "")
                except SlackApiError as exc:
                    if reply_to is None or _error_of(exc) != "thread_not_found":
                        raise
                    # The announcement was deleted: the follow-up goes to the channel, and anchors what follows.
                    log.info("slack: the thread of %s in %s is gone; %s goes to the channel", reply_to, channel,
                             alert.key)
                    reply_to = None
                    ts = str((await self._post(channel, alert, mention)).get("ts") or "")
            else:  # out after all: its `ts` still anchors what follows
                ts = found if isinstance(found, str) else ""
        except SlackApiError as exc:
            raise _failure(exc) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise DeliveryError(f"Slack did not answer: {type(exc).__name__} {exc}".strip()) from None
        return ts if thread is not None and reply_to is None and ts else None

    async def _send_with_chart(self, channel: str, alert: Alert, image: Image, mention: str | None) -> None:
        """Join (public channels), post the text, share the chart; each step at most once per alert."""
        refusal = await self._join(channel)
        if alert.key not in self._posted and not (alert.unconfirmed and await self._posted_before(channel, alert)):
            if refusal is not None:
                note = f"Chart not attached: {refusal}."
                message = replace(alert.message, lines=(*alert.message.lines, line(note)), image=None)
                await self._post(channel, replace(alert, message=message), mention)
                log.warning("slack: %s posted to %s without its chart: %s", alert.key, channel, refusal)
                return
            await self._post(channel, alert, mention)
        elif refusal is not None:  # posted by an earlier attempt; the chart cannot follow it
            log.warning("slack: the chart of %s is dropped in %s: %s", alert.key, channel, refusal)
            self._posted.discard(alert.key)
            return
        self._posted.add(alert.key)  # kept only while `ChartPending` asks for the chart alone
        try:
            await self._upload(channel, image, alert.message.title)
        except (SlackApiError, TimeoutError, aiohttp.ClientError) as exc:
            await self._chart_failed(channel, alert, exc)
        self._posted.discard(alert.key)

    async def _join(self, channel: str) -> str | None:
        """Join a public channel so its chart can be shared; None when that is done or not needed, else why not.

        `chat:write.public` posts without joining, but files are shared only where the bot is a member.
        """
        if channel in self._joined:
            return None
        try:
            await self.gate.wait()
            await self.client.conversations_join(channel=channel)
        except SlackApiError as exc:
            error = _error_of(exc)
            if error in JOIN_LEAVES_IT_TO_THE_POST:
                return None
            if error in AUTH_ERRORS - {"missing_scope"} or _rate_limited(exc) or _status_of(exc) >= 500:
                raise  # the token, or Slack now: the alert waits, as for a post
            if error == "missing_scope":
                return ("the app cannot join this channel to share it (its token lacks the channels:join scope;"
                        " add it and reinstall the app, or invite the app here)")
            return f"the app could not join this channel to share it (Slack answered {error or 'an error'})"
        self._joined.add(channel)
        return None

    async def _chart_failed(self, channel: str, alert: Alert,
                            exc: SlackApiError | TimeoutError | aiohttp.ClientError) -> None:
        """The digest's text is out and its chart upload failed: retry the chart alone, or drop it; never repost.

        A restart forgets `_posted`, so what survives is the outbox row's "posted" mark: raising
        `ChartPending` keeps it, and the next attempt (after a restart too) looks for the post in
        the channel's history (`_posted_before`) and uploads only the chart. That works only where
        the bot can read the history, so it is checked now: where the post is found there, the chart
        is retried (up to `CHART_ATTEMPTS` uploads in all, so it cannot hold the channel's later
        alerts for long); where it cannot be found (no `channels:history` / `groups:history` scope),
        a later attempt could not tell that the text is out and would post it again, so the chart
        is dropped now, with one log line, and the digest counts as delivered. A refusal that no
        retry changes (`CHART_REFUSED`: the bot may not share files there) drops the chart at once
        too, and never pauses the channel.
        """
        reason = f"Slack answered {_error_of(exc) or _status_of(exc)}" if isinstance(exc, SlackApiError) \
            else f"Slack did not answer: {type(exc).__name__}"
        if isinstance(exc, SlackApiError) and _error_of(exc) in CHART_REFUSED:
            self._joined.discard(channel)  # removed from it since? the next chart joins again
            log.warning("slack: the chart of %s was not shared in %s (%s); the digest went out without it",
                        alert.key, channel, reason)
            return
        if alert.unconfirmed + 1 >= CHART_ATTEMPTS:
            log.warning("slack: the chart of %s failed to upload to %s %d times (last: %s); the digest went out"
                        " without it", alert.key, channel, CHART_ATTEMPTS, reason)
            return
        try:
            found = await self._find_in_history(channel, alert.key)
        except SlackApiError:
            found = None
        if not found:
            why = ("without the channels:history / groups:history scope" if found is None
                   else f"its post is not among the channel's last {HISTORY_LOOKBACK} messages, so")
            log.warning("slack: the chart of %s failed to upload to %s (%s) and is dropped: %s a retry after a"
                        " restart could not tell that the digest is already posted, and would post it again",
                        alert.key, channel, reason, why)
            return
        wait = _retry_after_of(exc) if isinstance(exc, SlackApiError) else None
        raise ChartPending(f"the digest is posted; its chart upload failed ({reason}), retrying the chart alone",
                           retry_after=wait)

    async def _post(self, channel: str, alert: Alert, mention: str | None, thread: Thread | None = None) -> Any:
        """chat.postMessage in this channel's turn; its 429s are the channel's unless another channel is held too.

        A reply carries `thread_ts` (the anchor's `ts`) and, to show it in the channel too, `reply_broadcast`.
        """
        post = render(alert.message, mention)
        threading: dict[str, Any] = {}
        if thread is not None and thread.anchor is not None:
            threading = {"thread_ts": thread.anchor, "reply_broadcast": thread.broadcast}
        if channel in self._turn_taken:
            self._turn_taken.discard(channel)
        else:
            await self.pacer.turn(channel)
        for attempt in range(self.max_rate_limit_retries + 1):
            await self.gate.wait()
            await self.workspace.wait()
            await self.pacer.spaced(channel)
            try:
                answer = await self.client.chat_postMessage(
                    channel=channel, text=post.text, blocks=post.blocks, unfurl_links=False, unfurl_media=False,
                    metadata={"event_type": METADATA_EVENT, "event_payload": {"key": alert.key}}, **threading,
                )
                self.workspace.accepted_post()
                return answer
            except SlackApiError as exc:
                if not _rate_limited(exc):
                    raise
                rate_limited("slack")
                wait = _retry_after_of(exc) or 1.0
                self._rate_limited(channel, wait)
                if wait > self.max_wait or attempt == self.max_rate_limit_retries:
                    raise  # the alert goes back to the outbox with its Retry-After; nothing sits through it
                await self.pacer.turn(channel)
            except ClientConnectorError:
                raise  # never connected: nothing was posted, a plain retry later is safe
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise OutcomeUnknown(f"Slack did not answer the post: {type(exc).__name__} {exc}".strip()) from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _rate_limited(self, channel: str, wait: float) -> None:
        """A 429 holds its channel; a second channel held at the same time means the workspace is limited."""
        now = self.pacer.clock()
        self._limited = {other: until for other, until in self._limited.items() if until > now}
        if any(other != channel for other in self._limited):
            if self.gate.until <= now:
                log.info("slack: several channels rate limited at once; holding the workspace for %.0fs", wait)
                # Twice within a minute: the workspace limit, not two channels' bad luck; learn its pace.
                if now - self._workspace_limited_at < WorkspacePace.WINDOW:
                    self.workspace.limited(wait)
                self._workspace_limited_at = now
            self.gate.hold(wait)
        self._limited[channel] = now + wait
        self.pacer.hold(channel, wait)

    async def _posted_before(self, channel: str, alert: Alert, reply_to: str | None = None) -> str | bool:
        """An unconfirmed earlier post of `alert` in the channel (or in `reply_to`'s thread): its `ts` when found
        there, True when it is assumed out without a `ts` to show, False means post (again)."""
        found = await self._find_in_history(channel, alert.key, reply_to)
        if found is not None:
            if found:
                log.info("slack: alert %s was posted in %s after all (found in its history); not posting it again",
                         alert.key, channel)
            return found
        if alert.unconfirmed >= 2:
            log.warning("slack: %d posts of alert %s to %s got no answer, and without the channels:history /"
                        " groups:history scope the bot cannot check them; not posting it a third time",
                        alert.unconfirmed, alert.key, channel)
            raise AssumedDelivered(f"{alert.unconfirmed} posts unanswered; no history scope to check")
        log.warning("slack: a post of alert %s to %s got no answer; without the channels:history / groups:history"
                    " scope the bot cannot check, so it posts once more (a duplicate is possible)", alert.key, channel)
        return False

    async def _find_in_history(self, channel: str, key: str, thread_ts: str | None = None) -> str | bool | None:
        """The `ts` of the post carrying `key` among the channel's recent messages (a thread's replies when
        `thread_ts`: conversations.history lists no replies), False when it is not there; None: the bot cannot
        look."""
        try:
            await self.gate.wait()
            if thread_ts is None:
                answer = await self.client.conversations_history(channel=channel, limit=HISTORY_LOOKBACK,
                                                                 include_all_metadata=True)
            else:
                answer = await self.client.conversations_replies(channel=channel, ts=thread_ts,
                                                                 limit=HISTORY_LOOKBACK, include_all_metadata=True)
        except SlackApiError as exc:
            if _error_of(exc) in AUTH_ERRORS - {"missing_scope"} or _rate_limited(exc) or _status_of(exc) >= 500:
                raise
            if thread_ts is not None and _error_of(exc) == "thread_not_found":  # the reply went to the channel
                return await self._find_in_history(channel, key)
            return None  # missing_scope, not_in_channel, …: no way to look here
        for found in answer.get("messages") or []:
            metadata = found.get("metadata") or {} if isinstance(found, dict) else {}
            if metadata.get("event_type") == METADATA_EVENT and (metadata.get("event_payload") or {}).get("key") == key:
                return str(found.get("ts") or "") or True
        return False

    async def _upload(self, channel: str, image: Image, title: str) -> None:
        await self.gate.wait()
        await self.client.files_upload_v2(
            channel=channel, content=image.data, filename=image.filename, title=image.description or title,
            alt_txt=image.description or title,
        )


def _failure(exc: SlackApiError) -> DeliveryError:
    """Slack's answer → pause the channel, set the message aside, or retry later (with its Retry-After if any)."""
    response = exc.response
    status = _status_of(exc)
    error = _error_of(exc)
    if error in GONE_ERRORS or error.startswith(GONE_PREFIX):
        return DestinationGone(f"Slack answered {error}")
    if error == "missing_scope":
        needed = str(response.get("needed") or "a scope it does not name")
        return PlatformRefused(f"Slack answered missing_scope: the bot token lacks {needed}; add it under"
                               " OAuth & Permissions and reinstall the app")
    if error in AUTH_ERRORS:
        return PlatformRefused(f"Slack answered {error}")
    if error in REJECTED_ERRORS:
        return AlertRejected(f"Slack answered {error}")
    if _rate_limited(exc):
        wait = _retry_after_of(exc)
        return DeliveryError(f"Slack answered {status} {error or 'ratelimited'} (rate limited for {wait or 1:.0f}s)",
                             retry_after=wait)
    return DeliveryError(f"Slack answered HTTP {status} {error or 'error'}".strip())


def _retry_after_of(exc: SlackApiError) -> float | None:
    return header_seconds(getattr(exc.response, "headers", None))


def _error_of(exc: SlackApiError) -> str:
    response = exc.response
    return str(response.get("error") or "") if hasattr(response, "get") else ""


def _status_of(exc: SlackApiError) -> int:
    return int(getattr(exc.response, "status_code", 0) or 0)


def _rate_limited(exc: SlackApiError) -> bool:
    """A 429, or a 200 answer saying `rate_limited`: both mean wait (for `Retry-After` when given), not refuse."""
    return _status_of(exc) == 429 or _error_of(exc) in RATE_LIMIT_ERRORS


class SlackWorkspaces(Adapter):
    """The Adapter for `platform = "slack"` when workspaces install the app ("Add to Slack"): a token per workspace.

    Each workspace gets its own `SlackAdapter` (its own gate, pacing and learnt limit) over one
    shared HTTP session, so one workspace's 429 holds only its own channels: its workspace-wide
    wait is taken in `ready`, before a send slot, so its channels never sit in the slots other
    workspaces need. A workspace whose token is refused (`invalid_auth`, `token_revoked`,
    `missing_scope`) raises `PlatformRefused` for its account (`slack:T…`) alone; a channel whose
    workspace is not known (no command seen there, several workspaces installed) waits with one
    line saying how to fix it.
    """

    platform = "slack"
    idempotent = False

    def __init__(self, installations: StoredInstallations, api_url: str = "https://slack.com/api/", *,
                 timeout: int = 15,
                 max_wait: float = MAX_WAIT, channel_interval: float = CHANNEL_INTERVAL, command: str = "/trending",
                 ) -> None:
        self.installations = installations
        self.api_url = api_url
        self.timeout = timeout
        self.max_wait = max_wait
        self.channel_interval = channel_interval
        self.command = command
        self.workspaces: dict[str, SlackAdapter] = {}
        self._session: aiohttp.ClientSession | None = None

    async def _workspace(self, channel: str) -> tuple[str, SlackAdapter]:
        found = await self.installations.workspace_of(channel)
        if found is None:
            raise DeliveryError(f"no workspace is known for Slack channel {channel}: run `{self.command} alerts"
                                " status` in it once (several workspaces have installed the app)")
        team, enterprise = found
        token = await self.installations.token_for(team, enterprise)
        if token is None:
            raise PlatformRefused(f"workspace {team} has no installation of the app (uninstalled, or not yet"
                                  " installed): its alerts wait", account=f"slack:{team}")
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        adapter = self.workspaces.get(team)
        if adapter is None:
            adapter = self.workspaces[team] = SlackAdapter(
                token, self.api_url, timeout=self.timeout, max_wait=self.max_wait,
                channel_interval=self.channel_interval, session=self._session)
        else:
            adapter.use_token(token)
        return team, adapter

    async def ready(self, channel: str) -> None:
        try:
            _, adapter = await self._workspace(channel)
        except DeliveryError:
            return  # `send` raises it, where delivery handles it
        await adapter.ready(channel)
        await adapter.gate.wait_if_short()

    async def send(self, channel: str, alert: Alert, mention: str | None = None,
                   thread: Thread | None = None) -> str | None:
        team, adapter = await self._workspace(channel)
        try:
            return await adapter.send(channel, alert, mention, thread)
        except PlatformRefused as exc:
            self.installations.forget(team)  # reinstalled since? the next attempt reads the store again
            raise PlatformRefused(f"workspace {team}: {exc}", exc.retry_after, account=f"slack:{team}") from None

    async def close(self) -> None:
        for adapter in self.workspaces.values():
            await adapter.close()
        self.workspaces.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
