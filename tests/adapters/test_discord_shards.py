"""Discord in shards, through the real discord.py against the fake gateway serving several shards: each
shard gets its own servers, a slash command is answered on whichever shard it arrives, servers joining and
leaving reach the app's callbacks, `shard_ids` splits the gateway over two clients, and /healthz lists them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.discord_commands import DiscordGateway
from adapters.discord_out import DiscordAdapter, make_client
from adapters.discord_shards import IdentifyQueue, SessionStartLimit, plan_shards, shard_of
from bot.app import Trendwatch
from bot.config import ConfigError, Settings
from bot.delivery.adapter import DeliveryError
from bot.web.ops import OpsAddress, OpsEndpoint, place
from tests.fakes.discord_api import FakeDiscord, FakeGuild
from tests.fakes.hub import FakeHub, ranked
from tests.support.app import CN, US, open_app, settings_for

SHARDS = 3
BASE_MS = 300_000_000_000  # a snowflake's milliseconds since Discord's epoch (2019)


def guild_on(shard: int, n: int, count: int = SHARDS) -> FakeGuild:
    """The `n`th server whose events Discord sends down `shard` of `count`: (id >> 22) % count == shard."""
    ms = BASE_MS + n * count + shard
    gid = (ms << 22) | (n + 1)
    return FakeGuild(id=gid, channel_ids=(gid + 1,), name=f"server {shard}.{n}")


GUILDS = [guild_on(shard, n) for n in range(2) for shard in range(SHARDS)]


# ---------------------------------------------------------------- pure parts


def test_shard_of_is_discords_formula() -> None:
    assert [shard_of(g.id, SHARDS) for g in GUILDS] == [0, 1, 2, 0, 1, 2]
    assert shard_of(81384788765712384, 17) == 7  # the example in serenity's documentation


LIMIT = SessionStartLimit(total=1000, remaining=1000, reset_after_ms=3_600_000, max_concurrency=1)


def test_the_plan_takes_discords_count_unless_the_config_says() -> None:
    assert plan_shards(3, LIMIT, None, None).ids == (0, 1, 2)
    assert plan_shards(3, LIMIT, 4, None).ids == (0, 1, 2, 3)
    split = plan_shards(3, LIMIT, 3, (1, 2))
    assert (split.count, split.ids, split.whole) == (3, (1, 2), False)
    assert "this process runs 1, 2" in split.describe() and "[discord] shard_count" not in split.describe()
    assert "[discord] shard_count; Discord recommends 3" in plan_shards(3, LIMIT, 5, None).describe()


def test_a_plan_needing_more_session_starts_than_left_waits_with_one_line() -> None:
    low = SessionStartLimit(total=1000, remaining=2, reset_after_ms=7_200_000, max_concurrency=1)
    with pytest.raises(DeliveryError, match=r"allows 2 more gateway session start\(s\) .* in 2.0 h; .* starts 3"):
        plan_shards(3, low, None, None)
    assert plan_shards(3, low, 3, (0, 1)).ids == (0, 1)


def test_identifies_wait_only_behind_their_own_rate_limit_key() -> None:
    now = [100.0]
    one = IdentifyQueue(max_concurrency=1, window=5.0, clock=lambda: now[0])
    assert [one.reserve(shard) for shard in (0, 1, 2)] == [0.0, 5.0, 10.0]
    sixteen = IdentifyQueue(max_concurrency=16, window=5.0, clock=lambda: now[0])
    assert [sixteen.reserve(shard) for shard in range(3)] == [0.0, 0.0, 0.0]
    assert sixteen.reserve(16) == 5.0  # shard 16 shares shard 0's key
    now[0] += 7.0
    assert sixteen.reserve(32) == 3.0


@pytest.mark.parametrize(("discord", "message"), [
    ({"shard_ids": [0]}, "discord.shard_ids: needs discord.shard_count too"),
    ({"shard_count": 3, "shard_ids": [3]}, "discord.shard_ids: [3] outside 0..2"),
    ({"shard_count": 3, "shard_ids": [1, 1]}, "discord.shard_ids: [1] given twice"),
    ({"shard_count": 3, "shard_ids": []}, "discord.shard_ids: is empty"),
    ({"shard_count": 0}, "discord.shard_count: Input should be greater than or equal to 1"),
])
def test_shard_settings_are_checked_with_one_line_naming_the_key(
        fake_hub: FakeHub, tmp_path: Path, discord: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_for(fake_hub, tmp_path / "t.db", discord={"enabled": True, **discord})
    assert message in str(caught.value) and "\n" not in str(caught.value)


# ---------------------------------------------------------------- through discord.py


@dataclass
class Tenants:
    """What the app's tenant callbacks were told."""

    joined: list[tuple[str, str, str]] = field(default_factory=list)
    left: list[tuple[str, str]] = field(default_factory=list)

    async def on_joined(self, platform: str, external_id: str, name: str) -> None:
        self.joined.append((platform, external_id, name))

    async def on_left(self, platform: str, external_id: str) -> None:
        self.left.append((platform, external_id))


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(guilds=list(GUILDS), shards=SHARDS, max_concurrency=16) as server:
        with server.patch_discord():
            yield server


@pytest.fixture
async def app(fake: FakeDiscord, fake_hub: FakeHub, tmp_path: Path) -> AsyncIterator[Trendwatch]:
    fake_hub.models = ranked(US[:8] + CN[:2])
    settings = settings_for(fake_hub, tmp_path / "t.db", discord={"enabled": True, "api_base": fake.api_base})
    running = await open_app(settings, discord=DiscordAdapter("fake-token", fake.api_base))
    await running.poll()
    try:
        yield running
    finally:
        await running.close()


def gateway_for(app: Trendwatch, fake: FakeDiscord, settings: Settings | None = None, tenants: Tenants | None = None,
                is_active: bool = True) -> DiscordGateway:
    adapter = DiscordAdapter("fake-token", fake.api_base, client=make_client(guild_ready_timeout=0.05))
    tenants = tenants or Tenants()
    return DiscordGateway(adapter, app.db, settings or app.settings, ready_timeout=5, is_active=lambda: is_active,
                          on_tenant_joined=tenants.on_joined, on_tenant_left=tenants.on_left)


async def trending_on(fake: FakeDiscord, guild: FakeGuild) -> dict[str, Any]:
    payload = fake.slash_command_payload("trending", {"count": 2}, guild_id=guild.id, channel_id=guild.channel_ids[0])
    await fake.dispatch_interaction(payload)
    body: dict[str, Any] = await fake.wait_for_callback(int(payload["id"]))
    return body


async def test_three_shards_from_discord_each_receive_their_own_servers(
        fake: FakeDiscord, app: Trendwatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    gateway = gateway_for(app, fake)
    try:
        await gateway.start()
        await fake.wait_until(lambda: gateway.client.is_ready(), timeout=5)
        assert fake.connected_shards == [(0, 3), (1, 3), (2, 3)]
        assert sorted(tuple(d["shard"]) for d in fake.identifies) == [(0, 3), (1, 3), (2, 3)]
        on_shard = {shard: sorted(g.id for g in gateway.client.guilds if g.shard_id == shard) for shard in range(3)}
        assert on_shard == {shard: sorted(g.id for g in GUILDS if shard_of(g.id, 3) == shard) for shard in range(3)}
        assert all(len(ids) == 2 for ids in on_shard.values())
        states = gateway.shard_states()
        assert [(s.shard_id, s.shard_count, s.state, s.servers) for s in states] == \
            [(0, 3, "connected", 2), (1, 3, "connected", 2), (2, 3, "connected", 2)]
    finally:
        await gateway.close()
    said = caplog.text
    assert "discord: 3 shards (as Discord recommends); this process runs all of them" in said
    assert "discord: shard 2/3 ready: 2 servers" in said


async def test_a_slash_command_arriving_on_shard_2_is_answered(fake: FakeDiscord, app: Trendwatch) -> None:
    gateway = gateway_for(app, fake)
    try:
        await gateway.start()
        await fake.wait_until(lambda: gateway.client.is_ready(), timeout=5)
        on_two = GUILDS[2]
        assert shard_of(on_two.id, SHARDS) == 2
        body = await trending_on(fake, on_two)
        assert body["type"] == 4 and "meta-llama/l0" in body["data"]["embeds"][0]["description"]
    finally:
        await gateway.close()


async def test_servers_joining_and_leaving_reach_the_tenant_callbacks(fake: FakeDiscord, app: Trendwatch) -> None:
    tenants = Tenants()
    gateway = gateway_for(app, fake, tenants=tenants)
    try:
        await gateway.start()
        await fake.wait_until(lambda: gateway.client.is_ready(), timeout=5)
        assert tenants.joined == []  # servers the bot was already in are available, not joined
        newcomer = guild_on(1, 7)
        assert await fake.join_guild(newcomer) == 1  # only shard 1 hears of it
        await fake.wait_until(lambda: tenants.joined, timeout=3)
        assert tenants.joined == [("discord", str(newcomer.id), "server 1.7")]

        outage = GUILDS[0]
        await fake.remove_guild(outage.id, unavailable=True)  # an outage: the server stays
        leaving = GUILDS[5]
        await fake.remove_guild(leaving.id)
        await fake.wait_until(lambda: tenants.left, timeout=3)
        assert tenants.left == [("discord", str(leaving.id))]
        assert gateway.client.get_guild(leaving.id) is None
    finally:
        await gateway.close()


async def test_a_standby_leaves_joins_and_leaves_to_the_lease_holder(fake: FakeDiscord, app: Trendwatch) -> None:
    tenants = Tenants()
    gateway = gateway_for(app, fake, tenants=tenants, is_active=False)
    try:
        await gateway.start()
        await fake.wait_until(lambda: gateway.client.is_ready(), timeout=5)
        await fake.remove_guild(GUILDS[1].id)
        await fake.wait_until(lambda: gateway.client.get_guild(GUILDS[1].id) is None, timeout=3)
        await asyncio.sleep(0.1)
    finally:
        await gateway.close()
    assert tenants.left == []


async def test_a_failing_tenant_callback_is_one_line(
        fake: FakeDiscord, app: Trendwatch, caplog: pytest.LogCaptureFixture) -> None:
    async def broken(platform: str, external_id: str) -> None:
        raise OSError("the store is away")

    gateway = gateway_for(app, fake)
    gateway.on_tenant_left = broken
    try:
        await gateway.start()
        await fake.wait_until(lambda: gateway.client.is_ready(), timeout=5)
        await fake.remove_guild(GUILDS[4].id)
        await fake.wait_until(lambda: "failed (OSError" in caplog.text, timeout=3)
    finally:
        await gateway.close()
    assert f"discord: recording that server {GUILDS[4].id} left failed (OSError: the store is away)" in caplog.text
    assert "Traceback" not in caplog.text


async def test_shard_ids_split_the_gateway_over_two_processes(fake: FakeDiscord, app: Trendwatch) -> None:
    """Two clients as two processes would run them: [0] and [1, 2] of 3. Each gets only its shards' servers
    and answers their commands though neither holds the lease: nobody else receives them."""
    def split(ids: list[int]) -> Settings:
        discord = app.settings.discord.model_copy(update={"shard_count": 3, "shard_ids": tuple(ids)})
        return app.settings.model_copy(update={"discord": discord})

    first = gateway_for(app, fake, split([0]), is_active=False)
    second = gateway_for(app, fake, split([1, 2]), is_active=False)
    try:
        await first.start()
        await second.start()
        await fake.wait_until(lambda: first.client.is_ready() and second.client.is_ready(), timeout=5)
        assert fake.connected_shards == [(0, 3), (1, 3), (2, 3)]
        assert {shard_of(g.id, 3) for g in first.client.guilds} == {0}
        assert {shard_of(g.id, 3) for g in second.client.guilds} == {1, 2}
        assert [s.shard_id for s in first.shard_states()] == [0]
        assert [s.shard_id for s in second.shard_states()] == [1, 2]
        for guild in (GUILDS[0], GUILDS[1], GUILDS[2]):
            assert (await trending_on(fake, guild))["type"] == 4
    finally:
        await first.close()
        await second.close()


async def test_too_few_shards_stop_with_one_line(app: Trendwatch) -> None:
    """Discord closes a shard carrying more than 2,500 servers (4011): a config problem, said as such."""
    crowded = [FakeGuild(id=(BASE_MS + n) << 22, channel_ids=()) for n in range(2501)]
    async with FakeDiscord(guilds=crowded, shards=2) as server:
        with server.patch_discord():
            discord = app.settings.discord.model_copy(update={"api_base": server.api_base, "shard_count": 1})
            settings = app.settings.model_copy(update={"discord": discord})
            gateway = gateway_for(app, server, settings)
            try:
                with pytest.raises(ConfigError, match=r"Discord requires more shards .* \(close code 4011\)"):
                    await gateway.start()
            finally:
                await gateway.close()


async def test_healthz_lists_each_shard(fake: FakeDiscord, app: Trendwatch) -> None:
    gateway = gateway_for(app, fake)
    endpoint = OpsEndpoint(app.db, app.settings, lambda: app.holder, "worker", OpsAddress("127.0.0.1", 0, "test"))
    assert place(endpoint, [gateway]) == [gateway, endpoint]
    await endpoint.start()
    try:
        await gateway.start()
        await fake.wait_until(lambda: gateway.client.is_ready(), timeout=5)
        async with aiohttp.ClientSession() as session, \
                session.get(f"http://127.0.0.1:{endpoint.bound_port}/healthz") as res:
            body = await res.json()
        shards = body["shards"]["discord"]
        assert (shards["shard_count"], shards["connected"]) == (3, 3)
        assert [(s["id"], s["state"], s["servers"]) for s in shards["shards"]] == \
            [(0, "connected", 2), (1, "connected", 2), (2, "connected", 2)]
        async with aiohttp.ClientSession() as session, \
                session.get(f"http://127.0.0.1:{endpoint.bound_port}/metrics") as res:
            metrics = await res.text()
        assert 'trendwatch_gateway_shard_connected{platform="discord",shard="2"} 1.0' in metrics
        assert 'trendwatch_gateway_shard_servers{platform="discord",shard="0"} 2.0' in metrics
        await fake.refuse_gateway()  # every connection drops; discord.py tries to reconnect
        await fake.wait_until(lambda: all(s.state == "disconnected" for s in gateway.shard_states()), timeout=5)
        async with aiohttp.ClientSession() as session, \
                session.get(f"http://127.0.0.1:{endpoint.bound_port}/healthz") as res:
            body = await res.json()
        assert body["shards"]["discord"]["connected"] == 0
        assert {s["state"] for s in body["shards"]["discord"]["shards"]} == {"disconnected"}
    finally:
        await gateway.close()
        await endpoint.close()


async def test_shards_identify_one_per_window_and_the_wait_is_said(
        app: Trendwatch, caplog: pytest.LogCaptureFixture) -> None:
    """max_concurrency 1 (most bots): shard 1 identifies 5 s after shard 0; meanwhile it is "waiting"."""
    async with FakeDiscord(guilds=list(GUILDS), shards=SHARDS, max_concurrency=1) as server:
        with server.patch_discord():
            discord = app.settings.discord.model_copy(update={"api_base": server.api_base})
            gateway = gateway_for(app, server, app.settings.model_copy(update={"discord": discord}))
            gateway.ready_timeout = 1.0
            try:
                await gateway.start()
                assert [s.state for s in gateway.shard_states()] == ["connected", "waiting", "waiting"]
                assert server.connected_shards == [(0, 3)]
            finally:
                await gateway.close()
    assert "discord: gateway not ready after 1s (1 of 3 shards connected); still trying (shards identify 1 per 5 s)" \
        in caplog.text
