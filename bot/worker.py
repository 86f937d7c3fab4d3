"""`python -m bot run`: a small supervisor of named services, each started, stopped and tested on its own.

- `LeaseKeeper`: takes and renews the worker lease; a standby looks again the moment the holder's lapses.
- `Poller`: one poll of every list on `[hub] poll_interval`, while this process holds the lease.
- `Deliverer`: drains the outbox on `[delivery] interval` and whenever a poll or digest made alerts.
- `DigestService`: the weekly digest on its cron (a missed one is sent at start, within grace).
- `TenantUpkeep`: hourly, deletes the settings of servers and workspaces that removed the bot longer
  ago than `[tenants] keep_after_leaving`.
- connections (each platform's gateway or socket, the ops endpoint): started beside the poller by
  `keep_connecting`, so a platform that is down never holds up polling.

The scheduled services run their bodies through `Jobs`, which tracks what is in flight (so shutdown can
let it finish) and decides what a failure means: a retryable store fault is one log line and the job runs
again on schedule; a store that cannot be used (damaged, deleted or replaced file) stops the process.
"""

from __future__ import annotations

import asyncio
import functools
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import (
    LEASE_NAME,
    SHUTDOWN_GRACE,
    Trendwatch,
    daily_digest_trigger,
    digest_trigger,
    platform_services,
    source_label,
    warn_unsent,
)
from bot.config import ConfigError, Secrets, Settings
from bot.log import get_logger
from bot.services import Service, keep_connecting, service_name
from bot.web import ops
from bot.web.site import Site
from store import outbox, tenants
from store.db import StoreError, StoreTransient

log = get_logger(__name__)

Job = Callable[[], Coroutine[Any, Any, None]]
COMMON = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 60}


class Jobs:
    """What the scheduled services run: tracked, and failing in the way that suits a long-running worker."""

    def __init__(self, give_up: Callable[[StoreError | ConfigError], None]) -> None:
        self.in_flight: set[asyncio.Task[None]] = set()
        self._give_up = give_up

    def job(self, body: Callable[[], Awaitable[None]]) -> Job:
        """`body` as a scheduler job: tracked while it runs; a cancel, a store fault or a dead store in one line."""

        @functools.wraps(body)  # APScheduler's log lines name the job after the function
        async def run() -> None:
            task = asyncio.current_task()
            assert task is not None
            self.in_flight.add(task)
            try:
                await body()
            except asyncio.CancelledError:
                # Each poll, digest and delivery commits in one transaction: a cancelled one left nothing half done.
                log.info("%s interrupted by shutdown; it will run again at the next start", body.__name__)
            except StoreTransient as exc:
                log.error("%s: %s; trying again at its next run", body.__name__, exc)
            except StoreError as exc:
                log.debug("%s stopped the process", body.__name__, exc_info=True)
                self._give_up(exc)
            finally:
                self.in_flight.discard(task)

        return run

    async def finish_or_cancel(self, on_cancel: Callable[[], None]) -> None:
        """Give running jobs a moment to finish (a send cut short may post twice on Slack), then cancel them."""
        if not self.in_flight:
            return
        _, pending = await asyncio.wait(set(self.in_flight), timeout=SHUTDOWN_GRACE.total_seconds())
        if pending:
            on_cancel()
            for task in pending:
                task.cancel()
            await asyncio.wait(pending)


class Deliverer:
    """Drains the outbox while this process may (`Trendwatch.delivers`); a kick during a pass asks for one more.

    On PostgreSQL every `run` delivers, and hears a poll's alerts through NOTIFY (`OUTBOX_CHANNEL`), so a
    deliverer that is not the poller starts at once rather than at its next `[delivery] interval`.
    """

    name = "deliverer"

    def __init__(self, app: Trendwatch, jobs: Jobs, stopping: Callable[[], bool]) -> None:
        self.app = app
        self._stopping = stopping
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self.drain = jobs.job(self.deliver)

    async def deliver(self) -> None:
        while self.app.delivers:
            self._again = False
            try:
                await self.app.deliver()
            except Exception as exc:  # the outbox keeps every alert: the next pass tries again
                log.error("delivery pass failed (%s: %s); the next pass retries", type(exc).__name__, exc)
                log.debug("delivery pass failure", exc_info=True)
                return
            if not self._again:
                return

    def kick(self) -> None:
        """A delivery pass now, or one more right after the pass in progress; nobody waits for it."""
        if self._stopping():
            return
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.create_task(self.drain(), name="deliver")

    async def scheduled(self) -> None:
        self.kick()

    def schedule(self, scheduler: AsyncIOScheduler) -> None:
        scheduler.add_job(self.scheduled, "interval", id="deliver",
                          seconds=self.app.settings.delivery.interval.total_seconds(), **COMMON)

    async def stop(self) -> None:
        """A pass started during the shutdown grace is not waited for."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait({self._task})


class Poller:
    """Every list once per `[hub] poll_interval`, while this process holds the lease; alerts kick delivery."""

    name = "poller"

    def __init__(self, app: Trendwatch, jobs: Jobs, deliverer: Deliverer) -> None:
        self.app = app
        self.deliverer = deliverer
        self.scheduler: AsyncIOScheduler | None = None
        self.run = jobs.job(self.poll)

    async def poll(self) -> None:
        if not self.app.has_lease:
            return
        result = await self.app.poll()
        if result.error:
            upcoming = self.next_poll()
            log.warning("poll of %s failed: %s; next poll at %s", source_label(self.app.settings), result.error,
                        f"{upcoming:%Y-%m-%d %H:%M:%S %Z}" if upcoming else "the next start")
        if result.events or result.error:
            self.deliverer.kick()

    def next_poll(self) -> datetime | None:
        job = self.scheduler.get_job("poll") if self.scheduler is not None and self.scheduler.running else None
        return job.next_run_time if job is not None else None

    def schedule(self, scheduler: AsyncIOScheduler, now: datetime) -> None:
        self.scheduler = scheduler
        scheduler.add_job(self.run, "interval", id="poll", seconds=self.app.settings.hub.poll_interval.total_seconds(),
                          next_run_time=now + timedelta(seconds=1), **COMMON)


class DigestService:
    """The weekly digest on its cron, in the configured zone; at most one per week, however often it runs."""

    name = "digest"

    def __init__(self, app: Trendwatch, jobs: Jobs, deliverer: Deliverer) -> None:
        self.app = app
        self.deliverer = deliverer
        self.run = jobs.job(self.digest)

    async def digest(self) -> None:
        if self.app.has_lease and (await self.app.digest_due()).created:
            self.deliverer.kick()

    def schedule(self, scheduler: AsyncIOScheduler, now: datetime) -> None:
        settings = self.app.settings
        if not settings.digest.enabled:
            return
        # The first run at start-up sends a digest missed while down (within grace).
        scheduler.add_job(
            self.run, digest_trigger(settings), id="digest", next_run_time=now + timedelta(seconds=5),
            max_instances=1, coalesce=True, misfire_grace_time=int(settings.digest.grace.total_seconds()),
        )


class DailyDigestService:
    """The daily digest at `[digest] daily`, in the configured zone; at most one per day, however often it runs."""

    name = "digest-daily"

    def __init__(self, app: Trendwatch, jobs: Jobs, deliverer: Deliverer) -> None:
        self.app = app
        self.deliverer = deliverer
        self.run = jobs.job(self.digest)

    async def digest(self) -> None:
        if self.app.has_lease and (await self.app.daily_digest_due()).created:
            self.deliverer.kick()

    def schedule(self, scheduler: AsyncIOScheduler, now: datetime) -> None:
        trigger = daily_digest_trigger(self.app.settings)
        if trigger is None:
            return
        # The first run at start-up sends yesterday's digest if it was missed while down (within grace).
        scheduler.add_job(
            self.run, trigger, id="digest-daily", next_run_time=now + timedelta(seconds=6),
            max_instances=1, coalesce=True, misfire_grace_time=int(self.app.settings.digest.grace.total_seconds()),
        )


class TenantUpkeep:
    """Forgets tenants that left longer ago than `[tenants] keep_after_leaving` (their channels stopped when
    they left). Hourly, and once shortly after start; only the lease holder writes."""

    name = "tenants"
    EVERY = timedelta(hours=1)
    BATCH = 50  # tenants forgotten per write transaction (~0.1 s on SQLite)

    def __init__(self, app: Trendwatch, jobs: Jobs) -> None:
        self.app = app
        self.run = jobs.job(self.upkeep)

    async def upkeep(self) -> None:
        await self.forget(datetime.now(UTC))

    async def forget(self, now: datetime) -> int:
        if not self.app.has_lease:
            return 0
        keep = self.app.settings.tenants.keep_after_leaving
        forgotten = 0
        while self.app.has_lease:  # in batches: each write transaction stays short, polls and commands go between
            async with self.app.db.transaction() as conn:
                batch = await tenants.forget_left_tenants(conn, now, keep, self.BATCH)
            forgotten += batch
            if batch < self.BATCH:
                break
        if forgotten:
            log.info("deleted the settings of %d server(s)/workspace(s) that left more than %s ago", forgotten, keep)
        return forgotten

    def schedule(self, scheduler: AsyncIOScheduler, now: datetime) -> None:
        scheduler.add_job(self.run, "interval", id="tenants", seconds=self.EVERY.total_seconds(),
                          next_run_time=now + timedelta(seconds=30), **COMMON)


class LeaseKeeper:
    """Holds the worker lease, or waits for it; gaining it polls at once (and runs a missed digest)."""

    name = "lease"

    def __init__(self, app: Trendwatch, jobs: Jobs) -> None:
        self.app = app
        self.scheduler: AsyncIOScheduler | None = None
        self._waiting_logged = False
        self.run = jobs.job(self.check)

    async def check(self) -> None:
        had = self.app.has_lease
        holder = await self.app.acquire_lease()
        if holder is not None and (had or not self._waiting_logged):
            log.warning("another trendwatch process (pid %d on %s) holds the lease; waiting", holder.pid, holder.host)
            self._waiting_logged = True
        scheduler = self.scheduler
        if scheduler is None or not scheduler.running:
            return
        if holder is not None and (lease_check := scheduler.get_job("lease")) is not None:
            # Look again the moment the holder's lease lapses, not up to a check interval later: a standby
            # takes over within [store] lease of the holder's last renewal.
            lapse = holder.expires_at + timedelta(milliseconds=50)
            if lease_check.next_run_time is not None and lapse < lease_check.next_run_time:
                scheduler.modify_job("lease", next_run_time=lapse)
        if holder is None and not had:
            scheduler.modify_job("poll", next_run_time=datetime.now(UTC))
            for job in ("digest", "digest-daily"):
                if scheduler.get_job(job):
                    scheduler.modify_job(job, next_run_time=datetime.now(UTC) + timedelta(seconds=5))

    def schedule(self, scheduler: AsyncIOScheduler) -> None:
        self.scheduler = scheduler
        scheduler.add_job(self.run, "interval", id="lease",
                          seconds=max(1.0, self.app.settings.store.lease.total_seconds() / 3), **COMMON)


class Worker:
    """The supervisor: the scheduled services on one scheduler, the connections beside them, one stop."""

    def __init__(self, app: Trendwatch) -> None:
        self.app = app
        self.stop = asyncio.Event()
        self.fatal: list[StoreError | ConfigError] = []  # what stops the process: a dead database, a refused token
        self.jobs = Jobs(self.give_up)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.deliverer = Deliverer(app, self.jobs, self.stop.is_set)
        self.poller = Poller(app, self.jobs, self.deliverer)
        self.digest = DigestService(app, self.jobs, self.deliverer)
        self.daily_digest = DailyDigestService(app, self.jobs, self.deliverer)
        self.lease = LeaseKeeper(app, self.jobs)
        self.tenants = TenantUpkeep(app, self.jobs)

    def give_up(self, exc: StoreError | ConfigError) -> None:
        self.fatal.append(exc)
        self.stop.set()

    def schedule(self) -> None:
        now = datetime.now(UTC)
        self.poller.schedule(self.scheduler, now)
        self.deliverer.schedule(self.scheduler)
        self.lease.schedule(self.scheduler)
        self.digest.schedule(self.scheduler, now)
        self.daily_digest.schedule(self.scheduler, now)
        self.tenants.schedule(self.scheduler, now)

    async def run(self, connections: Sequence[Service], address: ops.OpsAddress | None) -> None:
        """Until SIGINT/SIGTERM or a fatal error; then every service stops, the last started first."""
        self.schedule()
        await self.lease.check()  # unguarded: a store that fails now fails the start, with its line
        await self.app.db.listen(outbox.OUTBOX_CHANNEL, self.deliverer.kick)
        connections = [*connections, *platform_services(self.app, self.poller.next_poll, self.deliverer.kick)]
        if address is not None:
            pages = Site(self.app.db, self.app.settings).routes() if self.app.settings.web.enabled else []
            endpoint = ops.OpsEndpoint(self.app.db, self.app.settings, lambda: self.app.holder, LEASE_NAME, address,
                                       pages=pages)
            connections = ops.place(endpoint, connections)
        connecting: list[asyncio.Task[bool]] = []
        settings = self.app.settings
        try:
            self.scheduler.start()
            log.info("trendwatch running: polling every %s, store: %s, outputs: %s; ops endpoint: %s",
                     settings.hub.poll_interval, settings.store.location.describe,
                     ", ".join(self.app.adapters) or "none", address or "off")
            # Platforms connect beside the poller: one that cannot be reached now is retried, not waited for.
            connecting = [asyncio.create_task(keep_connecting(service, self.give_up),
                                              name=f"connect {service_name(service)}")
                          for service in connections]
            await self.stop.wait()
            log.info("shutting down")
        finally:
            await self.shutdown(connecting, connections)
        if self.fatal:
            raise self.fatal[0]

    async def shutdown(self, connecting: Sequence[asyncio.Task[bool]], connections: Sequence[Service]) -> None:
        for task in connecting:
            task.cancel()
        if connecting:
            await asyncio.wait(connecting)
        if self.scheduler.running:
            self.scheduler.pause()
        await self.jobs.finish_or_cancel(self.app.stop_sources)
        await self.deliverer.stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for service in reversed(connections):
            with suppress(Exception):
                await service.close()
        await self.app.close()


async def run_forever(settings: Settings, secrets: Secrets, services: list[Service] | None = None) -> None:
    """`python -m bot run`: poll and deliver on a schedule until SIGINT/SIGTERM."""
    address = ops.ops_address(settings)  # a bad $PORT stops here, before anything is opened
    # The platform services log in (and retry) in the background; a send before that logs in itself.
    app = await Trendwatch.open(settings, secrets, start=False)
    await warn_unsent(app)
    worker = Worker(app)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, worker.stop.set)
    await worker.run(services or [], address)
