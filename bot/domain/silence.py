"""A silence, like Alertmanager's: in one channel, alerts that a matcher catches are held back until it ends.

Set with `/alerts silence author:deepseek-ai 7d`; it holds back alerts of every subscription of the
channel (per channel, not per subscription: whoever silences a model in a channel wants quiet there). A
held-back alert is stored and recorded as silenced (`silenced_alerts`), never sent and never lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Matcher = Literal["author", "model", "kind", "country"]
MATCHERS: tuple[Matcher, ...] = ("author", "model", "kind", "country")


@dataclass(frozen=True, slots=True)
class Silence:
    """`value` as stored: an author namespace or `org/name` (matched case-insensitively, as the Hub does), a
    subscribable kind word (`entered` also covers a new #1, as subscriptions do), or an ISO country code."""

    id: int
    platform: str
    channel: str
    matcher: Matcher
    value: str
    created_by: str
    created_at: datetime
    ends_at: datetime
    ended_at: datetime | None = None
    ended_by: str | None = None
    tenant_id: int | None = None  # the channel's tenant when it was set; None: a channel no tenant owns

    def active(self, now: datetime) -> bool:
        """Until `ends_at` (excluded) unless ended early: a silence that ran out simply stops matching."""
        return self.ended_at is None and now < self.ends_at

    @property
    def describe(self) -> str:
        return f"{self.matcher}:{self.value}"
