"""One retry policy for the Hub, delivery and reconnects: exponential backoff with proportional jitter.

The waits are tenacity's (`wait_exponential`), so a loop that retries in place (the Hub fetch) passes the
same `wait` to `tenacity.Retrying`, and code that schedules its next try for later (an outbox row's
`next_attempt_at`, a platform's next connect) asks `delay(attempt)`. The jitter is ±`spread` of the wait,
so channels and platforms that failed together do not retry in lockstep.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import cast

from tenacity import BaseRetrying, RetryCallState, wait_exponential
from tenacity.wait import wait_base


class wait_jittered(wait_base):
    """tenacity's exponential wait times a random factor in [1 - spread, 1 + spread], never above `cap`."""

    def __init__(self, first: float, cap: float, spread: float, rng: random.Random | None = None) -> None:
        self._exponential = wait_exponential(multiplier=first, max=cap)
        self._cap = cap
        self._spread = spread
        self._rng = rng or random.Random()

    def __call__(self, retry_state: RetryCallState) -> float:
        factor = self._rng.uniform(1 - self._spread, 1 + self._spread)
        return float(min(self._cap, self._exponential(retry_state) * factor))


@dataclass(frozen=True, slots=True)
class Backoff:
    """`first`, 2×`first`, 4×`first` … up to `cap` seconds, each ±`spread`."""

    first: float
    cap: float
    spread: float = 0.2

    def wait(self, rng: random.Random | None = None) -> wait_jittered:
        return wait_jittered(self.first, self.cap, self.spread, rng)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before try `attempt + 1` (attempt 1 = the first failure)."""
        state = RetryCallState(cast(BaseRetrying, None), None, (), {})
        state.attempt_number = max(attempt, 1)
        return self.wait(rng)(state)

    def capped(self, cap: float) -> Backoff:
        return Backoff(self.first, cap, self.spread)


#: The Hub inside one poll: a few quick tries within `[hub] retry_budget` (a Retry-After or RateLimit wins).
HUB = Backoff(first=1.0, cap=8.0)
#: One alert to one channel: 30 s, 1 min, 2 min … up to `[delivery] max_backoff`.
DELIVERY = Backoff(first=30.0, cap=1800.0)
#: A platform connection (gateway, socket): 5 s, 10 s … up to 5 minutes; polling goes on meanwhile.
RECONNECT = Backoff(first=5.0, cap=300.0)
