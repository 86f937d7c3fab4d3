"""Wiring: store, source, adapters, scheduler, lease, graceful shutdown."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from adapters.console import ConsoleAdapter
from bot.attribution.orgs import load_org_table
from bot.attribution.upkeep import reattribute_if_changed
from bot.config import Secrets, Settings, check_slack_oauth, unavailable_platforms
from bot.delivery.adapter import Adapter
from bot.delivery.drain import Claimer, DeliveryReport, deliver_due
from bot.delivery.templates import stored_look
from bot.digest.daily import DailyOutcome, create_due_daily_digest
from bot.digest.day import parse_time_of_day
from bot.digest.week import parse_schedule
from bot.digest.weekly import DigestOutcome, create_due_digest
from bot.domain.country_codes import iso_country_codes
from bot.log import get_logger
from bot.metrics import count_poll, metered
from bot.poller.fan_out import sync_route_filters
from bot.poller.poll import PollResult, poll_lists, poll_once, with_lists
from bot.services import Service
from bot.source.hub import Source
from bot.source.sources import build_sources
from store import lease, tenants
from store.db import Database, open_database
from store.destinations import active_destinations, sync_configured, sync_route_templates
from store.threads import sync_route_threads

log = get_logger(__name__)
LEASE_NAME = "worker"
DEMO_FILE = "demo_week.jsonl.gz"
SHUTDOWN_GRACE = timedelta(seconds=5)  # well inside the 10 s most platforms allow after SIGTERM


class LeaseHeld(Exception):
    """Another live process polls this database."""


def demo_replay_path() -> Path:
    return Path(str(resources.files("bot.data").joinpath(DEMO_FILE)))


def source_label(settings: Settings) -> str:
    """Which host (or file) a poll asked, for the operator reading the log."""
    if settings.hub.replay is not None:
        return f"replay file {settings.hub.replay}"
    return settings.hub.endpoint.split("://", 1)[-1].split("/", 1)[0]


def digest_trigger(settings: Settings) -> CronTrigger:
    """`[digest] schedule` ('mon 09:00') on the wall clock of `[digest] timezone`."""
    day, hour, minute = parse_schedule(settings.digest.schedule)
    return CronTrigger(day_of_week=day, hour=hour, minute=minute, timezone=ZoneInfo(settings.digest.timezone))


def daily_digest_trigger(settings: Settings) -> CronTrigger | None:
    """`[digest] daily` ('09:00') every day on the wall clock of `[digest] timezone`; None when it is "off" or
    `[digest] enabled = false` (no digest of either kind)."""
    if settings.digest.daily is None or not settings.digest.enabled:
        return None
    hour, minute = parse_time_of_day(settings.digest.daily)
    return CronTrigger(hour=hour, minute=minute, timezone=ZoneInfo(settings.digest.timezone))


def chart_dir(settings: Settings) -> Path:
    """Where the console writes digest charts: next to the database."""
    return settings.store.path.parent / "trendwatch-charts"


def _discord(token: str, settings: Settings) -> Adapter:
    from adapters.discord_out import DiscordAdapter  # loaded only where enabled: discord.py is a heavy import

    wait = settings.delivery.max_wait.total_seconds()
    return DiscordAdapter(token, api_base=settings.discord.api_base, max_wait=wait)


def _slack(token: str, settings: Settings) -> Adapter:
    from adapters.slack_out import SlackAdapter  # loaded only where enabled: slack_sdk is a heavy import

    return SlackAdapter(token, api_url=settings.slack.api_url, max_wait=settings.delivery.max_wait.total_seconds())


def _slack_workspaces(settings: Settings, secrets: Secrets, db: Database) -> Adapter:
    """"Add to Slack": one adapter over every installed workspace, each post with its workspace's token."""
    from adapters.slack_installs import StoredInstallations  # loaded only where enabled (slack_sdk)
    from adapters.slack_out import SlackWorkspaces
    from store.sealing import Sealer

    check_slack_oauth(settings, secrets)
    assert secrets.slack_client_id is not None and secrets.secret_key is not None  # checked just above
    installations = StoredInstallations(
        db, Sealer.from_value(secrets.secret_key.get_secret_value()), secrets.slack_client_id.get_secret_value(),
        client_secret=secrets.slack_client_secret.get_secret_value() if secrets.slack_client_secret else None,
        api_url=settings.slack.api_url)
    return SlackWorkspaces(installations, settings.slack.api_url, max_wait=settings.delivery.max_wait.total_seconds(),
                           command=settings.slack.command)


def build_adapters(settings: Settings, secrets: Secrets, db: Database | None = None) -> dict[str, Adapter]:
    """Every enabled output; platforms whose token is missing are skipped with a warning.

    With `[slack] oauth = true` the Slack output reads each workspace's token from the store (`db`).
    """
    adapters: dict[str, Adapter] = {}
    if settings.console.enabled:
        adapters["console"] = ConsoleAdapter(settings.console.format, image_dir=chart_dir(settings))
    if settings.slack.enabled and settings.slack.oauth and db is not None:
        adapters["slack"] = _slack_workspaces(settings, secrets, db)
    platforms = (("discord", settings.discord.enabled, secrets.discord_token, "DISCORD_TOKEN", _discord),
                 ("slack", settings.slack.enabled, secrets.slack_bot_token, "SLACK_BOT_TOKEN", _slack))
    for name, enabled, token, variable, build in platforms:
        if not enabled or name in adapters:
            continue
        if token is None:
            log.warning("[%s] enabled but %s is not set: not posting to %s", name, variable, name.capitalize())
            continue
        adapters[name] = build(token.get_secret_value(), settings)
    return adapters


async def start_adapters(adapters: dict[str, Adapter]) -> None:
    """Log every output in before the first send (`once`); the console's `start` does nothing."""
    for adapter in adapters.values():
        await adapter.start()


async def close_adapters(adapters: dict[str, Adapter]) -> None:
    for adapter in adapters.values():
        with suppress(Exception):
            await adapter.close()


def platform_services(app: Trendwatch, next_poll: Callable[[], datetime | None],
                      kick_delivery: Callable[[], None] = lambda: None) -> list[Service]:
    """Connections only `run` keeps open to answer slash commands (`once` needs none); `kick_delivery`
    starts a delivery pass (`/alerts test` posts its samples at once)."""
    services: list[Service] = []
    if "discord" in app.adapters:
        from adapters.discord_commands import DiscordGateway  # only when Discord is enabled (discord.py)
        from adapters.discord_out import DiscordAdapter

        adapter = app.adapters["discord"]
        if isinstance(adapter, DiscordAdapter):
            services.append(DiscordGateway(adapter, app.db, app.settings, next_poll,
                                           is_active=lambda: app.has_lease,
                                           on_tenant_joined=app.on_tenant_joined, on_tenant_left=app.on_tenant_left,
                                           kick_delivery=kick_delivery))
    if app.settings.slack.enabled:
        from adapters.slack_app import build_oauth_service, build_slack_service  # only when Slack is enabled
        from adapters.slack_out import SlackWorkspaces

        workspaces = app.adapters.get("slack")
        if isinstance(workspaces, SlackWorkspaces):  # "Add to Slack": the installs share the delivery's store
            services.append(build_oauth_service(app.settings, app.secrets, app.db, workspaces.installations,
                                                next_poll, app.on_tenant_left, app.on_tenant_joined, kick_delivery))
        elif (slack := build_slack_service(app.settings, app.secrets, app.db, next_poll, kick_delivery)) is not None:
            services.append(slack)
    return services


class Trendwatch:
    """One process's view of the bot: owns the database and the lease."""

    def __init__(self, settings: Settings, secrets: Secrets, db: Database, sources: dict[str, Source],
                 adapters: dict[str, Adapter]) -> None:
        """`sources`: one per configured list, the default list's first (`bot.source.sources.build_sources`)."""
        self.settings = settings
        self.secrets = secrets
        self.db = db
        self.sources = sources
        self.source = source = next(iter(sources.values()))
        self.adapters = adapters
        self.list_sources = {name: listed for name, listed in sources.items() if listed is not source}
        self.table = load_org_table()
        iso_country_codes()  # read pycountry's table at start, not inside the first slash command that needs it
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.has_lease = False
        # Called by the platforms when a workspace or server removes the bot ("slack", team id; "discord",
        # guild id) and when one adds it (with its name): the tenants' lifecycle in the store.
        self.on_tenant_left: Callable[[str, str], Awaitable[None]] = self.tenant_left
        self.on_tenant_joined: Callable[[str, str, str], Awaitable[None]] = self.tenant_joined
        # Polling and delivery take turns only within themselves: a send waiting out a rate limit
        # never holds up a poll (each commits in its own transactions on the shared connection).
        self._polling = asyncio.Lock()
        self._delivering = asyncio.Lock()

    async def tenant_left(self, platform: str, external_id: str) -> None:
        """A server or workspace removed the bot: its channels stop at once (nothing queued for them is sent);
        its settings are deleted after `[tenants] keep_after_leaving` by the tenants' upkeep."""
        async with self.db.transaction() as conn:
            await tenants.tenant_left(conn, platform, external_id, datetime.now(UTC))
        log.info("%s %s removed the bot: its channels are stopped, its settings kept for %s", platform,
                 external_id, self.settings.tenants.keep_after_leaving)

    async def tenant_joined(self, platform: str, external_id: str, name: str) -> None:
        """A server or workspace added the bot (or came back within the grace: its channels go on)."""
        async with self.db.transaction() as conn:
            await tenants.tenant_joined(conn, platform, external_id, name, datetime.now(UTC))
        log.info("%s %s added the bot", platform, external_id)

    @classmethod
    async def open(cls, settings: Settings, secrets: Secrets,
                   adapters: dict[str, Adapter] | None = None, *, start: bool = True) -> Trendwatch:
        """Open the store and build the outputs; `start=False` leaves logging in to the platform services."""
        db = await open_database(settings.store.location)
        try:
            async with db.transaction() as conn:
                await sync_configured(conn, settings.routes, settings.console.enabled, datetime.now(UTC))
                await sync_route_threads(conn, settings.routes)
                await sync_route_filters(conn, settings, datetime.now(UTC))
                await sync_route_templates(conn, [(route.platform, route.channel, stored_look(route.template))
                                                  for route in settings.routes if route.template is not None])
        except BaseException:
            await db.close()
            raise
        try:
            chosen = adapters if adapters is not None else build_adapters(settings, secrets, db)
        except BaseException:
            await db.close()
            raise
        try:
            if start:
                await start_adapters(chosen)
        except BaseException:
            await close_adapters(chosen)
            await db.close()
            raise
        sources = build_sources(settings, secrets)
        return cls(settings, secrets, db, sources, chosen)

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
        count_poll([failure.reason for failure in result.failures])
        return result

    async def deliver(self) -> DeliveryReport:
        async with self._delivering:
            return await deliver_due(
                self.db, metered(self.adapters),
                concurrency=self.settings.delivery.concurrency,
                max_backoff=self.settings.delivery.max_backoff,
                claimer=Claimer(self.holder, self.settings.delivery.claim),
            )

    @property
    def delivers(self) -> bool:
        """Whether this process drains the outbox now: on PostgreSQL every `run` does, sharing it by claims;
        on SQLite only the lease holder (one writer: a second process on the file adds no sending capacity that
        `[delivery] concurrency` does not, and its every claim and mark would queue on the file's write lock)."""
        return self.has_lease or self.db.dialect == "postgresql"

    async def digest_due(self, now: datetime | None = None) -> DigestOutcome:
        """The scheduled (or missed, within grace) weekly digest, created at most once per week."""
        async with self._polling:
            return await create_due_digest(self.db, self.settings, now or datetime.now(UTC))

    async def daily_digest_due(self, now: datetime | None = None) -> DailyOutcome:
        """Yesterday's digest at `[digest] daily` (or missed, within grace), created at most once per day."""
        async with self._polling:
            return await create_due_daily_digest(self.db, self.settings, now or datetime.now(UTC))

    def stop_sources(self) -> None:
        """End every source's waits and retries: the process is shutting down."""
        for source in self.sources.values():
            source.stop()

    async def close(self) -> None:
        async with self._polling, self._delivering:
            if self.has_lease:
                with suppress(Exception):
                    await lease.release(self.db, LEASE_NAME, self.holder)
                self.has_lease = False
            await close_adapters(self.adapters)
            self.stop_sources()
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
