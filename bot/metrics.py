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

import re
from collections.abc import Mapping
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry, Counter, ProcessCollector

from bot.delivery.adapter import (
    Adapter,
    AlertRejected,
    AssumedDelivered,
    DeliveryError,
    DestinationGone,
    OutcomeUnknown,
    PlatformRefused,
)
from bot.domain.messages import Alert

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)  # memory, CPU, open files: what a host's dashboard asks first

POLLS = Counter("trendwatch_polls", "Polls of the trending list, by result (ok, failed).",
                ["result"], registry=REGISTRY)
POLL_FAILURES = Counter("trendwatch_poll_failures", "Failed polls by reason.", ["reason"], registry=REGISTRY)
DELIVERIES = Counter("trendwatch_deliveries", "Sends of one alert to one channel, by platform and result.",
                     ["platform", "result"], registry=REGISTRY)
RATE_LIMITED = Counter("trendwatch_rate_limited", "HTTP 429 answers from a platform.", ["platform"],
                       registry=REGISTRY)

# First match wins; the messages are bot/source/hub.py's own (`describe`) and bot/poller/poll.py's "not stored: …".
_REASONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("store", re.compile(r"^not stored: ")),
    ("rate_limited", re.compile(r"answered HTTP 429\b")),
    ("http_5xx", re.compile(r"answered HTTP 5\d\d\b")),
    ("http_error", re.compile(r"answered HTTP \d{3}\b")),
    ("timeout", re.compile(r"did not answer in time")),
    ("unreachable", re.compile(r"cannot reach")),
    ("short_list", re.compile(r"listed only \d+ models|answered an empty trending list")),
)


def failure_reason(error: str) -> str:
    """A poll's one-line error → a label with few values (Prometheus labels must not be free text)."""
    for reason, pattern in _REASONS:
        if pattern.search(error):
            return reason
    return "bad_answer"


def count_poll(error: str | None) -> None:
    if error is None:
        POLLS.labels("ok").inc()
    else:
        POLLS.labels("failed").inc()
        POLL_FAILURES.labels(failure_reason(error)).inc()


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


def _result_of(exc: Exception) -> str:
    """The same classes delivery acts on: gone pauses the channel, rejected sets the alert aside, …"""
    if isinstance(exc, DestinationGone):
        return "gone"
    if isinstance(exc, PlatformRefused):
        return "refused"
    if isinstance(exc, AlertRejected):
        return "rejected"
    if isinstance(exc, OutcomeUnknown):
        return "unknown"
    if isinstance(exc, DeliveryError) and exc.retry_after:
        return "rate_limited"
    return "retry"


class MeteredAdapter:
    """An adapter whose sends are counted by outcome; everything else (pacing, `idempotent`, …) is the adapter's.

    Wrapping at the adapter keeps the delivery loop free of metrics: an outcome
    is the exception the adapter raised, exactly what delivery decides on.
    """

    def __init__(self, adapter: Adapter) -> None:
        self._adapter = adapter
        self.platform = adapter.platform

    def __getattr__(self, name: str) -> Any:
        return getattr(self._adapter, name)

    async def send(self, channel: str, alert: Alert, mention: str | None = None) -> None:
        try:
            await self._adapter.send(channel, alert, mention)
        except AssumedDelivered:
            DELIVERIES.labels(self.platform, "assumed").inc()
            raise
        except Exception as exc:
            DELIVERIES.labels(self.platform, _result_of(exc)).inc()
            raise
        DELIVERIES.labels(self.platform, "sent").inc()


def metered(adapters: Mapping[str, Adapter]) -> dict[str, Adapter]:
    return {name: MeteredAdapter(adapter) for name, adapter in adapters.items()}
