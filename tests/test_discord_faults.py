"""Discord faults the soak test injects, through the real discord.py: lost answers, command sync, refused token."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.discord_out import DiscordAdapter
from bot.delivery.adapter import DeliveryError, PlatformRefused
from bot.domain.messages import Alert, Message
from tests.fakes.discord_api import FakeDiscord


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
