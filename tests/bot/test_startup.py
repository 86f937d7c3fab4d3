"""`python -m bot run` with Discord or Slack that cannot be reached: it polls anyway and connects later."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.discord_api import FakeDiscord
from tests.fakes.hub import FakeHub, ranked
from tests.fakes.slack_api import FakeSlack
from tests.support.cli import bot, write_config
from tests.support.processes import snapshots, start, stop, wait_for
from tests.support.stores import count

US = [f"meta-llama/l{i}" for i in range(11)]
CHANNEL = 1_300_000_000_000_000_001


def closed_port() -> int:
    """A port nothing listens on (bound, then released): connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pending(db: Path) -> int:
    return count(db, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'")


def discord_config(tmp_path: Path, db: Path, hub: FakeHub, api_base: str) -> Path:
    return write_config(tmp_path / "c.toml", hub, db, hub_extra='poll_interval = "1s"', extra=(
        f'[discord]\nenabled = true\napi_base = "{api_base}"\n\n'
        f'[[routes]]\nplatform = "discord"\nchannel = "{CHANNEL}"\n'))


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake


@pytest.mark.parametrize("api_base", [
    f"http://127.0.0.1:{closed_port()}/api/v10",  # connection refused
    "http://trendwatch-test.invalid/api/v10",  # DNS failure
], ids=["refused", "dns"])
async def test_an_unreachable_discord_does_not_stop_polling_and_its_alerts_stay_queued(
    fake_hub: FakeHub, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api_base: str
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "fake-token")
    db = db_path
    fake_hub.models = ranked(US[:10])
    process = await start(discord_config(tmp_path, db_path, fake_hub, api_base))
    try:
        await wait_for(lambda: snapshots(db) >= 1)
        fake_hub.models = ranked(US[:9] + US[10:])  # one model enters: an alert for the Discord channel
        await wait_for(lambda: snapshots(db) >= 3)
    finally:
        code, err = await stop(process)
    assert code == 0, err
    assert "Traceback" not in err
    assert err.count("discord: cannot connect") == 1, err  # said once, with when it retries
    assert "retrying in" in err
    assert pending(db) >= 1


async def test_a_command_sync_answered_503_is_retried_beside_the_gateway(
    fake_hub: FakeHub, fake_discord: FakeDiscord, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "fake-token")
    fake_discord.fail_route("PUT", "/commands", 503)
    fake_hub.models = ranked(US[:10])
    db = db_path
    process = await start(discord_config(tmp_path, db_path, fake_hub, fake_discord.api_base))
    try:
        await fake_discord.wait_until_connected(timeout=15)  # the gateway does not wait for the sync
        assert fake_discord.synced_commands() == []
        await wait_for(lambda: snapshots(db) >= 1)
        await fake_discord.wait_until(lambda: fake_discord.synced_commands(), timeout=15)
    finally:
        code, err = await stop(process)
    assert code == 0, err
    assert "Traceback" not in err
    assert "slash command sync failed" in err and "slash commands synced after 1 failed attempt" in err


async def test_a_refused_discord_token_at_start_is_one_config_error(
    fake_hub: FakeHub, fake_discord: FakeDiscord, db_path: Path, tmp_path: Path
) -> None:
    """The token comes from the environment: only a restart can change it, so retrying cannot help."""
    fake_discord.refuse_token()
    config = discord_config(tmp_path, db_path, fake_hub, fake_discord.api_base)
    run = await bot("run", "--config", str(config), env={"DISCORD_TOKEN": "revoked"})
    assert run.code == 2, run.err
    assert "DISCORD_TOKEN was refused by Discord" in run.err
    assert "Traceback" not in run.err and "revoked" not in run.err


def slack_config(tmp_path: Path, db: Path, hub: FakeHub, api_url: str) -> Path:
    return write_config(tmp_path / "c.toml", hub, db, hub_extra='poll_interval = "1s"', extra=(
        f'[slack]\nenabled = true\napi_url = "{api_url}"\n\n'
        '[[routes]]\nplatform = "slack"\nchannel = "C1"\n'))


async def test_socket_mode_failing_for_a_while_is_retried_not_a_config_error(
    fake_hub: FakeHub, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test")
    fake_hub.models = ranked(US[:10])
    db = db_path
    async with FakeSlack() as fake:
        fake.server_error_next(count=1, status=503, method="apps.connections.open")
        process = await start(slack_config(tmp_path, db_path, fake_hub, fake.api_url))
        try:
            await wait_for(lambda: snapshots(db) >= 1)
            await fake.wait_until(lambda: fake.socket_connections >= 1, timeout=15)
        finally:
            code, err = await stop(process)
    assert code == 0, err
    assert "config error" not in err and "Traceback" not in err
    assert err.count("slack: cannot connect") == 1
    assert "slack: connected after 1 failed attempt" in err


async def test_an_unreachable_slack_does_not_stop_polling(
    fake_hub: FakeHub, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test")
    fake_hub.models = ranked(US[:10])
    db = db_path
    process = await start(slack_config(tmp_path, db_path, fake_hub, f"http://127.0.0.1:{closed_port()}/api/"))
    try:
        await wait_for(lambda: snapshots(db) >= 2)
        await asyncio.sleep(0.5)
    finally:
        code, err = await stop(process)
    assert code == 0, err
    assert "Traceback" not in err
    assert "slack: cannot connect" in err and "retrying in" in err
