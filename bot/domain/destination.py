"""Where alerts go: one subscription of one channel of one platform, what it asked to hear, whether it is paused.

A channel may hold several subscriptions (issue 20), each named within it ('default' for the first), each with
its own kinds, lists, filters, mention, rules and look; everything keyed on `Destination.id` is per subscription.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

DEFAULT_SUBSCRIPTION = "default"  # the name of a channel's first subscription


@dataclass(frozen=True, slots=True)
class Destination:
    id: int
    platform: str
    channel: str
    kinds: tuple[str, ...]
    origin: str
    active: bool
    subscribed_at: datetime
    since_snapshot: int | None = None
    paused_at: datetime | None = None
    paused_reason: str | None = None
    muted_until: datetime | None = None
    mention: str | None = None
    tenant_id: int | None = None  # the server or workspace it belongs to; None: the operator's (config, console)
    name: str = DEFAULT_SUBSCRIPTION  # the subscription's name within its channel
    threads: str = "off"  # follow-ups about a model: 'off' in the channel, 'on' in its thread, 'broadcast' both
    template: str | None = None  # the look: None the default ('full'), 'compact', or a custom template
