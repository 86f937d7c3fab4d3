"""Drain the outbox: send each pending alert once, in order per channel.

Channels are drained concurrently; within a channel a failure stops the drain
so later alerts never overtake earlier ones. A transient failure is retried
with exponential backoff; a permanent one (channel gone, no access) pauses the
destination with its reason instead of retrying forever. A message the
platform rejects as such (malformed, too large) is set aside with its reason
so it cannot block the channel's later alerts.

How many sends are in flight: where one rate paces every channel of a
platform (Discord's global limit), Little's law says the sends waiting for an
answer must number rate × answer time to keep that rate, so the limit follows
the observed answer time (with a margin) up to `[delivery] concurrency`. Where
each channel is paced on its own (Slack), a channel has at most one send in
flight and waits for its next turn without holding a slot, so every channel
with work may send at once, up to the same bound.

Posts a platform cannot deduplicate (Slack has no send nonce) are marked in the
outbox before they go out; a post whose answer never came (timeout, dropped
connection, crash) is counted, and the adapter checks before posting it again.

Several deliverers (`run` processes on one PostgreSQL) share the outbox by claims
(store/outbox.py, migration 0013): a pass claims whole channels, a few at a time
(a quarter more than it can send at once, refilled as channels finish), so each
deliverer takes its share of a large fan-out; it renews its claims while it works and releases
what it did not finish at the end. A send goes out only while its claim holds
(checked and renewed in the same statement as the "posted" mark), so a
deliverer that stalled past its claim never posts what another took over.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from bot.delivery.adapter import Adapter, DeliveryError, PlatformRefused, outcome_of
from bot.delivery.threading import Thread, anchored_by, followed_up, thread_for, threads_apply
from bot.delivery.wording import render
from bot.digest.chart_worker import digest_image
from bot.domain.events import Digest, Event, event_from_payload
from bot.domain.messages import Alert, Image
from bot.domain.outcomes import DeliveryOutcome
from bot.log import get_logger
from bot.retry import DELIVERY
from store import destinations as destination_store
from store import outbox
from store import threads as thread_store
from store.db import Conn, Database, StoreError
from store.lease import process_alive

log = get_logger(__name__)


class InFlight:
    """Send slots sized by Little's law: `rate` × observed answer time × margin, within 1..`most`.

    Without a rate (channels paced on their own), every slot up to `most` is open. The answer
    time is a moving average, so the limit follows the platform's latency as it drifts.

    Waiters queue first come, first served, and a freed slot is handed to the next of them only:
    one alert to 10,000 channels has thousands of channels waiting, and waking each of them at
    every freed slot (a condition's `notify_all`) cost more CPU than the sends, well under the rate.
    """

    MARGIN = 1.25
    FIRST_GUESS = 0.25  # seconds; a typical round trip to a chat platform before any was measured
    WEIGHT = 0.2

    def __init__(self, most: int, rate: float | None = None) -> None:
        self.most = max(1, most)
        self.rate = rate
        self.answer_time = self.FIRST_GUESS
        self.busy = 0
        self.peak = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    @property
    def limit(self) -> int:
        if not self.rate:
            return self.most
        return max(1, min(self.most, math.ceil(round(self.rate * self.answer_time * self.MARGIN, 3)) + 1))

    def observe(self, seconds: float) -> None:
        self.answer_time += self.WEIGHT * (seconds - self.answer_time)

    def _hand_over(self) -> None:
        """Give free slots to the longest waiting, counted busy at once so nobody overtakes them."""
        while self._waiting and self.busy < self.limit:
            waiter = self._waiting.popleft()
            if not waiter.done():
                self.busy += 1
                waiter.set_result(None)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self.busy < self.limit and not self._waiting:
            self.busy += 1
        else:
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():  # handed a slot just as it was cancelled
                    self.busy -= 1
                    self._hand_over()
                elif waiter in self._waiting:
                    self._waiting.remove(waiter)
                raise
        self.peak = max(self.peak, self.busy)
        try:
            yield
        finally:
            self.busy -= 1
            self._hand_over()


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    rejected: int = 0
    paused: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # platform → why it refused our credentials
    in_flight: dict[str, int] = field(default_factory=dict)  # platform → most sends awaiting an answer at once
    claim_lost: int = 0  # sends not made: this deliverer's claim had lapsed and another deliverer took the channel


@dataclass(frozen=True, slots=True)
class Claimer:
    """Who claims outbox rows in a pass (host:pid:nonce, like the worker lease's holder) and for how long."""

    name: str
    length: timedelta = timedelta(seconds=30)

    @classmethod
    def of_this_process(cls, length: timedelta = timedelta(seconds=30)) -> Claimer:
        return cls(f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}", length)

    def until(self, now: datetime) -> outbox.Claim:
        return outbox.Claim(self.name, now + self.length)


def orphaned(claimer: str, host: str) -> bool:
    """A claim of a process on this host that no longer exists (killed): its rows need not wait out the claim."""
    parts = claimer.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    return parts[0] == host and not process_alive(int(parts[1]))


def alert_for(item: outbox.OutboxItem) -> Alert:
    """The alert in the look of the subscription it goes to (its template, read with the outbox row)."""
    return Alert(key=item.key, message=render(event_from_payload(item.payload), item.destination.template),
                 payload=item.payload, unconfirmed=item.unconfirmed)


async def alert_with_image(item: outbox.OutboxItem, images: dict[int, asyncio.Task[Image | None]]) -> Alert:
    """`alert_for`, plus the chart of a digest drawn in a child process, once per event however many channels.

    A chart that fails to draw is logged and the digest goes out without it rather than not at all.
    """
    alert = alert_for(item)
    event = event_from_payload(item.payload)
    if not isinstance(event, Digest):
        return alert
    if item.event_id not in images:
        images[item.event_id] = asyncio.create_task(digest_image(event))
    try:
        image = await asyncio.shield(images[item.event_id])
    except Exception:
        log.exception("could not draw the chart of digest %s; sending it without", event.week)
        return alert
    return replace(alert, message=replace(alert.message, image=image)) if image else alert


class OutboxDrain:
    """One delivery pass: every due alert, each channel's in order, channels side by side.

    A pass holds what its sends share: the send slots per platform, the charts drawn once per digest, the
    report, and each platform's refusal of the token (one refusal speaks for every channel).
    """

    def __init__(self, db: Database, adapters: Mapping[str, Adapter], concurrency: int, max_backoff: timedelta,
                 clock: Callable[[], datetime], claimer: Claimer | None = None) -> None:
        self.db = db
        self.adapters = adapters
        self.concurrency = max(1, concurrency)
        self.ahead = self.concurrency + self.concurrency // 4 + 1  # channels able to send, claimed at once
        self.pacing = 0  # channels waiting for their own next turn (they hold no slot)
        self._changed: asyncio.Queue[asyncio.Task[None] | None] = asyncio.Queue()
        self.claimer = claimer or Claimer.of_this_process()
        self.max_backoff = max_backoff
        self.clock = clock
        self.report = DeliveryReport()
        self.slots = {name: InFlight(concurrency, adapter.pacing_rate) for name, adapter in adapters.items()}
        self.images: dict[int, asyncio.Task[Image | None]] = {}
        self._turns: dict[tuple[str, str], asyncio.Lock] = {}
        self.events: dict[int, Event] = {}  # event id → its event, for threads (bot/delivery/threading.py)

    async def retry_later(self, item: outbox.OutboxItem, exc: Exception, *, quiet: bool = False,
                          unsent: bool = False) -> None:
        """Try again after a backoff; `unsent`: the platform answered, so the post marked before it did not go out."""
        wait = timedelta(seconds=DELIVERY.capped(self.max_backoff.total_seconds()).delay(item.attempts + 1))
        if isinstance(exc, DeliveryError) and exc.retry_after:
            wait = max(wait, timedelta(seconds=exc.retry_after))
        if not quiet:
            log.warning("send to %s:%s failed (%s); retrying in %ds",
                        item.destination.platform, item.destination.channel, exc, wait.total_seconds())
        reason = str(exc) or type(exc).__name__
        async with self.db.transaction(serial=False) as conn:
            if unsent:
                await outbox.mark_unsent(conn, item.id, reason)
            await outbox.mark_retry(conn, item.id, reason, self.clock() + wait)
        self.report.retried += 1

    async def failed(self, item: outbox.OutboxItem, exc: Exception, outcome: DeliveryOutcome, tracked: bool) -> bool:
        """Act on a failed send by its outcome; True when the channel's next alerts may go on."""
        destination = item.destination
        match outcome:
            case DeliveryOutcome.UNKNOWN:
                await self.retry_later(item, exc)  # the mark stays: a copy may be out
                return False
            case DeliveryOutcome.ASSUMED:
                await outbox.mark_assumed_delivered(self.db.alone, item.id, self.clock(), f"unconfirmed: {exc}")
                self.report.sent += 1
                return True
            case DeliveryOutcome.GONE:
                # The channel is gone, not the subscription: every subscription of it stops at once.
                reason = f"{exc} (since {self.clock():%Y-%m-%d %H:%M} UTC)"
                channel = f"{destination.platform}:{destination.channel}"
                if channel not in self.report.paused:
                    log.warning("pausing %s channel %s: %s", destination.platform, destination.channel, exc)
                async with self.db.transaction() as conn:
                    await destination_store.pause_channel(conn, destination.platform, destination.channel, reason,
                                                          self.clock())
                    if tracked:
                        await outbox.mark_unsent(conn, item.id, str(exc))
                if channel not in self.report.paused:
                    self.report.paused.append(channel)
                return False
            case DeliveryOutcome.REFUSED:
                # One workspace's refusal (account `slack:T…`) holds only its own channels.
                whose = getattr(exc, "account", None) or destination.platform
                if whose not in self.report.refused:
                    self.report.refused[whose] = str(exc)
                    log.error("%s refused the bot's token (%s): no channel is paused and alerts stay queued;"
                              " fix the token and restart", whose, exc)
                await self.retry_later(item, exc, quiet=True, unsent=tracked)
                return False
            case DeliveryOutcome.REJECTED:
                log.error("%s refused alert %s for channel %s (%s); set aside, the channel's next alerts go on",
                          destination.platform, item.key, destination.channel, exc)
                await outbox.mark_rejected(self.db.alone, item.id, str(exc))
                self.report.rejected += 1
                return True
            case _:  # transient, rate limited or unexpected: keep the alert, try later
                await self.retry_later(item, exc, unsent=tracked)
                return False

    async def send_one(self, item: outbox.OutboxItem) -> bool:
        """One alert to its channel; False when the channel's later alerts must wait."""
        destination = item.destination
        if f"{destination.platform}:{destination.channel}" in self.report.paused:
            return False  # another subscription of this channel found it gone in this pass: it waits, paused
        if destination.platform in self.report.refused:  # one refusal of the token speaks for every channel
            await self.retry_later(item, PlatformRefused(self.report.refused[destination.platform]), quiet=True)
            return False
        adapter = self.adapters[destination.platform]
        tracked = not adapter.idempotent
        try:
            alert = await alert_with_image(item, self.images)
        except Exception as exc:  # a payload this version cannot read or render: retrying will not help
            log.error("alert %s for %s:%s cannot be rendered (%s); set aside, the channel's next alerts go on",
                      item.key, destination.platform, destination.channel, exc)
            await outbox.mark_rejected(self.db.alone, item.id, f"cannot render: {type(exc).__name__}: {exc}")
            self.report.rejected += 1
            return True
        await adapter.pace()
        # One statement each, a transaction by itself (`alone`): a post costs two round trips to the store.
        claim = self.claimer.until(self.clock())
        ours = (await outbox.mark_sending(self.db.alone, item.id, self.clock(), claim) if tracked
                else await outbox.keep_claim(self.db.alone, item.id, claim, self.clock()))
        if not ours:
            log.warning("alert %s for %s:%s not sent by this process: its claim lapsed and another deliverer has"
                        " the channel now", item.key, destination.platform, destination.channel)
            self.report.claim_lost += 1
            return False
        thread = await self.thread_of(item, adapter)
        started = time.monotonic()
        try:
            posted = await adapter.send(destination.channel, alert, destination.mention, thread)
        except Exception as exc:
            return await self.failed(item, exc, outcome_of(exc), tracked)
        self.slots[destination.platform].observe(time.monotonic() - started)
        await self.delivered(item, thread, posted)
        self.report.sent += 1
        return True

    async def thread_of(self, item: outbox.OutboxItem, adapter: Adapter) -> Thread | None:
        """Where threads apply (the subscription's setting, or a platform that threads alone): the alert's thread,
        its models' anchor looked up only for a follow-up. None leaves the send as it always was."""
        destination = item.destination
        if not threads_apply(destination.threads, adapter.threads_alone):
            return None
        event = self.event_of(item)
        models = followed_up(event)
        anchors = await thread_store.anchors_for(self.db.conn, destination.id, event.list, models) if models else {}
        return thread_for(event, destination.threads, anchors)

    def event_of(self, item: outbox.OutboxItem) -> Event:
        """The item's event, read once per pass however many channels it goes to (a fan-out reads it once)."""
        if (event := self.events.get(item.event_id)) is None:
            event = self.events[item.event_id] = event_from_payload(item.payload)
        return event

    async def delivered(self, item: outbox.OutboxItem, thread: Thread | None, posted: str | None) -> None:
        """Mark the row delivered; a new post that anchors models (bot/delivery/threading.py) is recorded in the
        same transaction, so an anchor exists exactly when its message is known to be out."""
        event = self.event_of(item) if thread is not None and posted is not None else None
        models = anchored_by(event, thread) if event is not None and thread is not None else ()
        if event is None or not models or posted is None:
            await outbox.mark_delivered(self.db.alone, item.id, self.clock())
            return
        async with self.db.transaction(serial=False) as conn:  # rows of a channel this deliverer has claimed
            await thread_store.record_anchor(conn, item.destination.id, event.list, models, posted, item.id,
                                             self.clock())
            await outbox.mark_delivered(conn, item.id, self.clock())

    async def drain(self, queue: list[outbox.OutboxItem]) -> None:
        """In order; a channel waiting for its own next turn (`ready`) holds no slot.

        A queue is one subscription's; the subscriptions of one channel take turns, one send at a time, so
        the first to find the channel gone pauses it before another subscription tries it again.
        """
        for n, item in enumerate(queue):
            adapter = self.adapters[item.destination.platform]
            async with self.channel_turn(item.destination.platform, item.destination.channel):
                if n:  # its next alert: the channel may wait for its turn (Slack), and then it asks for no slot
                    self.pacing += 1
                    self._changed.put_nowait(None)
                try:
                    await adapter.ready(item.destination.channel)
                finally:
                    if n:
                        self.pacing -= 1
                async with self.slots[item.destination.platform].slot():
                    if not await self.send_one(item):
                        return

    def channel_turn(self, platform: str, channel: str) -> asyncio.Lock:
        """The lock one channel's subscriptions share in this pass (uncontended for a channel with one)."""
        return self._turns.setdefault((platform, channel), asyncio.Lock())

    async def claim(self, destinations: int) -> list[list[outbox.OutboxItem]]:
        """Up to `destinations` channels nobody holds, each with its due alerts in order."""
        # In a transaction: a poll committing its alerts on the same connection is either all seen or not at all.
        async with self.db.transaction(serial=False) as conn:
            await self.release_orphans(conn)
            items = await outbox.claim_due(conn, self.claimer.until(self.clock()), self.clock(), list(self.adapters),
                                           destinations)
        by_destination: dict[int, list[outbox.OutboxItem]] = {}
        for item in items:
            by_destination.setdefault(item.destination.id, []).append(item)
        return list(by_destination.values())

    async def release_orphans(self, conn: Conn) -> None:
        """Claims of a killed process on this host go back at once (a standby on SQLite, a restart, a neighbour)."""
        host = socket.gethostname()
        for claimer in await outbox.live_claimers(conn, self.clock()):
            if claimer != self.claimer.name and orphaned(claimer, host):
                released = await outbox.release_claims(conn, claimer)
                log.info("took back %d alert(s) claimed by %s, a process that no longer exists", released, claimer)

    async def keep_claims(self) -> None:
        """Renew this pass's claims every third of their length, as long as it runs (a send may wait a minute)."""
        while True:
            await asyncio.sleep(self.claimer.length.total_seconds() / 3)
            try:
                await outbox.renew_claims(self.db.alone, self.claimer.until(self.clock()), self.clock())
            except StoreError as exc:  # each send checks its claim anyway: a lapsed one is not sent
                log.warning("could not renew this deliverer's claims (%s); trying again", exc)

    async def run(self) -> DeliveryReport:
        renewing = asyncio.create_task(self.keep_claims(), name="renew claims")
        try:
            await self.drain_claimed()
        finally:
            renewing.cancel()
            await asyncio.wait({renewing})
            with suppress(Exception):  # a dead store: the claims lapse by themselves
                await outbox.release_claims(self.db.alone, self.claimer.name)
        self.report.in_flight = {name: limiter.peak for name, limiter in self.slots.items() if limiter.peak}
        return self.report

    async def drain_claimed(self) -> None:
        """Claim channels while there are any: a quarter more than the in-flight cap, refilled as they finish.

        Channels that can send now are kept a little above the cap, so every slot stays busy while the
        next claim is made (a channel waiting for its own turn, Slack's one post a second, is not counted:
        it holds no slot). Claiming little ahead leaves the rest to other deliverers, and at the end of a
        fan-out no deliverer sits on channels another one, idle, could send. Every channel's queue ends
        within this pass, even when one fails (a database fault): a drain left running would overlap the
        next pass.
        """
        active: set[asyncio.Task[None]] = set()
        finished = self._changed  # a channel done (its task) or gone to wait for its turn (None); O(1) each
        failures: list[BaseException] = []
        more = True
        try:
            while True:
                sending = len(active) - self.pacing
                if more and not failures and sending <= self.concurrency:
                    wanted = self.ahead - sending
                    try:
                        queues = await self.claim(wanted)
                    except Exception as exc:
                        failures.append(exc)
                        queues = []
                    more = bool(queues)  # a short claim may only mean another deliverer took some
                    for queue in queues:
                        task = asyncio.create_task(self.drain(queue))
                        task.add_done_callback(finished.put_nowait)
                        active.add(task)
                if not active:
                    break
                done = await finished.get()
                if done is None:
                    continue
                active.discard(done)
                if not done.cancelled() and (failed := done.exception()) is not None:
                    failures.append(failed)
        finally:
            if active:  # cancelled (shutdown): the channels' drains end with the pass
                for task in active:
                    task.cancel()
                await asyncio.wait(active)
        if failures:
            raise failures[0]


async def deliver_due(
    db: Database,
    adapters: Mapping[str, Adapter],
    *,
    concurrency: int = 100,
    max_backoff: timedelta = timedelta(minutes=30),
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    claimer: Claimer | None = None,
) -> DeliveryReport:
    """Send every due alert once (see `OutboxDrain`); `claimer`: this process, claiming for `[delivery] claim`."""
    return await OutboxDrain(db, adapters, concurrency, max_backoff, clock, claimer).run()
