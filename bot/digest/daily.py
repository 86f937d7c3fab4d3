"""Creating daily digests: read a day from the store, compute it, store it and fan it out once.

The daily job, the start-up catch-up and `python -m bot digest --daily` all come through here, as the
weekly digest's come through `bot.digest.weekly`. A day's digest is recorded in `daily_digests` in the
same transaction as its event and outbox rows, so however often the job fires (coalesced misfires, a
restart, a second process) a day is posted once.

The scheduled digest is made only when some channel takes it: a deployment whose channels never asked
for `digest-daily` gets no daily event on its page and feeds. A day without any snapshot still gets its
digest, saying so, as the weekly one does: a channel that expects a post every morning learns why there
is nothing to sum up instead of wondering whether the bot is alive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.digest.day import build_daily_digest, day_bounds, last_daily_fire, previous_day
from bot.digest.weekly import ON_TIME
from bot.domain.events import DailyDigest
from bot.log import get_logger
from bot.poller.fan_out import fan_out_whole
from bot.rules.routing import recipients
from store import daily_digests, history
from store.db import Conn, Database
from store.destinations import active_destinations

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class DailyOutcome:
    """What happened to one day's digest; `digest` is set only when it was created now."""

    day: str | None
    digest: DailyDigest | None
    reason: str
    recipients: int = 0

    @property
    def created(self) -> bool:
        return self.digest is not None


class _NotCreated(Exception):
    """Roll the transaction back: another writer recorded the day first, or nobody takes it."""


async def compute_daily_digest(conn: Conn, settings: Settings, day: str, now: datetime) -> DailyDigest:
    """The digest of `day` from stored snapshots, polled and imported (a day still running is cut at `now`)."""
    tz = ZoneInfo(settings.digest.timezone)
    start, end = day_bounds(day, tz)
    rows = await history.week_rows(conn, start, end)
    before, _ = day_bounds(previous_day(start, tz), tz)
    previous = await history.week_rows(conn, before, start, detail=False)
    return build_daily_digest(day, tz, rows, previous, top_n=settings.hub.top_n,
                              poll_interval=settings.hub.poll_interval, end=now, created_at=now)


async def create_daily_digest(db: Database, settings: Settings, day: str, now: datetime, trigger: str
                              ) -> DailyOutcome:
    """Store `day`'s digest with an outbox row per channel that takes it, unless that day already has one.

    On the schedule (and its catch-up) a day nobody takes is not created; from the command line it is, since
    the operator asked for it by name.
    """
    if created := await daily_digests.daily_digest_created(db.conn, day):
        return DailyOutcome(day, None,
                            f"the daily digest for {day} was already created on {created:%Y-%m-%d %H:%M} UTC")
    digest = await compute_daily_digest(db.conn, settings, day, now)
    try:
        async with db.transaction() as conn:
            destinations = await active_destinations(conn)
            if not recipients(digest, destinations, None, now) and trigger != "command":
                raise _NotCreated("no channel takes the daily digest (kind digest-daily)")
            # through the silences like the weekly digest: a channel that silenced kind:digest-daily records it
            event_id, targets = await fan_out_whole(conn, digest, destinations, now)
            if not await daily_digests.record_daily_digest(conn, day, event_id, trigger, now):
                raise _NotCreated(f"the daily digest for {day} was created meanwhile by another run")
    except _NotCreated as reason:
        return DailyOutcome(day, None, str(reason))
    log.info("created the %s daily digest for %s (%d snapshots) for %d channel(s)", trigger, day, digest.snapshots,
             len(targets))
    return DailyOutcome(day, digest, trigger, len(targets))


async def create_due_daily_digest(db: Database, settings: Settings, now: datetime) -> DailyOutcome:
    """The digest of the day before the latest daily time, if that time was at most `[digest] grace` ago.

    Runs on the schedule and once at start-up, as the weekly one does: a bot that was down at 09:00 and is
    back within the grace period sends yesterday's digest late, once; later than that it skips the day (the
    command line makes a missed day on demand), so a long outage never ends in a burst of stale digests.
    """
    at = settings.digest.daily
    if not settings.digest.enabled:
        return DailyOutcome(None, None, "digests are disabled ([digest] enabled = false)")
    if at is None:
        return DailyOutcome(None, None, "daily digests are off ([digest] daily = \"off\")")
    tz = ZoneInfo(settings.digest.timezone)
    fire = last_daily_fire(now, at, tz)
    day = previous_day(fire, tz)
    late = now - fire
    if late > settings.digest.grace:
        return DailyOutcome(day, None, f"the {day} daily digest was due {fire:%Y-%m-%d %H:%M %Z},"
                                       " beyond the grace period")
    return await create_daily_digest(db, settings, day, now, "schedule" if late <= ON_TIME else "catch-up")
