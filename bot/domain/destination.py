"""Where alerts go: one channel of one platform, with what it asked to hear and whether it is paused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
