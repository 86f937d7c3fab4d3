"""`/healthz`, `/metrics` and JSON logs, as a host and a scraper see them: `python -m bot run` against the fake Hub."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.console import ConsoleAdapter
from adapters.slack_app import SlackHttpService, build_slack_service
from adapters.slack_out import SlackAdapter
from bot.app import Trendwatch
from bot.config import ConfigError, Secrets, parse_settings
from bot.domain.messages import Alert, Message
from bot.domain.outcomes import PollFailure
from bot.log import JsonFormatter
from bot.metrics import REGISTRY
from bot.web.ops import OpsAddress, OpsEndpoint, describe_endpoint, judge, ops_address, place
from store.db import Database, open_database
from store.health import SourceHealth
from store.lease import LeaseHolder
from store.vitals import PendingAlerts, Vitals
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.hub import FakeHub, hub_space, ranked
from tests.fakes.slack_api import FakeSlack
from tests.support.cli import REPO, bot, write_config
from tests.support.discord import discord_settings, open_discord_app, poll_baseline_then_change
from tests.support.ops import free_port, get, health

US = [f"meta-llama/l{i}" for i in range(10)]
CN = [f"Qwen/q{i}" for i in range(10)]
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def ops_config(tmp_path: Path, hub: FakeHub, db: Path, port: int, name: str = "c.toml") -> Path:
    return write_config(tmp_path / name, hub, db, hub_extra='poll_interval = "1s"', store_extra='lease = "3s"',
                        extra=f'\n[ops]\nenabled = true\nport = {port}\n\n[log]\nformat = "json"\n')


async def start(config: Path, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, **(env or {})}, cwd=REPO,
    )


async def until_health(port: int, want: int, **fields: Any) -> dict[str, Any]:
    async with asyncio.timeout(25):
        while True:
            status, body = await health(port)
            if status == want and all(body.get(key) == value for key, value in fields.items()):
                return body
            await asyncio.sleep(0.2)


async def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, parsed by prometheus_client's own text parser."""
    status, text = await get(port, "/metrics")
    assert status == 200
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def stop(process: asyncio.subprocess.Process) -> str:
    process.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 0, err.decode()
    return err.decode()


async def test_healthz_and_metrics_follow_polls_deliveries_and_a_failing_hub(fake_hub: FakeHub, tmp_path: Path):
    port = free_port()
    fake_hub.models = ranked(US)
    process = await start(ops_config(tmp_path, fake_hub, tmp_path / "t.db", port))
    try:
        body = await until_health(port, 200, poll="fresh")
        assert body["role"] == "active" and body["status"] == "ok" and body["consecutive_failures"] == 0

        fake_hub.models = ranked(CN[:5] + US[:5])  # entries and CN at 50%: alerts to the console
        async with asyncio.timeout(20):
            while value(samples := await scrape(port), "trendwatch_deliveries_total",
                        platform="console", result="sent") < 1:
                await asyncio.sleep(0.2)
        assert value(samples, "trendwatch_polls_total", result="ok") >= 2
        assert value(samples, "trendwatch_lease_held") == 1
        assert 0 <= value(samples, "trendwatch_seconds_since_last_good_snapshot") < 5
        assert value(samples, "trendwatch_source_consecutive_failures") == 0

        fake_hub.fail(503, times=1000)
        body = await until_health(port, 503)
        assert body["status"] == "unhealthy" and body["poll"] == "stale" and body["role"] == "active"
        assert "the Hub answered HTTP 503" in body["reasons"][0] and body["consecutive_failures"] >= 1
        samples = await scrape(port)
        assert value(samples, "trendwatch_poll_failures_total", reason="http_5xx") >= 1
        assert value(samples, "trendwatch_polls_total", result="failed") >= 1
        assert value(samples, "trendwatch_seconds_since_last_good_snapshot") > 3

        fake_hub.faults.clear()
        await until_health(port, 200, poll="fresh")
    finally:
        err = await stop(process)
    lines = err.splitlines()
    records = [json.loads(line) for line in lines]  # every stderr line is one JSON object
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
    assert any("ops endpoint: http://127.0.0.1" in record["message"] for record in records)
    assert any(record["message"] == "shutting down" for record in records)


async def test_a_standby_is_healthy_while_it_waits_and_takes_over_after_kill_9(fake_hub: FakeHub, tmp_path: Path):
    db = tmp_path / "t.db"
    first_port, second_port = free_port(), free_port()
    fake_hub.models = ranked(US)
    first = await start(ops_config(tmp_path, fake_hub, db, first_port, "first.toml"))
    second: asyncio.subprocess.Process | None = None
    try:
        active = await until_health(first_port, 200, poll="fresh", role="active")
        # $PORT wins over [ops] port, as hosts assign it; [ops] host keeps this test on loopback.
        config = ops_config(tmp_path, fake_hub, db, 1, "second.toml")
        config.write_text(config.read_text().replace("port = 1\n", 'port = 1\nhost = "127.0.0.1"\n'))
        second = await start(config, {"PORT": str(second_port)})
        standby = await until_health(second_port, 200, role="standby")
        assert standby["lease"]["holder"] == active["lease"]["holder"]
        samples = await scrape(second_port)
        assert value(samples, "trendwatch_lease_held") == 0
        assert value(samples, "trendwatch_lease_holder", holder=active["lease"]["holder"],
                     host=active["lease"]["host"]) == 1

        first.kill()
        await first.wait()
        taken = await until_health(second_port, 200, role="active", poll="fresh")
        assert taken["lease"]["holder"] != active["lease"]["holder"]
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
        if second is not None:
            await stop(second)


async def test_run_stops_with_one_line_on_a_port_that_is_not_a_number(fake_hub: FakeHub, tmp_path: Path):
    process = await start(ops_config(tmp_path, fake_hub, tmp_path / "t.db", 9), {"PORT": "web"})
    _, err = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 2
    assert err.decode().strip() == "trendwatch: config error: $PORT: expected a port number, got 'web'"


async def test_check_config_says_where_the_endpoint_answers(fake_hub: FakeHub, tmp_path: Path):
    config = ops_config(tmp_path, fake_hub, tmp_path / "t.db", 9200)
    on = await bot("check-config", "--config", str(config), env={"PORT": "5055"})
    assert on.code == 0 and on.out.rstrip().endswith(
        "ops endpoint: /healthz and /metrics on http://0.0.0.0:5055 (port from $PORT)")
    off = await bot("check-config", "--config", str(write_config(tmp_path / "off.toml", fake_hub, tmp_path / "t.db")))
    assert off.code == 0 and off.out.rstrip().endswith("ops endpoint: off")
    bad = await bot("check-config", "--config", str(config), env={"PORT": "web"})
    assert bad.code == 2 and bad.err.strip() == "trendwatch: config error: $PORT: expected a port number, got 'web'"


# ---------------------------------------------------------------- Slack HTTP mode: one server, one port


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(tmp_path / "t.db")
    yield database
    await database.close()


async def test_in_slack_http_mode_the_routes_join_slacks_server(tmp_path: Path, db: Database) -> None:
    async with FakeSlack() as fake:
        settings = parse_settings({"store": {"path": str(tmp_path / "t.db")}, "ops": {"enabled": True},
                                   "slack": {"enabled": True, "api_url": fake.api_url, "mode": "http"}}, env={})
        secrets = Secrets.from_env({"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "s3cret"})
        service = build_slack_service(settings, secrets, db)
        assert isinstance(service, SlackHttpService)
        service.port, service.host = 0, "127.0.0.1"
        endpoint = OpsEndpoint(db, settings, lambda: "me", "worker", OpsAddress("127.0.0.1", 1, "[ops] port"))
        assert place(endpoint, [service]) == [service]  # no second server
        await service.start()
        try:
            status, body = await health(service.bound_port)
            assert status == 503 and body["reasons"] == ["no worker holds the lease"]
            samples = await scrape(service.bound_port)
            assert value(samples, "trendwatch_lease_held") == 0
            async with aiohttp.ClientSession() as session:  # Slack's own route is still there
                url = f"http://127.0.0.1:{service.bound_port}/slack/events"
                async with session.post(url, data="x") as res:
                    assert res.status == 401
        finally:
            await service.close()
    assert "Slack's HTTP server, port 3000" in describe_endpoint(settings, env={})


def test_without_a_slack_server_the_endpoint_serves_on_its_own(tmp_path: Path) -> None:
    settings = parse_settings({"ops": {"enabled": True}}, env={})
    endpoint = OpsEndpoint(None, settings, lambda: "me", "worker", OpsAddress("127.0.0.1", 1, "[ops] port"))  # type: ignore[arg-type]
    other = object()
    assert place(endpoint, [other]) == [other, endpoint]  # type: ignore[list-item]


# ---------------------------------------------------------------- 429s and deliveries, counted where they happen


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_discord_429s_and_deliveries_are_counted(fake_hub: FakeHub, db_path: Path) -> None:
    async with FakeDiscord() as fake:
        with fake.patch_discord():
            app = await open_discord_app(discord_settings(fake_hub, fake, db_path))
            try:
                await poll_baseline_then_change(app, fake_hub)
                limited = counter("trendwatch_rate_limited_total", platform="discord")
                sent = counter("trendwatch_deliveries_total", platform="discord", result="sent")
                fake.rate_limit_next(fake.channel_id, retry_after=0.2)
                assert (await app.deliver()).sent == 3
            finally:
                await app.close()
    assert counter("trendwatch_rate_limited_total", platform="discord") == limited + 1
    assert counter("trendwatch_deliveries_total", platform="discord", result="sent") == sent + 3


async def test_slack_429s_are_counted() -> None:
    async with FakeSlack() as fake:
        adapter = SlackAdapter("xoxb-test", fake.api_url)
        before = counter("trendwatch_rate_limited_total", platform="slack")
        fake.rate_limit_next("chat.postMessage", retry_after=1, count=1)
        try:
            await adapter.send("C1", Alert("k1", Message(kind="info", title="hello")))
        finally:
            await adapter.close()
    assert counter("trendwatch_rate_limited_total", platform="slack") == before + 1


# ---------------------------------------------------------------- the rules, without I/O


def vitals(last_good: datetime | None = NOW - MINUTE, holder: str = "me", expires: datetime = NOW + MINUTE,
           failures: int = 0, error: str | None = None) -> Vitals:
    source = SourceHealth(failures=failures, last_error=error, last_failure_at=None, last_success_at=last_good,
                          failing_announced=False)
    return Vitals(source=source, lease=LeaseHolder(holder, "h", 1, expires),
                  pending={"slack": PendingAlerts(2, NOW - MINUTE)})


def test_healthy_while_the_last_good_poll_is_within_three_intervals() -> None:
    long_ago = NOW - timedelta(days=1)
    assert judge(vitals(NOW - 3 * MINUTE), "me", NOW, MINUTE, long_ago).ok
    verdict = judge(vitals(NOW - 4 * MINUTE, failures=4, error="the Hub answered HTTP 503"), "me", NOW, MINUTE,
                    long_ago)
    assert not verdict.ok
    assert verdict.body["reasons"] == ["the last good poll was 4 min ago, more than 3 poll intervals of 60s;"
                                       " 4 failure(s) in a row (last error: the Hub answered HTTP 503)"]


def test_a_fresh_start_gets_three_intervals_before_its_first_good_poll() -> None:
    assert judge(vitals(None), "me", NOW, MINUTE, NOW - 2 * MINUTE).body["poll"] == "starting"
    assert judge(vitals(NOW - timedelta(days=2)), "me", NOW, MINUTE, NOW - 2 * MINUTE).ok
    late = judge(vitals(None), "me", NOW, MINUTE, NOW - 4 * MINUTE)
    assert not late.ok and late.body["reasons"][0].startswith("no poll has ever succeeded")


def test_a_standby_is_healthy_only_while_a_live_worker_holds_the_lease() -> None:
    waiting = judge(vitals(holder="other"), "me", NOW, MINUTE, NOW)
    assert waiting.ok and waiting.body["role"] == "standby"
    stuck = judge(vitals(holder="other", expires=NOW - MINUTE), "me", NOW, MINUTE, NOW)
    assert not stuck.ok and stuck.body["role"] == "none"
    assert stuck.body["reasons"] == ["the lease of other expired 60s ago and no worker has taken it over"]


def failure_count(reason: str) -> float:
    return REGISTRY.get_sample_value("trendwatch_poll_failures_total", {"reason": reason}) or 0.0


@pytest.mark.parametrize(("fault", "reason"), [
    (lambda hub: hub.fail(503, times=10_000), PollFailure.HTTP_5XX),
    (lambda hub: hub.fail(429, retry_after=0, times=10_000), PollFailure.RATE_LIMITED),
    (lambda hub: hub.fail(404, times=10_000), PollFailure.HTTP_ERROR),
    (lambda hub: hub.answer_raw("{not json", times=10_000), PollFailure.BAD_ANSWER),
    (lambda hub: hub.answer_raw("[]", times=10_000), PollFailure.SHORT_LIST),
    (lambda hub: hub.short(3, times=10_000), PollFailure.SHORT_LIST),
])
async def test_poll_failures_carry_their_reason_to_the_metrics_and_the_notice(
    fake_hub: FakeHub, tmp_path: Path, fault: Callable[[FakeHub], None], reason: PollFailure,
) -> None:
    """The reason comes from where the failure happened (the real client against the fake Hub), not from
    reading the message: a list of Spaces that is short ("listed only 3 spaces") is a short list too."""
    fake_hub.models = ranked([f"Qwen/q{i}" for i in range(10)])
    fake_hub.spaces = [hub_space(f"org/s{i}", 100 - i) for i in range(10)]
    stream = io.StringIO()
    settings = parse_settings({
        "hub": {"endpoint": fake_hub.endpoint, "retry_budget": "1s", "failures_before_notice": 1},
        "store": {"path": str(tmp_path / "tw.db")}, "console": {"enabled": True, "format": "jsonl"},
        "lists": [{"name": "spaces", "kind": "spaces"}],
    }, env={})
    app = await Trendwatch.open(settings, Secrets.from_env({}), {"console": ConsoleAdapter("jsonl", stream)})
    try:
        assert await app.acquire_lease() is None
        before = failure_count(reason.value)
        fault(fake_hub)
        result = await app.poll()
        await app.deliver()
    finally:
        await app.close()
    assert [failure.reason for failure in result.failures] == [reason, reason]
    assert failure_count(reason.value) - before == 2
    notices = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert {(n["kind"], n["state"], n["reason"]) for n in notices} == {("source", "failing", reason.value)}


def test_the_port_and_address_hosts_expect() -> None:
    off = parse_settings({}, env={})
    on = parse_settings({"ops": {"enabled": True, "port": 9200}}, env={})
    pinned = parse_settings({"ops": {"enabled": True, "host": "127.0.0.1"}}, env={})
    assert ops_address(off, {"PORT": "5000"}) is None
    assert ops_address(on, {}) == OpsAddress("127.0.0.1", 9200, "[ops] port")
    assert ops_address(on, {"PORT": "5000"}) == OpsAddress("0.0.0.0", 5000, "$PORT")
    assert ops_address(pinned, {"PORT": "5000"}) == OpsAddress("127.0.0.1", 5000, "$PORT")
    with pytest.raises(ConfigError, match=r"\$PORT: expected a port number, got '70000'"):
        ops_address(on, {"PORT": "70000"})
    assert describe_endpoint(off, {}) == "off"
    assert describe_endpoint(on, {"PORT": "5000"}) == "/healthz and /metrics on http://0.0.0.0:5000 (port from $PORT)"


def test_a_json_log_line_carries_the_traceback_inside_it() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("bot.x").makeRecord("bot.x", logging.ERROR, __file__, 1, "failed %s", ("once",),
                                                        sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "bot.x" and entry["message"] == "failed once"
    assert "ValueError: boom" in entry["exc_info"]
    assert abs(datetime.fromisoformat(entry["time"]).timestamp() - time.time()) < 60
