"""Why a poll failed and how a send ended, as values from one enum each.

Metrics labels, health, logs and the "source failing" notice read these, never the prose: a message can
be reworded without a dashboard silently counting it under another reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PollFailure(StrEnum):
    """Why a poll stored nothing; the values are the `reason` label of `trendwatch_poll_failures`."""

    STORE = "store"  # the answer was good, the store could not take it (rolled back whole)
    RATE_LIMITED = "rate_limited"  # the Hub answered 429
    HTTP_5XX = "http_5xx"
    HTTP_ERROR = "http_error"  # any other HTTP status
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"  # DNS, refused connection, TLS
    SHORT_LIST = "short_list"  # an empty list, or fewer entries than the top N
    BAD_ANSWER = "bad_answer"  # not JSON, not a list, entries without ids, duplicates


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed poll: the reason to act on and count, and one line for people."""

    reason: PollFailure
    message: str

    def __str__(self) -> str:
        return self.message


class DeliveryOutcome(StrEnum):
    """How one send of one alert to one channel ended; the `result` label of `trendwatch_deliveries`."""

    SENT = "sent"
    ASSUMED = "assumed"  # not posted again: earlier posts went unanswered and the platform cannot be asked
    GONE = "gone"  # the channel refuses for good: paused with the reason
    REFUSED = "refused"  # the platform refuses the bot's credentials: no channel is to blame
    REJECTED = "rejected"  # this one message cannot be sent: set aside
    UNKNOWN = "unknown"  # sent, no answer: may be posted
    RATE_LIMITED = "rate_limited"  # retried after the platform's Retry-After
    RETRY = "retry"  # transient: retried with backoff
