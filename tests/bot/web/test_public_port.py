"""With `[web] enabled` the page shares the ops endpoint's server, and that server is public: `/healthz` says
what is wrong without saying where the bot runs (host name, pid), while an ops-only endpoint keeps both."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.config import parse_settings
from bot.web.ops import judge, ops_address
from store.health import SourceHealth
from store.lease import LeaseHolder
from store.vitals import Vitals
from tests.fakes.hub import FakeHub, ranked
from tests.support.cli import write_config
from tests.support.ops import free_port, get, health
from tests.support.processes import start, stop

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def stuck_vitals() -> Vitals:
    source = SourceHealth(failures=4, last_error="cannot reach hub.internal.example:443", last_failure_at=None,
                          last_success_at=NOW - 10 * MINUTE, failing_announced=False)
    return Vitals(source=source, lease=LeaseHolder("box-7:4242:ab12cd34", "box-7", 4242, NOW - MINUTE), pending={})


def test_a_public_healthz_names_the_problem_but_not_the_host_or_pid() -> None:
    public = judge(stuck_vitals(), "me", NOW, MINUTE, NOW - timedelta(days=1), public=True)
    text = json.dumps(public.body)
    assert not public.ok and public.body["lease"] == {"expires_at": (NOW - MINUTE).isoformat()}
    assert "box-7" not in text and "4242" not in text and "hub.internal" not in text
    assert public.body["reasons"] == [
        "the last good poll was 10 min ago, more than 3 poll intervals of 60s; 4 failure(s) in a row",
        "the lease of the active worker expired 60s ago and no worker has taken it over"]
    private = judge(stuck_vitals(), "me", NOW, MINUTE, NOW - timedelta(days=1))
    assert private.body["lease"]["host"] == "box-7" and private.body["lease"]["pid"] == 4242
    assert "box-7:4242:ab12cd34" in private.body["reasons"][1]


def test_the_web_page_takes_the_ops_server_its_port_and_a_public_host() -> None:
    settings = parse_settings({"web": {"enabled": True, "port": 8123}, "ops": {"port": 9100}}, env={})
    address = ops_address(settings, env={})
    assert address is not None and (address.host, address.port, address.origin) == ("0.0.0.0", 8123, "[web] port")
    on_port = ops_address(settings, env={"PORT": "5000"})
    assert on_port is not None and (on_port.host, on_port.port) == ("0.0.0.0", 5000)


async def test_run_serves_the_page_beside_a_public_healthz(fake_hub: FakeHub, tmp_path: Path) -> None:
    port = free_port()
    fake_hub.models = ranked([f"Qwen/q{i}" for i in range(10)])
    config = write_config(tmp_path / "c.toml", fake_hub, tmp_path / "t.db", hub_extra='poll_interval = "1s"',
                          extra=f'\n[web]\nenabled = true\nport = {port}\nhost = "127.0.0.1"\n')
    process = await start(config)
    try:
        body: dict[str, Any] = {}
        async with asyncio.timeout(25):
            while body.get("poll") != "fresh":
                _, body = await health(port)
                await asyncio.sleep(0.2)
        status, text = await get(port, "/healthz")
        for secret in (socket.gethostname(), f":{process.pid}:", str(os.getpid())):
            assert secret not in text
        assert body["role"] == "active" and set(body["lease"]) == {"expires_at"}
        status, page = await get(port, "/")
        assert status == 200 and "China holds 10 of 10" in page
        status, metrics = await get(port, "/metrics")
        assert status == 200 and socket.gethostname() not in metrics
    finally:
        code, err = await stop(process)
    assert code == 0, err
    assert "and the web page on http://127.0.0.1" in err
