"""Drain the outbox: send each pending alert once, in order per channel.

Channels are drained concurrently (bounded); within a channel a failure stops
the drain so later alerts never overtake earlier ones. A transient failure is
retried with exponential backoff; a permanent one (channel gone, no access)
pauses the destination with its reason instead of retrying forever. A message
the platform rejects as such (malformed, too large) is set aside with its
reason so it cannot block the channel's later alerts.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.alerts import render
from bot.events import Digest, event_from_payload
from bot.log import get_logger
from bot.messages import Alert, Image
from store import destinations as destination_store
from store import outbox
from store.db import Database

log = get_logger(__name__)


class DeliveryError(Exception):
    """A send failed and may work later (5xx, timeout, rate limit beyond patience)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class DestinationGone(DeliveryError):
    """The destination refuses for good (403/404, channel_not_found, archived): pause it."""


class PlatformRefused(DeliveryError):
    """The platform refuses the bot's credentials (revoked token): no channel is to blame, so none is paused."""


class AlertRejected(DeliveryError):
    """The platform refuses this one message (400 Invalid Form Body, msg_too_long): resending cannot help."""


class Adapter(Protocol):
    platform: str

    async def send(self, channel: str, alert: Alert, mention: str | None = None) -> None:
        """Post one alert; raise DeliveryError or DestinationGone on failure."""


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    rejected: int = 0
    paused: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # platform → why it refused our credentials


def backoff(attempts: int, cap: timedelta, rng: random.Random | None = None) -> timedelta:
    """30 s, 1 min, 2 min … up to `cap`, with ±20% jitter so channels do not retry in lockstep."""
    base = min(cap.total_seconds(), 30.0 * 2 ** max(attempts - 1, 0))
    jitter = (rng or random).uniform(0.8, 1.2)
    return timedelta(seconds=min(cap.total_seconds(), base * jitter))


def alert_for(item: outbox.OutboxItem) -> Alert:
    return Alert(key=item.key, message=render(event_from_payload(item.payload)), payload=item.payload)


async def alert_with_image(item: outbox.OutboxItem, images: dict[int, asyncio.Task[Image | None]]) -> Alert:
    """`alert_for`, plus the chart of a digest drawn in a child process, once per event however many channels.

    A chart that fails to draw is logged and the digest goes out without it rather than not at all.
    """
    alert = alert_for(item)
    event = event_from_payload(item.payload)
    if not isinstance(event, Digest):
        return alert
    if item.event_id not in images:
        from bot.chart_worker import digest_image

        images[item.event_id] = asyncio.create_task(digest_image(event))
    try:
        image = await asyncio.shield(images[item.event_id])
    except Exception:
        log.exception("could not draw the chart of digest %s; sending it without", event.week)
        return alert
    return replace(alert, message=replace(alert.message, image=image)) if image else alert


async def deliver_due(
    db: Database,
    adapters: Mapping[str, Adapter],
    *,
    concurrency: int = 8,
    max_backoff: timedelta = timedelta(minutes=30),
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DeliveryReport:
    report = DeliveryReport()
    items = await outbox.due_items(db.conn, clock(), list(adapters))
    by_destination: dict[int, list[outbox.OutboxItem]] = {}
    for item in items:
        by_destination.setdefault(item.destination.id, []).append(item)
    gate = asyncio.Semaphore(concurrency)
    images: dict[int, asyncio.Task[Image | None]] = {}

    async def retry_later(item: outbox.OutboxItem, exc: Exception, *, quiet: bool = False) -> None:
        wait = backoff(item.attempts + 1, max_backoff)
        if isinstance(exc, DeliveryError) and exc.retry_after:
            wait = max(wait, timedelta(seconds=exc.retry_after))
        if not quiet:
            log.warning("send to %s:%s failed (%s); retrying in %ds",
                        item.destination.platform, item.destination.channel, exc, wait.total_seconds())
        async with db.transaction() as conn:
            await outbox.mark_retry(conn, item.id, str(exc) or type(exc).__name__, clock() + wait)
        report.retried += 1

    async def drain(queue: list[outbox.OutboxItem]) -> None:
        """In order; the slot is taken per alert, so a channel pacing its next alert does not hold one."""
        for item in queue:
            async with gate:
                destination = item.destination
                if destination.platform in report.refused:  # one refusal of the token speaks for every channel
                    await retry_later(item, PlatformRefused(report.refused[destination.platform]), quiet=True)
                    return
                adapter = adapters[destination.platform]
                try:
                    await adapter.send(destination.channel, await alert_with_image(item, images), destination.mention)
                except DestinationGone as exc:
                    reason = f"{exc} (since {clock():%Y-%m-%d %H:%M} UTC)"
                    log.warning("pausing %s channel %s: %s", destination.platform, destination.channel, exc)
                    async with db.transaction() as conn:
                        await destination_store.pause(conn, destination.id, reason, clock())
                    report.paused.append(f"{destination.platform}:{destination.channel}")
                    return
                except PlatformRefused as exc:
                    if destination.platform not in report.refused:
                        report.refused[destination.platform] = str(exc)
                        log.error("%s refused the bot's token (%s): no channel is paused and alerts stay queued;"
                                  " fix the token and restart", destination.platform, exc)
                    await retry_later(item, exc, quiet=True)
                    return
                except AlertRejected as exc:
                    log.error("%s refused alert %s for channel %s (%s); set aside, the channel's next alerts go on",
                              destination.platform, item.key, destination.channel, exc)
                    async with db.transaction() as conn:
                        await outbox.mark_rejected(conn, item.id, str(exc))
                    report.rejected += 1
                    continue
                except Exception as exc:  # transient or unexpected: keep the alert, try later
                    await retry_later(item, exc)
                    return
                async with db.transaction() as conn:
                    await outbox.mark_delivered(conn, item.id, clock())
                report.sent += 1

    await asyncio.gather(*(drain(queue) for queue in by_destination.values()))
    return report
