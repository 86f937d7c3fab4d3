"""Discord faults the soak test injects, through the real discord.py: lost answers, command sync, refused token,
a gateway that cannot be reached."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import discord.client
import discord.shard
import pytest

from adapters.discord_commands import DiscordGateway
from adapters.discord_out import DiscordAdapter, make_client
from bot.app import Trendwatch
from bot.delivery.adapter import DeliveryError, PlatformRefused
from bot.domain.messages import Alert, Message
from bot.services import keep_connecting
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.hub import FakeHub
from tests.support.app import open_app, settings_for


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        with server.patch_discord():
            yield server


async def test_a_post_whose_answer_is_lost_is_resent_and_discord_keeps_one(fake: FakeDiscord) -> None:
    """The duplicate bound on Discord: the resend carries the same nonce, answered with the first message."""
    adapter = DiscordAdapter("fake-token", api_base=fake.api_base)
    alert = Alert("tw-1-1", Message(kind="info", title="hello"))
    fake.drop_next("POST", "/messages")
    try:
        await adapter.login()
        with pytest.raises(DeliveryError):
            await adapter.send(str(fake.channel_id), alert)
        await adapter.send(str(fake.channel_id), alert)
    finally:
        await adapter.close()
    assert len(fake.messages(fake.channel_id)) == 1
    assert fake.deduplicated == 1


async def test_a_token_refused_for_a_while_is_refused_then_works(fake: FakeDiscord) -> None:
    adapter = DiscordAdapter("fake-token", api_base=fake.api_base)
    alert = Alert("tw-1-1", Message(kind="info", title="hello"))
    try:
        await adapter.login()
        fake.refuse_token()
        with pytest.raises(PlatformRefused):
            await adapter.send(str(fake.channel_id), alert)
        fake.refuse_token(False)
        await adapter.send(str(fake.channel_id), alert)
    finally:
        await adapter.close()
    assert len(fake.messages(fake.channel_id)) == 1


async def test_fail_route_answers_the_next_matching_requests_only(fake: FakeDiscord) -> None:
    adapter = DiscordAdapter("fake-token", api_base=fake.api_base)
    fake.fail_route("POST", "/messages", 503)
    try:
        await adapter.login()
        with pytest.raises(DeliveryError, match="503"):
            await adapter.send(str(fake.channel_id), Alert("k1", Message(kind="info", title="one")))
        await adapter.send(str(fake.channel_id), Alert("k1", Message(kind="info", title="one")))
    finally:
        await adapter.close()
    assert len(fake.messages(fake.channel_id)) == 1


class QuickBackoff:
    """discord.py's reconnect backoff (1 s, 2 s, 4 s … at random) shortened, so a test sees several tries."""

    def __init__(self, *args: object, **kwargs: object) -> None: ...

    def delay(self) -> float:
        return 0.05


@pytest.fixture
async def app(fake: FakeDiscord, fake_hub: FakeHub, db_path: Path) -> AsyncIterator[Trendwatch]:
    settings = settings_for(fake_hub, db_path, discord={"enabled": True, "api_base": fake.api_base})
    adapter = DiscordAdapter("fake-token", fake.api_base, client=make_client(guild_ready_timeout=0.05))
    running = await open_app(settings, discord=adapter)
    try:
        yield running
    finally:
        await running.close()


def gateway_of(app: Trendwatch) -> DiscordGateway:
    adapter = app.adapters["discord"]
    assert isinstance(adapter, DiscordAdapter)
    return DiscordGateway(adapter, app.db, app.settings, ready_timeout=5)


async def logged(caplog: pytest.LogCaptureFixture, found: Callable[[list[logging.LogRecord]], bool]) -> None:
    async with asyncio.timeout(10):
        while not found(caplog.records):
            await asyncio.sleep(0.05)


async def test_reconnects_to_an_unreachable_gateway_are_one_warning_line_each(
    fake: FakeDiscord, app: Trendwatch, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """discord.py logs every reconnect with a traceback; a refused connection is a fault, not a bug."""
    monkeypatch.setattr(discord.client, "ExponentialBackoff", QuickBackoff)
    monkeypatch.setattr(discord.shard, "ExponentialBackoff", QuickBackoff)  # the gateway runs in shards
    gateway = gateway_of(app)
    try:
        await gateway.start()
        await fake.wait_until_connected()
        caplog.clear()
        await fake.refuse_gateway()

        def tries(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
            return [r for r in records if r.name in ("discord.client", "discord.shard")
                    and "gateway connection failed" in r.getMessage()]

        await logged(caplog, lambda records: len(tries(records)) >= 3)
        await fake.accept_gateway()
        await fake.wait_until_connected(timeout=5)  # discord.py goes on trying, and resumes
    finally:
        await gateway.close()
    assert "Traceback" not in caplog.text
    for record in tries(caplog.records):
        message = record.getMessage()
        assert (record.levelno, record.exc_info, "\n" in message) == (logging.WARNING, None, False), message
        assert "(ConnectionRefusedError: [Errno 111] Connect call failed" in message, message


async def test_a_gateway_unreachable_at_start_is_named_and_retried_without_discord_py_tripping(
    fake: FakeDiscord, app: Trendwatch, caplog: pytest.LogCaptureFixture
) -> None:
    """REST answers (login, command sync) but the gateway does not: the line says so, with the connection
    error, and discord.py's `connect` is not run before the gateway answers (its retry loop cannot cope)."""
    caplog.set_level(logging.INFO)
    await fake.refuse_gateway()
    gateway = gateway_of(app)
    fatal: list[Exception] = []
    connecting = asyncio.create_task(keep_connecting(gateway, fatal.append, delay=lambda failures: 0.1))
    try:
        await logged(caplog, lambda records: any("still cannot connect" in r.getMessage() for r in records))
        tried = [r for r in caplog.records if r.name == "discord.client" and "gateway connection" in r.getMessage()]
        assert tried == [] and fake.identifies == []  # discord.py's `connect` has not run
        await fake.accept_gateway()
        assert await asyncio.wait_for(connecting, 10) is True
        await fake.wait_until_connected()
    finally:
        connecting.cancel()
        await gateway.close()
    assert fatal == [] and "Traceback" not in caplog.text and "AttributeError" not in caplog.text
    said = [r.getMessage() for r in caplog.records if "discord: cannot connect" in r.getMessage()]
    assert len(said) == 1, said
    assert f"Discord's gateway ws://127.0.0.1:{fake.gateway_port}/gateway cannot be reached" in said[0]
    assert "(ConnectionRefusedError: [Errno 111] Connect call failed" in said[0]
