"""What delivery needs of an output (the `Adapter` protocol) and how an output says a send failed.

Every failure an adapter raises is one of the classes below, each carrying its `DeliveryOutcome`: delivery
acts on the class (pause, set aside, retry) and metrics count the outcome, with no table of their own.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from bot.delivery.threading import Thread
from bot.domain.messages import Alert
from bot.domain.outcomes import DeliveryOutcome


class DeliveryError(Exception):
    """A send failed and may work later (5xx, timeout, rate limit beyond patience)."""

    outcome: ClassVar[DeliveryOutcome] = DeliveryOutcome.RETRY

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after

    @property
    def result(self) -> DeliveryOutcome:
        """The outcome of this one failure: a transient one with the platform's Retry-After is a rate limit."""
        if self.outcome is DeliveryOutcome.RETRY and self.retry_after:
            return DeliveryOutcome.RATE_LIMITED
        return self.outcome


class DestinationGone(DeliveryError):
    """The destination refuses for good (403/404, channel_not_found, archived): pause it."""

    outcome = DeliveryOutcome.GONE


class PlatformRefused(DeliveryError):
    """The platform refuses the bot's credentials (revoked token): no channel is to blame, so none is paused.

    `account`: whose credentials, where one platform holds several (a Slack workspace's token, `slack:T…`):
    the refusal then speaks for that account's channels only, never for the other workspaces'.
    """

    outcome = DeliveryOutcome.REFUSED

    def __init__(self, reason: str, retry_after: float | None = None, account: str | None = None) -> None:
        super().__init__(reason, retry_after)
        self.account = account


class AlertRejected(DeliveryError):
    """The platform refuses this one message (400 Invalid Form Body, msg_too_long): resending cannot help."""

    outcome = DeliveryOutcome.REJECTED


class OutcomeUnknown(DeliveryError):
    """The post went out but no answer came (timeout, dropped connection): it may or may not be posted."""

    outcome = DeliveryOutcome.UNKNOWN


class AssumedDelivered(Exception):
    """The adapter will not post again: earlier posts went unanswered and it cannot check. Marked delivered, noted."""

    outcome: ClassVar[DeliveryOutcome] = DeliveryOutcome.ASSUMED


def outcome_of(exc: BaseException) -> DeliveryOutcome:
    """A send's exception → its outcome; anything an adapter did not classify is transient."""
    if isinstance(exc, DeliveryError):
        return exc.result
    if isinstance(exc, AssumedDelivered):
        return exc.outcome
    return DeliveryOutcome.RETRY


class Adapter(Protocol):
    """Everything the core calls on an output. Adapters subclass it and override what applies to them;
    the defaults are those of an output with nothing to connect, pace or check (the console).

    - `idempotent` (default True): a resend cannot post twice (Discord's nonce, the console).
      False makes delivery mark each post before it goes out and count those left unanswered.
    - `pacing_rate`: sends per second one pacer allows across all channels (sizes in-flight sends);
      None where each channel is paced on its own.
    - `start()`: log in before the first send (`once`); `run` leaves that to the platform's connection.
    - `pace()`: wait for that pacer; called holding a send slot, and not counted as answer time.
    - `ready(channel)`: wait for this channel's own pacing; called before taking a slot.
    - `close()`: release connections; called once at exit, whether or not `start` ran.
    - `threads_alone` (default False): the platform has targets that thread every alert whatever the
      subscription's `threads` setting (a Discord forum channel), so delivery looks up anchors for it.
    """

    platform: str
    idempotent: bool = True
    pacing_rate: float | None = None
    threads_alone: bool = False

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def pace(self) -> None:
        return None

    async def ready(self, channel: str) -> None:
        return None

    async def send(self, channel: str, alert: Alert, mention: str | None = None,
                   thread: Thread | None = None) -> str | None:
        """Post one alert; raise a `DeliveryError` (or `AssumedDelivered`) on failure.

        `thread` (given only where threads apply, see bot/delivery/threading.py): reply to `thread.anchor`
        when set, else post anew. Returns the handle of a new post that later alerts can reply to (a Slack
        message's `ts`, a Discord forum post's thread id), or None: a reply, or a target without threads.
        """
        return None
