"""What delivery needs of an output (the `Adapter` protocol) and how an output says a send failed."""

from __future__ import annotations

from typing import Protocol

from bot.domain.messages import Alert


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


class OutcomeUnknown(DeliveryError):
    """The post went out but no answer came (timeout, dropped connection): it may or may not be posted."""


class AssumedDelivered(Exception):
    """The adapter will not post again: earlier posts went unanswered and it cannot check. Marked delivered, noted."""


class Adapter(Protocol):
    """What delivery needs of an output. Optional extras, found with getattr:

    - `idempotent: bool` (default True): a resend cannot post twice (Discord's nonce, the console).
      False makes delivery mark each post before it goes out and count those left unanswered.
    - `pacing_rate: float`: sends per second one pacer allows across all channels (sizes in-flight sends).
    - `async pace()`: wait for that pacer; called holding a send slot, and not counted as answer time.
    - `async ready(channel)`: wait for this channel's own pacing; called before taking a slot.
    """

    platform: str

    async def send(self, channel: str, alert: Alert, mention: str | None = None) -> None:
        """Post one alert; raise DeliveryError or DestinationGone on failure."""
