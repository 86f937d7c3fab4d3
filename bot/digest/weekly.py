"""Creating weekly digests: read a week from the store, compute it, store it and fan it out once.

The scheduled job, the start-up catch-up and `python -m bot digest` all come through here. A
digest is recorded in `digests` in the same transaction as its event and outbox rows, so however
often the job fires (coalesced misfires, a restart, a second process) a week is posted once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import Settings, configured_lists
from bot.digest.week import build_digest, last_fire, list_section, previous_week, week_bounds
from bot.domain.events import Digest, ListSection
from bot.log import get_logger
from bot.poller.fan_out import fan_out_whole
from store import history
from store.db import Conn, Database
from store.destinations import active_destinations

log = get_logger(__name__)
ON_TIME = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class DigestOutcome:
    """What happened to one week's digest; `digest` is set only when it was created now."""

    week: str | None
    digest: Digest | None
    reason: str
    recipients: int = 0

    @property
    def created(self) -> bool:
        return self.digest is not None


class _AlreadyCreated(Exception):
    """Another writer recorded the week first: roll the transaction back."""


async def compute_digest(conn: Conn, settings: Settings, week: str, now: datetime) -> Digest:
    """The digest of `week` from stored snapshots (a week still running is cut at `now`)."""
    tz = ZoneInfo(settings.digest.timezone)
    start, end = week_bounds(week, tz)
    rows = await history.week_rows(conn, start, end)
    previous_start, _ = week_bounds(previous_week(start, tz), tz)
    previous = await history.week_rows(conn, previous_start, start, detail=False)
    digest = build_digest(week, tz, rows, previous, top_n=settings.hub.top_n,
                          poll_interval=settings.hub.poll_interval, end=now, created_at=now)
    if settings.lists:  # issue 12: a short section per other list

        digest = digest.model_copy(update={"lists": await list_sections(conn, settings, start, min(end, now))})
    return digest


async def create_digest(db: Database, settings: Settings, week: str, now: datetime, trigger: str) -> DigestOutcome:
    """Store `week`'s digest with an outbox row per subscribed channel, unless that week already has one."""
    if created := await history.digest_created(db.conn, week):
        return DigestOutcome(week, None, f"the digest for {week} was already created on {created:%Y-%m-%d %H:%M} UTC")
    digest = await compute_digest(db.conn, settings, week, now)
    try:
        async with db.transaction() as conn:
            event_id, targets = await fan_out_whole(conn, digest, await active_destinations(conn), now)
            if not await history.record_digest(conn, week, event_id, trigger, now):
                raise _AlreadyCreated
    except _AlreadyCreated:
        return DigestOutcome(week, None, f"the digest for {week} was created meanwhile by another run")
    log.info("created the %s digest for %s (%d snapshots) for %d channel(s)", trigger, week, digest.snapshots,
             len(targets))
    return DigestOutcome(week, digest, trigger, len(targets))


async def create_due_digest(db: Database, settings: Settings, now: datetime) -> DigestOutcome:
    """The digest of the latest scheduled time, if that was at most `[digest] grace` ago.

    Runs on the schedule and once at start-up: a bot that was down at 09:00 Monday and is back
    by the end of the grace period sends the digest late, once; later than that it skips the week.
    """
    if not settings.digest.enabled:
        return DigestOutcome(None, None, "digests are disabled")
    tz = ZoneInfo(settings.digest.timezone)
    fire = last_fire(now, settings.digest.schedule, tz)
    week = previous_week(fire, tz)
    late = now - fire
    if late > settings.digest.grace:
        return DigestOutcome(week, None, f"the {week} digest was due {fire:%Y-%m-%d %H:%M %Z}, beyond the grace period")
    return await create_digest(db, settings, week, now, "schedule" if late <= ON_TIME else "catch-up")


SECTION_NAMED = 5  # a section names at most this many newcomers


async def list_sections(conn: Conn, settings: Settings, start: datetime, end: datetime
                        ) -> tuple[ListSection, ...]:
    """Each non-default list's week in [start, end): what entered its top N for the first time, who led."""
    sections = []
    for spec in configured_lists(settings):
        if spec.is_default:
            continue
        rows = await history.week_rows(conn, start, end, detail=False, list_name=spec.name)
        week = [(row.snapshot_id, row.rank, row.model_id) for row in rows.top]
        before = {item for item, first in rows.first_in_top.items() if first < start}
        sections.append(list_section(spec, week, before))
    return tuple(sections)
