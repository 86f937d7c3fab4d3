"""What the health and metrics endpoint reads at each request: one small read of the store's own state.

Read at scrape time rather than mirrored in process memory, so a standby's
`/metrics` and `/healthz` say the same as the active worker's: both read the
one database the workers share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from store.db import Conn, from_iso
from store.health import SourceHealth, get_health
from store.lease import LeaseHolder, current_holder


@dataclass(frozen=True, slots=True)
class PendingAlerts:
    count: int
    oldest_at: datetime | None


@dataclass(frozen=True, slots=True)
class Vitals:
    source: SourceHealth
    lease: LeaseHolder | None
    pending: dict[str, PendingAlerts] = field(default_factory=dict)  # platform → alerts waiting to be sent
    paused: dict[str, int] = field(default_factory=dict)  # platform → active channels paused


async def read_vitals(conn: Conn, lease_name: str) -> Vitals:
    holder = await current_holder(conn, lease_name)
    pending: dict[str, PendingAlerts] = {}
    async with conn.execute(
        "SELECT d.platform, COUNT(*), MIN(o.created_at) FROM outbox o"
        " JOIN destinations d ON d.id = o.destination_id WHERE o.status = 'pending' GROUP BY d.platform"
    ) as cursor:
        async for platform, count, oldest in cursor:
            pending[str(platform)] = PendingAlerts(int(count), from_iso(str(oldest)) if oldest else None)
    async with conn.execute(
        "SELECT platform, COUNT(*) FROM destinations WHERE active = 1 AND paused_at IS NOT NULL GROUP BY platform"
    ) as cursor:
        paused = {str(platform): int(count) async for platform, count in cursor}
    return Vitals(source=await get_health(conn), lease=holder, pending=pending, paused=paused)
