"""Prometheus counters for what happens in this process: polls, their failures, deliveries, 429s.

Kept in one module so the core stays clean: the poller, the delivery loop and
the adapters each call one function here at the point where the thing happens.
What is *state* rather than an event (outbox backlog, paused channels, the
lease, the last good snapshot) is not counted here but read from the store at
scrape time (`bot/web/ops.py`), so every worker on one database reports the same.

Counters live in their own registry, not prometheus_client's global one, so a
library that registers metrics of its own cannot clash with ours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry, Counter, ProcessCollector

from bot.delivery.adapter import Adapter, outcome_of
from bot.delivery.threading import Thread
from bot.domain.messages import Alert
from bot.domain.outcomes import DeliveryOutcome, PollFailure

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)  # memory, CPU, open files: what a host's dashboard asks first

POLLS = Counter("trendwatch_polls", "Polls of the trending list, by result (ok, failed).",
                ["result"], registry=REGISTRY)
POLL_FAILURES = Counter("trendwatch_poll_failures", "Failed polls by reason.", ["reason"], registry=REGISTRY)
DELIVERIES = Counter("trendwatch_deliveries", "Sends of one alert to one channel, by platform and result.",
                     ["platform", "result"], registry=REGISTRY)
RATE_LIMITED = Counter("trendwatch_rate_limited", "HTTP 429 answers from a platform.", ["platform"],
                       registry=REGISTRY)

def count_poll(failures: Sequence[PollFailure]) -> None:
    """One poll cycle: ok, or failed with each list's reason counted (a label with few values, never free text)."""
    if not failures:
        POLLS.labels("ok").inc()
        return
    POLLS.labels("failed").inc()
    for reason in failures:
        POLL_FAILURES.labels(reason.value).inc()


def rate_limited(platform: str) -> None:
    RATE_LIMITED.labels(platform).inc()


def rate_limit_trace(platform: str) -> aiohttp.TraceConfig:
    """Counts 429s a client library answers itself (discord.py waits them out without telling its caller)."""

    async def on_end(_session: aiohttp.ClientSession, _context: Any, params: aiohttp.TraceRequestEndParams) -> None:
        if params.response.status == 429:
            rate_limited(platform)

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_end)
    return trace


class MeteredAdapter(Adapter):
    """An adapter whose sends are counted by outcome; everything else is the wrapped adapter's, forwarded by name.

    Wrapping at the adapter keeps the delivery loop free of metrics: an outcome
    is the exception the adapter raised, exactly what delivery decides on.
    """

    def __init__(self, adapter: Adapter) -> None:
        self._adapter = adapter
        self.platform = adapter.platform
        self.idempotent = adapter.idempotent
        self.pacing_rate = adapter.pacing_rate
        self.threads_alone = adapter.threads_alone

    async def start(self) -> None:
        await self._adapter.start()

    async def close(self) -> None:
        await self._adapter.close()

    async def pace(self) -> None:
        await self._adapter.pace()

    async def ready(self, channel: str) -> None:
        await self._adapter.ready(channel)

    async def send(self, channel: str, alert: Alert, mention: str | None = None,
                   thread: Thread | None = None) -> str | None:
        try:
            posted = await self._adapter.send(channel, alert, mention, thread)
        except Exception as exc:
            DELIVERIES.labels(self.platform, outcome_of(exc).value).inc()
            raise
        DELIVERIES.labels(self.platform, DeliveryOutcome.SENT.value).inc()
        return posted


def metered(adapters: Mapping[str, Adapter]) -> dict[str, Adapter]:
    return {name: MeteredAdapter(adapter) for name, adapter in adapters.items()}
