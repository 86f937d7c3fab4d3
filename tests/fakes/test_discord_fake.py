"""Prove FakeDiscord against the REAL discord.py 2.7.1 (REST, rate limits, gateway, slash commands)."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator

import aiohttp
import discord
import discord.gateway
import discord.http
import pytest
from discord import app_commands

from tests.fakes.discord_api import CHANNEL_ERRORS, DiscordLimits, FakeDiscord, FakeGuild


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as f:
        with f.patch_discord():
            yield f


@pytest.fixture
async def client(fake: FakeDiscord) -> AsyncIterator[discord.Client]:
    c = discord.Client(intents=discord.Intents.none())
    await c.login("fake-token")
    try:
        yield c
    finally:
        await c.close()


def test_patch_discord_restores_globals() -> None:
    base = discord.http.Route.BASE
    gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    f = FakeDiscord()
    f.port, f.gateway_port = 1234, 1235
    with f.patch_discord():
        assert discord.http.Route.BASE == "http://127.0.0.1:1234/api/v10"
        assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "ws://127.0.0.1:1235/gateway"
    assert base == discord.http.Route.BASE
    assert gateway == discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY


# --------------------------------------------------------------------------- REST basics


async def test_json_content_type_headers_and_unknown_path(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{fake.api_base}/users/@me", headers={"Authorization": "Bot x"}) as r:
            assert r.headers["Content-Type"] == "application/json"
            for h in ("Limit", "Remaining", "Reset", "Reset-After", "Bucket"):
                assert f"X-RateLimit-{h}" in r.headers
            assert (await r.json())["id"] == str(fake.bot_user_id)
        async with s.get(f"{fake.api_base}/no/such/thing") as r:
            assert r.status == 404
            assert r.headers["Content-Type"] == "application/json"
            assert await r.json() == {"message": "404: Not Found", "code": 0}
        async with s.get(f"{fake.api_base}/gateway/bot") as r:
            assert (await r.json())["url"] == fake.gateway_url


async def test_login_and_send_embed(fake: FakeDiscord, client: discord.Client) -> None:
    assert client.user is not None and client.user.id == fake.bot_user_id
    assert client.application_id == fake.application_id
    channel = client.get_partial_messageable(fake.channel_id)
    embed = discord.Embed(
        title="Trending: org/model", description="up 3 places", url="https://hf.co/org/model"
    )
    embed.add_field(name="likes", value="123")
    msg = await channel.send(embed=embed)

    assert msg.id > 0 and msg.channel.id == fake.channel_id
    assert msg.embeds[0].title == "Trending: org/model"
    sent = fake.messages(fake.channel_id)
    assert len(sent) == 1
    assert sent[0]["embeds"][0]["fields"] == [{"name": "likes", "value": "123", "inline": True}]
    req = fake.requests_to("POST", f"/channels/{fake.channel_id}/messages")[0]
    assert req.headers["Authorization"] == "Bot fake-token"


async def test_429_with_retry_after_is_retried_once(fake: FakeDiscord, client: discord.Client) -> None:
    fake.rate_limit_next(fake.channel_id, retry_after=0.2)
    started = time.monotonic()
    await client.get_partial_messageable(fake.channel_id).send("after a 429")
    assert time.monotonic() - started >= 0.2
    assert [m["content"] for m in fake.messages(fake.channel_id)] == ["after a 429"]
    posts = fake.requests_to("POST", f"/channels/{fake.channel_id}/messages")
    assert [p.status for p in posts] == [429, 200]
    assert fake.rejected_429 == 1


@pytest.mark.parametrize(
    ("status", "exc", "code"),
    [(403, discord.Forbidden, 50001), (404, discord.NotFound, 10003), (503, discord.DiscordServerError, 0)],
)
async def test_channel_faults_raise(
    fake: FakeDiscord, client: discord.Client, status: int, exc: type[discord.HTTPException], code: int
) -> None:
    # (500 is not used here: discord.py retries 500/502/504/524 with 1+3+5+7+9 s sleeps.)
    fake.fail_channel(fake.channel_id, status)
    with pytest.raises(exc) as info:
        await client.get_partial_messageable(fake.channel_id).send("nope")
    assert info.value.status == status
    assert info.value.code == code
    assert fake.messages(fake.channel_id) == []
    fake.heal_channel(fake.channel_id)
    await client.get_partial_messageable(fake.channel_id).send("healed")
    assert len(fake.messages(fake.channel_id)) == 1


@pytest.mark.parametrize("code", sorted(CHANNEL_ERRORS))
async def test_channel_json_error_codes_come_with_their_status_and_message(
    fake: FakeDiscord, client: discord.Client, code: int
) -> None:
    fake.fail_channel(fake.channel_id, code=code, times=1)
    with pytest.raises(discord.HTTPException) as info:
        await client.get_partial_messageable(fake.channel_id).send("nope")
    status, message = CHANNEL_ERRORS[code]
    assert (info.value.status, info.value.code, info.value.text) == (status, code, message)
    await client.get_partial_messageable(fake.channel_id).send("once only")
    assert len(fake.messages(fake.channel_id)) == 1


async def test_nonce_with_enforce_nonce_dedupes(fake: FakeDiscord, client: discord.Client) -> None:
    channel = client.get_partial_messageable(fake.channel_id)
    first = await channel.send("alert", nonce=424242)
    second = await channel.send("alert", nonce=424242)
    third = await channel.send("other", nonce=777)
    assert first.id == second.id != third.id
    payloads = fake.messages(fake.channel_id)
    assert [p["content"] for p in payloads] == ["alert", "other"]
    assert payloads[0]["nonce"] == "424242" and payloads[0]["enforce_nonce"] is True
    assert fake.deduplicated == 1


async def test_file_attachment_multipart(fake: FakeDiscord, client: discord.Client) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    embed = discord.Embed(title="chart").set_image(url="attachment://chart.png")
    msg = await client.get_partial_messageable(fake.channel_id).send(
        embed=embed, file=discord.File(io.BytesIO(png), filename="chart.png")
    )
    assert msg.attachments[0].filename == "chart.png"
    assert msg.attachments[0].size == len(png)
    rec = fake.message_records[0]
    assert rec.files[0].field_name == "files[0]"
    assert rec.files[0].filename == "chart.png"
    assert rec.files[0].data == png
    assert rec.payload["embeds"][0]["image"]["url"] == "attachment://chart.png"
    assert rec.payload["attachments"] == [{"id": 0, "filename": "chart.png"}]


async def test_delay_slows_answers(fake: FakeDiscord, client: discord.Client) -> None:
    fake.delay(0.3)
    started = time.monotonic()
    await client.get_partial_messageable(fake.channel_id).send("slow")
    assert time.monotonic() - started >= 0.3


# --------------------------------------------------------------------------- slash commands


def _tree_with_commands(c: discord.Client, errors: list[BaseException]) -> app_commands.CommandTree:
    tree = app_commands.CommandTree(c)

    @tree.command(name="hello", description="Say hi")
    async def hello(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("hi", ephemeral=True)

    @tree.command(name="top", description="Top trending models")
    @app_commands.describe(limit="how many")
    async def top(interaction: discord.Interaction, limit: int, task: str = "any") -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send(f"top {limit} for {task}")
        await interaction.edit_original_response(content="done")

    @top.autocomplete("task")
    async def task_autocomplete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        tasks = ["text-generation", "text-to-image", "translation"]
        return [app_commands.Choice(name=t, value=t) for t in tasks if t.startswith(current)]

    @tree.error
    async def on_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        errors.append(error)

    return tree


async def test_tree_sync_stores_commands(fake: FakeDiscord, client: discord.Client) -> None:
    tree = _tree_with_commands(client, [])
    synced = await tree.sync()
    assert sorted(c.name for c in synced) == ["hello", "top"]
    stored = {c["name"]: c for c in fake.synced_commands()}
    assert stored["top"]["options"][0]["name"] == "limit"
    assert stored["top"]["options"][0]["type"] == 4
    # Discord's defaults for what discord.py sends as null; false option fields are left out.
    assert stored["top"]["integration_types"] == [0] and stored["top"]["contexts"] is None
    assert (stored["top"]["dm_permission"], stored["top"]["nsfw"]) == (True, False)
    assert stored["top"]["options"][0]["required"] is True and "required" not in stored["top"]["options"][1]
    assert {c.id for c in synced} == {int(c["id"]) for c in stored.values()}

    # Bulk overwrite keeps ids of unchanged names; guild sync is stored separately.
    again = await tree.sync()
    assert {c.id for c in again} == {c.id for c in synced}
    guild = discord.Object(id=fake.guild_id)
    tree.copy_global_to(guild=guild)
    await tree.sync(guild=guild)
    assert len(fake.synced_commands(fake.guild_id)) == 2
    assert all(c["guild_id"] == str(fake.guild_id) for c in fake.synced_commands(fake.guild_id))
    fetched = await tree.fetch_commands(guild=guild)
    assert sorted(c.name for c in fetched) == ["hello", "top"]


async def _start(c: discord.Client) -> asyncio.Task[None]:
    task = asyncio.create_task(c.start("fake-token"))
    await asyncio.wait_for(c.wait_until_ready(), 3)
    return task


async def _stop(c: discord.Client, task: asyncio.Task[None]) -> None:
    await c.close()
    await asyncio.wait_for(task, 3)


async def test_gateway_slash_command_ephemeral_reply(fake: FakeDiscord) -> None:
    errors: list[BaseException] = []
    # guild_ready_timeout: discord.py waits this long after the last GUILD_CREATE
    # before on_ready (default 2 s, which would dominate the test's run time).
    c = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
    _tree_with_commands(c, errors)
    task = await _start(c)
    try:
        assert fake.connected_clients == 1
        assert fake.identifies[0]["token"] == "fake-token"
        guild = c.get_guild(fake.guild_id)
        assert guild is not None and guild.get_channel(fake.channel_id) is not None

        payload = fake.slash_command_payload("hello")
        await fake.dispatch_interaction(payload)
        body = await fake.wait_for_callback(int(payload["id"]), timeout=3)
        assert body["type"] == 4
        assert body["data"]["content"] == "hi"
        assert body["data"]["flags"] == 64
        assert errors == []
    finally:
        await _stop(c, task)


async def test_gateway_defer_followup_and_edit_original(fake: FakeDiscord) -> None:
    errors: list[BaseException] = []
    c = discord.Client(intents=discord.Intents.none(), guild_ready_timeout=0.05)
    _tree_with_commands(c, errors)
    task = await _start(c)
    try:
        payload = fake.slash_command_payload("top", {"limit": 5, "task": "text-generation"})
        await fake.dispatch_interaction(payload)
        body = await fake.wait_for_callback(int(payload["id"]))
        assert body["type"] == 5  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE (thinking)
        followups = await fake.wait_for_followups(payload["token"], 1)
        assert followups[0].payload["content"] == "top 5 for text-generation"
        await fake.wait_until(lambda: fake.original_edits, 3)
        assert fake.original_edits[0]["content"] == "done"
        assert errors == []
    finally:
        await _stop(c, task)


async def test_guild_command_and_autocomplete(fake: FakeDiscord) -> None:
    errors: list[BaseException] = []
    c = discord.Client(intents=discord.Intents.none(), guild_ready_timeout=0.05)
    tree = _tree_with_commands(c, errors)
    task = await _start(c)
    try:
        guild = discord.Object(id=fake.guild_id)
        tree.copy_global_to(guild=guild)
        tree.clear_commands(guild=None)
        await tree.sync(guild=guild)
        # The payload carries data.guild_id because "hello" is a guild command now;
        # without it discord.py's tree would not find the command.
        payload = fake.slash_command_payload("hello")
        assert payload["data"]["guild_id"] == str(fake.guild_id)
        await fake.dispatch_interaction(payload)
        assert (await fake.wait_for_callback(int(payload["id"])))["type"] == 4

        ac = fake.autocomplete_payload("top", {"limit": 3, "task": "text"}, focused="task")
        await fake.dispatch_interaction(ac)
        body = await fake.wait_for_callback(int(ac["id"]))
        assert body["type"] == 8
        assert [ch["value"] for ch in body["data"]["choices"]] == ["text-generation", "text-to-image"]
        assert errors == []
    finally:
        await _stop(c, task)


async def test_late_interaction_answer_is_unknown_interaction() -> None:
    async with FakeDiscord(interaction_deadline=0.2) as fake:
        with fake.patch_discord():
            errors: list[BaseException] = []
            c = discord.Client(intents=discord.Intents.none(), guild_ready_timeout=0.05)
            tree = app_commands.CommandTree(c)

            @tree.command(name="slow", description="too slow")
            async def slow(interaction: discord.Interaction) -> None:
                await asyncio.sleep(0.3)
                await interaction.response.send_message("late")

            @tree.error
            async def on_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
                errors.append(error)

            task = await _start(c)
            try:
                await fake.dispatch_interaction(fake.slash_command_payload("slow"))
                await fake.wait_until(lambda: errors, 3)
                original = errors[0].__cause__ or errors[0]
                assert isinstance(original, discord.NotFound) and original.code == 10062
                assert fake.callbacks == []
            finally:
                await _stop(c, task)


# --------------------------------------------------------------------------- rate-limit enforcement


async def test_limits_mode_rejects_sixth_message_in_window() -> None:
    limits = DiscordLimits(global_per_second=50, per_channel=5, per_channel_window=5.0)
    async with FakeDiscord(limits=limits) as fake:
        url = f"{fake.api_base}/channels/{fake.channel_id}/messages"
        remaining = []
        async with aiohttp.ClientSession() as s:
            for i in range(5):
                async with s.post(url, json={"content": str(i)}) as r:
                    assert r.status == 200
                    remaining.append(int(r.headers["X-RateLimit-Remaining"]))
                    assert 0 < float(r.headers["X-RateLimit-Reset-After"]) <= 5.0
            async with s.post(url, json={"content": "6th"}) as r:
                assert r.status == 429
                assert r.headers["Via"]
                assert r.headers["X-RateLimit-Scope"] == "user"
                body = await r.json()
                assert body["global"] is False and 0 < body["retry_after"] <= 5.0
        assert remaining == [4, 3, 2, 1, 0]
        assert fake.rejected_429 == 1
        assert len(fake.messages(fake.channel_id)) == 5


async def test_limits_mode_discord_py_waits_preemptively() -> None:
    limits = DiscordLimits(global_per_second=50, per_channel=5, per_channel_window=1.0)
    async with FakeDiscord(limits=limits) as fake:
        with fake.patch_discord():
            c = discord.Client(intents=discord.Intents.none())
            await c.login("fake-token")
            try:
                channel = c.get_partial_messageable(fake.channel_id)
                started = time.monotonic()
                for i in range(7):
                    await channel.send(f"m{i}")
                assert time.monotonic() - started >= 0.9  # slept on Remaining: 0 / Reset-After
            finally:
                await c.close()
        assert fake.rejected_429 == 0
        assert len(fake.messages(fake.channel_id)) == 7


async def test_limits_mode_429s_are_retried_and_all_delivered() -> None:
    # Two bot processes sharing a channel: each believes it has the whole bucket,
    # so the fake answers 429s, which discord.py retries.
    limits = DiscordLimits(global_per_second=50, per_channel=5, per_channel_window=1.0)
    async with FakeDiscord(limits=limits) as fake:
        with fake.patch_discord():
            clients = [discord.Client(intents=discord.Intents.none()) for _ in range(2)]
            for c in clients:
                await c.login("fake-token")
            try:
                sends = [
                    c.get_partial_messageable(fake.channel_id).send(f"c{n}-m{i}")
                    for n, c in enumerate(clients)
                    for i in range(6)
                ]
                await asyncio.wait_for(asyncio.gather(*sends), 5)
            finally:
                for c in clients:
                    await c.close()
        assert fake.rejected_429 > 0
        contents = [m["content"] for m in fake.messages(fake.channel_id)]
        assert sorted(contents) == sorted(f"c{n}-m{i}" for n in range(2) for i in range(6))


async def test_limits_mode_global_limit() -> None:
    channels = tuple(range(1_300_000_000_000_000_010, 1_300_000_000_000_000_018))
    limits = DiscordLimits(global_per_second=4, per_channel=5, per_channel_window=5.0)
    async with FakeDiscord(limits=limits, guilds=[FakeGuild(channel_ids=channels)]) as fake:
        with fake.patch_discord():
            c = discord.Client(intents=discord.Intents.none())
            await c.login("fake-token")  # 2 requests count against the global window too
            try:
                await asyncio.wait_for(
                    asyncio.gather(*(c.get_partial_messageable(ch).send("x") for ch in channels)), 5
                )
            finally:
                await c.close()
        assert fake.rejected_429_global > 0
        assert all(len(fake.messages(ch)) == 1 for ch in channels)
        global_429 = next(r for r in fake.requests if r.status == 429)
        assert global_429.path.startswith("/channels/")
