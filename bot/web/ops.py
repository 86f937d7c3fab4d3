"""`/healthz` and `/metrics` over HTTP, for hosts that probe a port and scrapers that read Prometheus text.

Off unless `[ops] enabled = true`. The port is `$PORT` when the host sets it
(Heroku-style hosts route to it and probe it), else `[ops] port`. The address
is 0.0.0.0 for `$PORT`, since the host's router reaches the process from
outside, and 127.0.0.1 for a configured port (a scraper beside the bot);
`[ops] host` overrides either. In Slack HTTP mode the routes join Slack's own
web server instead of opening a second port (`attach`).

Health is judged from the store, not from process memory: the last good poll
(`source_health`) and the lease row, so a standby answers from the same facts
as the worker it stands in for. Beside the verdict, `/healthz` lists this
process's gateway shards (Discord): each one's state, latency and servers. They
inform and do not judge: the library reconnects a shard by itself, and a host
restarting the process for it would restart every shard, spending identifies
from Discord's daily session-start limit.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from bot.config import ConfigError, Settings
from bot.log import get_logger
from bot.metrics import REGISTRY
from bot.services import ReportsShards, Service, ShardState
from store.db import Database
from store.vitals import Vitals, read_vitals

log = get_logger(__name__)

HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
FRESH_POLLS = 3  # the last good poll may be this many intervals old before /healthz says 503


@dataclass(frozen=True, slots=True)
class OpsAddress:
    host: str
    port: int
    origin: str  # "$PORT" or "[ops] port": said in the logs so an operator knows which one won

    def __str__(self) -> str:
        return f"http://{self.host}:{self.port} (port from {self.origin})"


def ops_address(settings: Settings, env: Mapping[str, str] | None = None) -> OpsAddress | None:
    """Where to listen, or None when the endpoint is off. A `$PORT` that is not a port number is a config error.

    With `[web] enabled` the web page shares this server: its port and host win over `[ops]`'s, and the
    host defaults to 0.0.0.0, since a page is there to be reached.
    """
    if not settings.ops.enabled and not settings.web.enabled:
        return None
    source = os.environ if env is None else env
    public = settings.web.enabled
    if port_text := source.get("PORT", "").strip():
        if not port_text.isdigit() or not 0 < int(port_text) <= 65535:
            raise ConfigError(f"$PORT: expected a port number, got {port_text!r}")
        return OpsAddress((settings.web.host if public else settings.ops.host) or "0.0.0.0", int(port_text), "$PORT")
    if public:
        return OpsAddress(settings.web.host or "0.0.0.0", settings.web.port, "[web] port")
    return OpsAddress(settings.ops.host or "127.0.0.1", settings.ops.port, "[ops] port")


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    body: dict[str, Any]


def judge(vitals: Vitals, me: str, now: datetime, interval: timedelta, started_at: datetime,
          public: bool = False) -> Health:
    """Healthy = a good poll within three poll intervals, and the lease held (by us, or by a live other worker).

    Before the first good poll since start, the process gets the same three
    intervals of grace: a host restarting it would only delay that poll.
    `public` (the web page is on, so anyone can ask): what is wrong, without the lease holder's host
    name and pid, which say where the bot runs; the last error is left out too, as it may name hosts.
    """
    reasons: list[str] = []
    window = interval * FRESH_POLLS
    last_good = vitals.source.last_success_at
    if last_good is not None and now - last_good <= window:
        poll_state = "fresh"
    elif now - started_at <= window and (last_good is None or last_good < started_at):
        poll_state = "starting"
    else:
        poll_state = "stale"
        since = (f"the last good poll was {_ago(now - last_good)} ago" if last_good is not None
                 else "no poll has ever succeeded")
        error = f" (last error: {vitals.source.last_error})" if vitals.source.last_error and not public else ""
        reasons.append(f"{since}, more than {FRESH_POLLS} poll intervals of {_ago(interval)};"
                       f" {vitals.source.failures} failure(s) in a row{error}")

    lease = vitals.lease
    if lease is None:
        role = "none"
        reasons.append("no worker holds the lease")
    elif lease.expires_at <= now:
        role = "none"
        whose = "the active worker" if public else lease.holder
        reasons.append(f"the lease of {whose} expired {_ago(now - lease.expires_at)} ago"
                       " and no worker has taken it over")
    elif lease.holder == me:
        role = "active"
    else:
        role = "standby"

    body: dict[str, Any] = {
        "status": "ok" if not reasons else "unhealthy",
        "role": role,
        "poll": poll_state,
        "last_good_poll_at": last_good.isoformat() if last_good else None,
        "seconds_since_good_poll": round((now - last_good).total_seconds(), 1) if last_good else None,
        "consecutive_failures": vitals.source.failures,
        "last_error": vitals.source.last_error if vitals.source.failures and not public else None,
        "lease": None if lease is None else {
            "holder": lease.holder, "host": lease.host, "pid": lease.pid, "expires_at": lease.expires_at.isoformat(),
        },
    }
    if public and lease is not None:
        body["lease"] = {"expires_at": lease.expires_at.isoformat()}
    if reasons:
        body["reasons"] = reasons
    return Health(ok=not reasons, body=body)


def shard_report(states: Sequence[ShardState]) -> dict[str, Any]:
    """`/healthz`'s "shards": per platform, how many of this process's shards are connected, and each one."""
    report: dict[str, Any] = {}
    for state in states:
        platform = report.setdefault(state.platform, {"shard_count": state.shard_count, "connected": 0, "shards": []})
        platform["connected"] += state.state == "connected"
        platform["shards"].append({"id": state.shard_id, "state": state.state, "latency_ms": state.latency_ms,
                                   "servers": state.servers})
    return report


def _ago(delta: timedelta) -> str:
    seconds = max(delta.total_seconds(), 0.0)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class VitalsCollector(Collector):
    """Gauges from one store read, made at scrape time (the store is the truth, not process memory)."""

    def __init__(self, vitals: Vitals, me: str, now: datetime, public: bool = False) -> None:
        self.vitals = vitals
        self.me = me
        self.now = now
        self.public = public  # the holder gauge's labels name the host: left empty on a public port

    def collect(self) -> Iterable[Metric]:
        return list(self._families())

    def _families(self) -> Iterator[Metric]:
        vitals, now = self.vitals, self.now
        since = GaugeMetricFamily("trendwatch_seconds_since_last_good_snapshot",
                                  "Seconds since the last poll that stored a snapshot (absent before the first).")
        if vitals.source.last_success_at is not None:
            since.add_metric([], (now - vitals.source.last_success_at).total_seconds())
        yield since
        yield GaugeMetricFamily("trendwatch_source_consecutive_failures",
                                "Failed polls in a row since the last good one.", value=vitals.source.failures)
        pending = GaugeMetricFamily("trendwatch_outbox_pending", "Alerts waiting to be sent, by platform.",
                                    labels=["platform"])
        oldest = GaugeMetricFamily("trendwatch_outbox_oldest_pending_age_seconds",
                                   "Age of the oldest alert waiting to be sent, by platform.", labels=["platform"])
        for platform, alerts in sorted(vitals.pending.items()):
            pending.add_metric([platform], alerts.count)
            if alerts.oldest_at is not None:
                oldest.add_metric([platform], max((now - alerts.oldest_at).total_seconds(), 0.0))
        yield pending
        yield oldest
        paused = GaugeMetricFamily("trendwatch_paused_channels", "Channels paused after the platform refused them.",
                                   labels=["platform"])
        for platform, count in sorted(vitals.paused.items()):
            paused.add_metric([platform], count)
        yield paused
        lease = vitals.lease
        live = lease is not None and lease.expires_at > now
        holder = GaugeMetricFamily("trendwatch_lease_holder", "The worker holding the lease (1), by holder and host.",
                                   labels=["holder", "host"])
        if lease is not None and live and not self.public:
            holder.add_metric([lease.holder, lease.host], 1)
        yield holder
        yield GaugeMetricFamily("trendwatch_lease_held", "1 when this process holds the lease, else 0.",
                                value=1 if live and lease is not None and lease.holder == self.me else 0)


class ShardCollector(Collector):
    """Each gateway shard of this process: connected (1/0), heartbeat latency, servers carried."""

    def __init__(self, states: Sequence[ShardState]) -> None:
        self.states = states

    def collect(self) -> Iterable[Metric]:
        labels = ["platform", "shard"]
        up = GaugeMetricFamily("trendwatch_gateway_shard_connected",
                               "1 while this gateway shard is connected, else 0.", labels=labels)
        latency = GaugeMetricFamily("trendwatch_gateway_shard_latency_seconds",
                                    "Heartbeat round trip of this gateway shard.", labels=labels)
        servers = GaugeMetricFamily("trendwatch_gateway_shard_servers", "Servers this gateway shard carries.",
                                    labels=labels)
        for state in self.states:
            key = [state.platform, str(state.shard_id)]
            up.add_metric(key, 1 if state.state == "connected" else 0)
            if state.latency_ms is not None:
                latency.add_metric(key, state.latency_ms / 1000)
            servers.add_metric(key, state.servers)
        return [up, latency, servers]


class OpsEndpoint:
    """The two routes; served by its own aiohttp server (`start`/`close`) or added to another one (`routes`)."""

    name = "ops endpoint"

    def __init__(self, db: Database, settings: Settings, me: Callable[[], str], lease_name: str,
                 address: OpsAddress, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 pages: Sequence[web.RouteDef] = ()) -> None:
        self.db = db
        self.settings = settings
        self.me = me
        self.lease_name = lease_name
        self.address = address
        self.clock = clock
        self.started_at = clock()
        self.runner: web.AppRunner | None = None
        self.pages = list(pages)  # the web page's routes (bot/web/site.py), on the same server
        self.public = settings.web.enabled
        self.shards: list[ReportsShards] = []  # gateway services whose shards /healthz lists (`place` finds them)

    def routes(self) -> list[web.RouteDef]:
        return [web.get(HEALTH_PATH, self.health), web.get(METRICS_PATH, self.metrics), *self.pages]

    async def _vitals(self) -> Vitals:
        return await read_vitals(self.db.conn, self.lease_name)

    async def health(self, _request: web.Request) -> web.Response:
        try:
            vitals = await self._vitals()
        except Exception as exc:  # a store that cannot be read is the answer, not a traceback
            log.warning("health check could not read the store: %s: %s", type(exc).__name__, exc)
            body = {"status": "unhealthy", "reasons": [f"cannot read the store: {type(exc).__name__}: {exc}"]}
            return web.json_response(body, status=503, dumps=_dumps)
        verdict = judge(vitals, self.me(), self.clock(), self.settings.hub.poll_interval, self.started_at,
                        self.public)
        answer: dict[str, Any] = verdict.body
        if self.shards:
            answer = {**answer, "shards": shard_report([state for service in self.shards
                                                    for state in service.shard_states()])}
        return web.json_response(answer, status=200 if verdict.ok else 503, dumps=_dumps)

    async def metrics(self, _request: web.Request) -> web.Response:
        started = time.perf_counter()
        text = generate_latest(REGISTRY)
        try:
            vitals = await self._vitals()
        except Exception as exc:  # counters still answer; the store's gauges are left out this once
            log.warning("metrics could not read the store: %s: %s", type(exc).__name__, exc)
        else:
            scrape = CollectorRegistry(auto_describe=False)
            scrape.register(VitalsCollector(vitals, self.me(), self.clock(), self.public))
            if self.shards:
                scrape.register(ShardCollector([state for service in self.shards for state in service.shard_states()]))
            text += generate_latest(scrape)
        log.debug("metrics scraped in %.1f ms", (time.perf_counter() - started) * 1000)
        return web.Response(body=text, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> None:
        app = web.Application()
        app.add_routes(self.routes())
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.address.host, self.address.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self.runner = runner
        log.info("ops endpoint: %s and %s%s on http://%s:%d (port from %s)", HEALTH_PATH, METRICS_PATH,
                 " and the web page" if self.pages else "", self.address.host, self.bound_port, self.address.origin)

    @property
    def bound_port(self) -> int:
        """The port really bound (tests ask for 0)."""
        if self.runner is None or not self.runner.addresses:
            return self.address.port
        return int(self.runner.addresses[0][1])

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@runtime_checkable
class RouteHost(Protocol):
    """A service that runs a web server of its own and can serve more routes (Slack's HTTP mode)."""

    name: str

    def add_routes(self, routes: list[web.RouteDef]) -> None: ...


def place(endpoint: OpsEndpoint, services: list[Service]) -> list[Service]:
    """Share a web server already among the services (Slack HTTP mode: `add_routes`), else serve on our own.

    Services with gateway shards (Discord) are handed to the endpoint here, where it meets them: /healthz lists them.
    """
    endpoint.shards = [service for service in services if isinstance(service, ReportsShards)]
    for service in services:
        if isinstance(service, RouteHost):
            service.add_routes(endpoint.routes())
            log.info("ops endpoint: %s and %s served by %s's web server (its port, not %s)",
                     HEALTH_PATH, METRICS_PATH, service.name, endpoint.address)
            return services
    return [*services, endpoint]


def describe_endpoint(settings: Settings, env: Mapping[str, str] | None = None) -> str:
    """For `check-config`: where `/healthz` and `/metrics` will answer, or "off"."""
    address = ops_address(settings, env)
    if address is None:
        return "off"
    if settings.slack.enabled and settings.slack.mode == "http":
        return (f"{HEALTH_PATH} and {METRICS_PATH} on Slack's HTTP server, port {settings.slack.port}"
                f" (with SLACK_SIGNING_SECRET set; without, Slack's server does not start and they answer on"
                f" {address})")
    if settings.web.enabled:
        return f"the web page, {HEALTH_PATH} and {METRICS_PATH} on {address}"
    return f"{HEALTH_PATH} and {METRICS_PATH} on {address}"
