"""Wiring: store, source, adapters, scheduler, lease, graceful shutdown."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import socket
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.attribution import reattribute_if_changed
from bot.config import ConfigError, Secrets, Settings, unavailable_platforms
from bot.delivery import Adapter, DeliveryReport, deliver_due
from bot.digest import parse_schedule
from bot.hub import HubSource, Source
from bot.lists import build_list_sources, sync_route_filters
from bot.log import get_logger
from bot.metrics import count_poll, metered
from bot.orgs import iso_country_codes, load_org_table
from bot.poll import PollResult, poll_lists, poll_once, with_lists
from bot.reconnect import Service, keep_connecting, service_name
from bot.replay import ReplaySource
from bot.weekly import DigestOutcome, create_due_digest
from store import lease
from store.db import Database, StoreError, StoreTransient, open_database
from store.destinations import active_destinations, sync_configured

log = get_logger(__name__)
LEASE_NAME = "worker"
DEMO_FILE = "demo_week.jsonl.gz"
SHUTDOWN_GRACE = timedelta(seconds=5)  # well inside the 10 s most platforms allow after SIGTERM


class LeaseHeld(Exception):
    """Another live process polls this database."""


def demo_replay_path() -> Path:
    return Path(str(resources.files("bot.data").joinpath(DEMO_FILE)))


def build_source(settings: Settings, secrets: Secrets) -> Source:
    if settings.hub.replay is not None:
        return ReplaySource(settings.hub.replay)
    return HubSource(
        endpoint=settings.hub.endpoint,
        depth=settings.hub.depth,
        token=secrets.hf_token.get_secret_value() if secrets.hf_token else None,
        timeout=settings.hub.request_timeout,
        budget=settings.hub.retry_budget,
        lineage_lookups=settings.hub.lineage_lookups,
        poll_interval=settings.hub.poll_interval,
    )


def source_label(settings: Settings) -> str:
    """Which host (or file) a poll asked, for the operator reading the log."""
    if settings.hub.replay is not None:
        return f"replay file {settings.hub.replay}"
    return settings.hub.endpoint.split("://", 1)[-1].split("/", 1)[0]


def digest_trigger(settings: Settings) -> CronTrigger:
    """`[digest] schedule` ('mon 09:00') on the wall clock of `[digest] timezone`."""
    day, hour, minute = parse_schedule(settings.digest.schedule)
    return CronTrigger(day_of_week=day, hour=hour, minute=minute, timezone=ZoneInfo(settings.digest.timezone))


def chart_dir(settings: Settings) -> Path:
    """Where the console writes digest charts: next to the database."""
    return settings.store.path.parent / "trendwatch-charts"


def build_adapters(settings: Settings, secrets: Secrets) -> dict[str, Adapter]:
    """Every enabled output; platforms whose token is missing are skipped with a warning."""
    from adapters.console import ConsoleAdapter

    adapters: dict[str, Adapter] = {}
    if settings.console.enabled:
        adapters["console"] = ConsoleAdapter(settings.console.format, image_dir=chart_dir(settings))
    if settings.discord.enabled:
        if secrets.discord_token is None:
            log.warning("[discord] enabled but DISCORD_TOKEN is not set: not posting to Discord")
        else:
            from adapters.discord_out import DiscordAdapter

            adapters["discord"] = DiscordAdapter(secrets.discord_token.get_secret_value(),
                                                 api_base=settings.discord.api_base,
                                                 max_wait=settings.delivery.max_wait.total_seconds())
    if settings.slack.enabled:
        if secrets.slack_bot_token is None:
            log.warning("[slack] enabled but SLACK_BOT_TOKEN is not set: not posting to Slack")
        else:
            from adapters.slack_out import SlackAdapter

            adapters["slack"] = SlackAdapter(secrets.slack_bot_token.get_secret_value(),
                                             api_url=settings.slack.api_url,
                                             max_wait=settings.delivery.max_wait.total_seconds())
    return adapters


async def start_adapters(adapters: dict[str, Adapter]) -> None:
    """Adapters that must connect before sending (log in) have `async start()`; others are ready as built."""
    for adapter in adapters.values():
        start = getattr(adapter, "start", None)
        if start is not None:
            await start()


async def close_adapters(adapters: dict[str, Adapter]) -> None:
    for adapter in adapters.values():
        close = getattr(adapter, "close", None)
        if close is not None:
            with suppress(Exception):
                await close()


def platform_services(app: Trendwatch, next_poll: Callable[[], datetime | None]) -> list[Service]:
    """Connections only `run` keeps open to answer slash commands (`once` needs none)."""
    services: list[Service] = []
    if "discord" in app.adapters:
        from adapters.discord_commands import DiscordGateway
        from adapters.discord_out import DiscordAdapter

        adapter = app.adapters["discord"]
        if isinstance(adapter, DiscordAdapter):
            services.append(DiscordGateway(adapter, app.db, app.settings, next_poll,
                                           is_active=lambda: app.has_lease))
    if app.settings.slack.enabled:
        from adapters.slack_app import build_slack_service

        if (slack := build_slack_service(app.settings, app.secrets, app.db, next_poll)) is not None:
            services.append(slack)
    return services


class Trendwatch:
    """One process's view of the bot: owns the database and the lease."""

    def __init__(self, settings: Settings, secrets: Secrets, db: Database, source: Source,
                 adapters: dict[str, Adapter]) -> None:
        self.settings = settings
        self.secrets = secrets
        self.db = db
        self.source = source
        self.adapters = adapters
        self.list_sources = build_list_sources(settings, secrets)  # `[[lists]]` beside the default list
        self.table = load_org_table()
        iso_country_codes()  # read pycountry's table at start, not inside the first slash command that needs it
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.has_lease = False
        # Polling and delivery take turns only within themselves: a send waiting out a rate limit
        # never holds up a poll (each commits in its own transactions on the shared connection).
        self._polling = asyncio.Lock()
        self._delivering = asyncio.Lock()

    @classmethod
    async def open(cls, settings: Settings, secrets: Secrets,
                   adapters: dict[str, Adapter] | None = None, *, start: bool = True) -> Trendwatch:
        """Open the store and build the outputs; `start=False` leaves logging in to the platform services."""
        db = await open_database(settings.store.location)
        try:
            async with db.transaction() as conn:
                await sync_configured(conn, settings.routes, settings.console.enabled, datetime.now(UTC))
                await sync_route_filters(conn, settings, datetime.now(UTC))
        except BaseException:
            await db.close()
            raise
        chosen = adapters if adapters is not None else build_adapters(settings, secrets)
        try:
            if start:
                await start_adapters(chosen)
        except BaseException:
            await close_adapters(chosen)
            await db.close()
            raise
        return cls(settings, secrets, db, build_source(settings, secrets), chosen)

    async def acquire_lease(self) -> lease.LeaseHolder | None:
        holder = await lease.try_acquire(
            self.db, LEASE_NAME, self.holder, socket.gethostname(), os.getpid(),
            self.settings.store.lease, datetime.now(UTC),
        )
        newly = holder is None and not self.has_lease
        self.has_lease = holder is None
        if newly:
            log.info("holding the worker lease on %s", self.settings.store.location.describe)
            # History follows the tables: new orgs/families/overrides/labels re-attribute stored entries once,
            # by the worker that writes history (a standby started with newer tables waits for its turn).
            await reattribute_if_changed(self.db, self.settings, datetime.now(UTC))
        return holder

    async def poll(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> PollResult:
        async with self._polling:
            result = await poll_once(self.db, self.source, self.settings, self.table, clock)
            listed = await poll_lists(self.db, self.list_sources, self.settings, self.table, clock)
        result = with_lists(result, listed)
        count_poll(result.error)
        return result

    async def deliver(self) -> DeliveryReport:
        async with self._delivering:
            return await deliver_due(
                self.db, metered(self.adapters),
                concurrency=self.settings.delivery.concurrency,
                max_backoff=self.settings.delivery.max_backoff,
            )

    async def digest_due(self, now: datetime | None = None) -> DigestOutcome:
        """The scheduled (or missed, within grace) weekly digest, created at most once per week."""
        async with self._polling:
            return await create_due_digest(self.db, self.settings, now or datetime.now(UTC))

    async def close(self) -> None:
        async with self._polling, self._delivering:
            if self.has_lease:
                with suppress(Exception):
                    await lease.release(self.db, LEASE_NAME, self.holder)
                self.has_lease = False
            await close_adapters(self.adapters)
            for list_source in self.list_sources.values():
                list_source.stop()
            await self.db.close()


async def warn_unsent(app: Trendwatch) -> None:
    """One warning per platform whose channels get nothing (disabled, or no token): their alerts pile up unseen."""
    unavailable = unavailable_platforms(app.settings, app.secrets)
    waiting: dict[str, list[str]] = {}
    for destination in await active_destinations(app.db.conn):
        if destination.platform in unavailable:
            waiting.setdefault(destination.platform, []).append(destination.channel)
    for platform, channels in waiting.items():
        log.warning("%d %s channel(s) get nothing while %s (%s): their alerts stay queued",
                    len(channels), platform, unavailable[platform], ", ".join(channels[:5]))


async def run_once(settings: Settings, secrets: Secrets) -> PollResult:
    """`python -m bot once`: one poll and one delivery pass, under the lease."""
    app = await Trendwatch.open(settings, secrets)
    try:
        holder = await app.acquire_lease()
        if holder is not None:
            raise LeaseHeld(
                f"another trendwatch process (pid {holder.pid} on {holder.host})"
                f" is polling {settings.store.location.describe}"
            )
        result = await app.poll()
        report = await app.deliver()
        if report.retried:
            log.warning("%d alert(s) could not be sent now; they stay queued for the next run", report.retried)
        return result
    finally:
        await app.close()


async def finish_or_cancel(in_flight: set[asyncio.Task[None]], source: Source) -> None:
    """Give running jobs a moment to finish (a send cut short may post twice on Slack), then cancel them."""
    if not in_flight:
        return
    _, pending = await asyncio.wait(set(in_flight), timeout=SHUTDOWN_GRACE.total_seconds())
    if pending:
        source.stop()
        for task in pending:
            task.cancel()
        await asyncio.wait(pending)


async def run_forever(settings: Settings, secrets: Secrets, services: list[Service] | None = None) -> None:
    """`python -m bot run`: poll and deliver on a schedule until SIGINT/SIGTERM."""
    from bot import ops

    address = ops.ops_address(settings)  # a bad $PORT stops here, before anything is opened
    # The platform services log in (and retry) in the background; a send before that logs in itself.
    app = await Trendwatch.open(settings, secrets, start=False)
    await warn_unsent(app)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    in_flight: set[asyncio.Task[None]] = set()
    fatal: list[StoreError | ConfigError] = []  # what stops the process: a dead database, a refused token

    def job(body: Callable[[], Awaitable[None]]) -> Callable[[], Coroutine[Any, Any, None]]:
        """Track the run so shutdown can let it finish, or cancel it without a traceback.

        A database fault worth retrying (disk full) is one log line and the job
        runs again on schedule; one that is not (damaged, deleted or replaced
        file) stops the process, which then exits with that line.
        """

        @functools.wraps(body)  # APScheduler's log lines name the job after the function
        async def run() -> None:
            task = asyncio.current_task()
            assert task is not None
            in_flight.add(task)
            try:
                await body()
            except asyncio.CancelledError:
                # Each poll, digest and delivery commits in one transaction: a cancelled one left nothing half done.
                log.info("%s interrupted by shutdown; it will run again at the next start", body.__name__)
            except StoreTransient as exc:
                log.error("%s: %s; trying again at its next run", body.__name__, exc)
            except StoreError as exc:
                log.debug("%s stopped the process", body.__name__, exc_info=True)
                fatal.append(exc)
                stop.set()
            finally:
                in_flight.discard(task)

        return run

    delivering: asyncio.Task[None] | None = None
    again = False

    @job
    async def deliver() -> None:
        nonlocal again
        while app.has_lease:
            again = False
            try:
                await app.deliver()
            except Exception as exc:  # the outbox keeps every alert: the next pass tries again
                log.error("delivery pass failed (%s: %s); the next pass retries", type(exc).__name__, exc)
                log.debug("delivery pass failure", exc_info=True)
                return
            if not again:
                return

    def kick_delivery() -> None:
        """A delivery pass now, or one more right after the pass in progress; nobody waits for it."""
        nonlocal delivering, again
        if stop.is_set():
            return
        if delivering is not None and not delivering.done():
            again = True
            return
        delivering = asyncio.create_task(deliver(), name="deliver")

    @job
    async def poll() -> None:
        if not app.has_lease:
            return
        result = await app.poll()
        if result.error:
            upcoming = next_poll()
            log.warning("poll of %s failed: %s; next poll at %s", source_label(settings), result.error,
                        f"{upcoming:%Y-%m-%d %H:%M:%S %Z}" if upcoming else "the next start")
        if result.events or result.error:
            kick_delivery()

    @job
    async def digest() -> None:
        if app.has_lease and (await app.digest_due()).created:
            kick_delivery()

    async def delivery() -> None:
        kick_delivery()

    waiting_logged = False

    async def lease_job() -> None:
        nonlocal waiting_logged
        had = app.has_lease
        holder = await app.acquire_lease()
        if holder is not None and (had or not waiting_logged):
            log.warning("another trendwatch process (pid %d on %s) holds the lease; waiting",
                        holder.pid, holder.host)
            waiting_logged = True
        if holder is not None and scheduler.running and (lease_check := scheduler.get_job("lease")) is not None:
            # Look again the moment the holder's lease lapses, not up to a check interval later: a standby
            # takes over within [store] lease of the holder's last renewal.
            lapse = holder.expires_at + timedelta(milliseconds=50)
            if lease_check.next_run_time is not None and lapse < lease_check.next_run_time:
                scheduler.modify_job("lease", next_run_time=lapse)
        if holder is None and not had and scheduler.running:
            scheduler.modify_job("poll", next_run_time=datetime.now(UTC))
            if scheduler.get_job("digest"):
                scheduler.modify_job("digest", next_run_time=datetime.now(UTC) + timedelta(seconds=5))

    scheduler = AsyncIOScheduler(timezone=UTC)
    now = datetime.now(UTC)
    common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 60}
    scheduler.add_job(poll, "interval", id="poll", seconds=settings.hub.poll_interval.total_seconds(),
                      next_run_time=now + timedelta(seconds=1), **common)
    scheduler.add_job(delivery, "interval", id="deliver",
                      seconds=settings.delivery.interval.total_seconds(), **common)
    scheduler.add_job(job(lease_job), "interval", id="lease",
                      seconds=max(1.0, settings.store.lease.total_seconds() / 3), **common)
    if settings.digest.enabled:
        # Cron in the configured zone; the first run at start-up sends a digest missed while down (within grace).
        scheduler.add_job(
            digest, digest_trigger(settings), id="digest", next_run_time=now + timedelta(seconds=5),
            max_instances=1, coalesce=True, misfire_grace_time=int(settings.digest.grace.total_seconds()),
        )
    await lease_job()

    def next_poll() -> datetime | None:
        job = scheduler.get_job("poll")
        return job.next_run_time if job is not None and scheduler.running else None

    def give_up(exc: ConfigError) -> None:
        fatal.append(exc)
        stop.set()

    chosen = [*(services or []), *platform_services(app, next_poll)]
    if address is not None:
        chosen = ops.place(ops.OpsEndpoint(app.db, settings, lambda: app.holder, LEASE_NAME, address), chosen)
    connecting: list[asyncio.Task[bool]] = []
    try:
        scheduler.start()
        log.info("trendwatch running: polling every %s, store: %s, outputs: %s; ops endpoint: %s",
                 settings.hub.poll_interval, settings.store.location.describe, ", ".join(app.adapters) or "none",
                 address or "off")
        # Platforms connect beside the poller: one that cannot be reached now is retried, not waited for.
        connecting = [asyncio.create_task(keep_connecting(service, give_up), name=f"connect {service_name(service)}")
                      for service in chosen]
        await stop.wait()
        log.info("shutting down")
    finally:
        for task in connecting:
            task.cancel()
        if connecting:
            await asyncio.wait(connecting)
        if scheduler.running:
            scheduler.pause()
        await finish_or_cancel(in_flight, app.source)
        if delivering is not None and not delivering.done():  # started during the grace: not waited for
            delivering.cancel()
            await asyncio.wait({delivering})
        if scheduler.running:
            scheduler.shutdown(wait=False)
        for service in reversed(chosen):
            with suppress(Exception):
                await service.close()
        await app.close()
    if fatal:
        raise fatal[0]
