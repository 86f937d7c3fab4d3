"""Proves FakeSlack against the REAL slack_sdk 3.48 / slack_bolt 1.30 clients.

If one of these tests breaks after a library upgrade, the fake no longer matches what
the libraries send or expect, and the bot's Slack tests stop meaning anything.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.fakes.slack_api import FakeSlack, SlackLimits

SIGNING_SECRET = "test-signing-secret"
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Trending*: `org/model`"}}]


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as f:
        yield f


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    # No session passed: the SDK opens and closes one per request, so nothing leaks.
    return AsyncWebClient(token="xoxb-test", base_url=fake.api_url)


# ---------------------------------------------------------------- Web API basics


async def test_post_message_recorded(fake: FakeSlack, client: AsyncWebClient) -> None:
    resp = await client.chat_postMessage(channel="C1", text="hi", blocks=BLOCKS)
    assert resp["ok"] is True
    assert resp["channel"] == "C1"
    assert resp["message"]["text"] == "hi"
    assert resp["message"]["blocks"] == BLOCKS
    posts = fake.posts("C1")
    assert len(posts) == 1
    assert posts[0]["text"] == "hi"
    assert posts[0]["blocks"] == BLOCKS
    call = fake.calls_to("chat.postMessage")[0]
    assert call.token == "xoxb-test"
    assert call.headers["Authorization"] == "Bearer xoxb-test"
    assert call.headers["Content-Type"].startswith("application/json")


async def test_form_encoded_body_and_form_token(fake: FakeSlack) -> None:
    """Other clients (curl, sync WebClient with data=) send forms with a token field."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            fake.api_url + "chat.postMessage",
            data={"token": "xoxb-form", "channel": "C2", "text": "form", "blocks": '[{"type": "divider"}]'},
        ) as res,
    ):
        body = await res.json()
    assert body["ok"] is True
    assert fake.posts("C2")[0]["blocks"] == [{"type": "divider"}]
    assert fake.calls[-1].token == "xoxb-form"


async def test_auth_test_and_ts_unique(fake: FakeSlack, client: AsyncWebClient) -> None:
    auth = await client.auth_test()
    assert auth["user_id"] == fake.bot_user_id
    assert auth["bot_id"] == fake.bot_id
    assert auth["team_id"] == fake.team_id
    assert auth.headers["x-oauth-scopes"]
    a = await client.chat_postMessage(channel="C1", text="1")
    b = await client.chat_postMessage(channel="C1", text="2")
    assert a["ts"] != b["ts"]


async def test_post_ephemeral_and_users_info(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_user("UADMIN", name="boss", is_admin=True)
    fake.add_user("UOWNER", is_owner=True)
    fake.add_user("UPLAIN")
    assert (await client.users_info(user="UADMIN"))["user"]["is_admin"] is True
    assert (await client.users_info(user="UOWNER"))["user"]["is_owner"] is True
    plain = (await client.users_info(user="UPLAIN"))["user"]
    assert (plain["is_admin"], plain["is_owner"]) == (False, False)
    with pytest.raises(SlackApiError) as exc:
        await client.users_info(user="UNOBODY")
    assert exc.value.response["error"] == "user_not_found"

    resp = await client.chat_postEphemeral(channel="C1", user="UPLAIN", text="only you")
    assert resp["message_ts"]
    assert fake.ephemerals == [{"channel": "C1", "user": "UPLAIN", "text": "only you"}]
    assert fake.posts() == []


async def test_conversations_info(fake: FakeSlack, client: AsyncWebClient) -> None:
    info = await client.conversations_info(channel="C1")
    assert info["channel"]["id"] == "C1"
    fake.fail_channel("C9", "is_archived")
    assert (await client.conversations_info(channel="C9"))["channel"]["is_archived"] is True


async def test_unknown_method_and_unknown_path(fake: FakeSlack, client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        await client.api_call("nope.nothing")
    assert exc.value.response["error"] == "unknown_method"
    async with aiohttp.ClientSession() as session:
        async with session.get(fake.base_url + "/api/agent-harnesses/x/y") as res:
            assert res.status == 200  # still an /api/ method name, answered unknown_method
        async with session.get(fake.base_url + "/whatever") as res:
            assert res.status == 404


async def test_token_checks(fake: FakeSlack, client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        await AsyncWebClient(base_url=fake.api_url).chat_postMessage(channel="C1", text="x")
    assert exc.value.response["error"] == "not_authed"
    with pytest.raises(SlackApiError) as exc:
        await client.apps_connections_open(app_token="xoxb-not-an-app-token")
    assert exc.value.response["error"] == "not_allowed_token_type"
    opened = await client.apps_connections_open(app_token="xapp-test")
    assert opened["url"] == fake.socket_url
    assert fake.calls_to("apps.connections.open")[-1].token == "xapp-test"


# ---------------------------------------------------------------- faults


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "is_archived"])
async def test_channel_faults_raise(fake: FakeSlack, client: AsyncWebClient, error: str) -> None:
    fake.fail_channel("CGONE", error)
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel="CGONE", text="hi")
    assert exc.value.response["error"] == error
    assert exc.value.response.status_code == 200  # Slack reports these with HTTP 200
    assert fake.posts("CGONE") == []
    await client.chat_postMessage(channel="C1", text="other channels still work")


async def test_fail_auth(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_auth()
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel="C1", text="hi")
    assert exc.value.response["error"] == "invalid_auth"
    fake.heal_auth()
    await client.chat_postMessage(channel="C1", text="hi")


async def test_429_without_retry_handler_raises(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.rate_limit_next(retry_after=7)
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel="C1", text="hi")
    assert exc.value.response.status_code == 429
    assert exc.value.response["error"] == "ratelimited"
    assert exc.value.response.headers["Retry-After"] == "7"
    assert fake.rejected_429 == 1
    assert fake.posts("C1") == []


async def test_429_retry_handler_waits_and_delivers_once(fake: FakeSlack, client: AsyncWebClient) -> None:
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    fake.rate_limit_next("chat.postMessage", retry_after=1, count=1)
    t0 = time.monotonic()
    await client.chat_postMessage(channel="C1", text="once")
    waited = time.monotonic() - t0
    assert waited >= 1.0  # the handler sleeps int(Retry-After) + random()
    assert [p["text"] for p in fake.posts("C1")] == ["once"]
    assert [c.status for c in fake.calls_to("chat.postMessage")] == [429, 200]


async def test_server_error(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.server_error_next(count=1, status=503)
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel="C1", text="hi")
    assert exc.value.response.status_code == 503
    client.retry_handlers.append(AsyncServerErrorRetryHandler(max_retry_count=1))
    fake.server_error_next(count=1, status=500)
    await client.chat_postMessage(channel="C1", text="after retry")
    assert [p["text"] for p in fake.posts("C1")] == ["after retry"]


# ---------------------------------------------------------------- files


async def test_files_upload_v2_three_steps(fake: FakeSlack, client: AsyncWebClient) -> None:
    png = b"\x89PNG\r\n\x1a\nfake-chart-bytes"
    resp = await client.files_upload_v2(
        channel="C1",
        content=png,
        filename="chart.png",
        title="Trending this week",
        initial_comment="Here is the chart",
    )
    assert resp["ok"] is True
    assert resp["file"]["title"] == "Trending this week"
    assert [c.method for c in fake.calls] == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    assert fake.calls[0].params["length"] == str(len(png))
    [upload] = fake.uploads
    assert upload.content == png
    assert upload.filename == "chart.png"
    assert upload.title == "Trending this week"
    assert upload.channel_id == "C1"
    assert upload.initial_comment == "Here is the chart"


async def test_files_upload_v2_to_missing_channel(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_channel("CGONE", "channel_not_found")
    with pytest.raises(SlackApiError) as exc:
        await client.files_upload_v2(channel="CGONE", content=b"x", filename="a.png")
    assert exc.value.response["error"] == "channel_not_found"
    assert fake.uploads == []


async def test_a_public_channel_the_bot_is_not_in_takes_posts_but_not_files(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    """chat:write.public lets a bot post without joining; sharing a file there answers not_in_channel."""
    fake.add_channel("COUT", member=False)
    assert (await client.chat_postMessage(channel="COUT", text="hi"))["ok"] is True
    with pytest.raises(SlackApiError) as exc:
        await client.files_upload_v2(channel="COUT", content=b"x", filename="a.png")
    assert exc.value.response["error"] == "not_in_channel" and fake.uploads == []
    fake.add_scope("channels:history")
    with pytest.raises(SlackApiError) as exc:
        await client.conversations_history(channel="COUT")
    assert exc.value.response["error"] == "not_in_channel"
    fake.remove_scope("chat:write.public")
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel="COUT", text="hi")
    assert exc.value.response["error"] == "not_in_channel"


async def test_conversations_join_public_private_and_scope(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_channel("COUT", member=False)
    fake.add_channel("GPRIV", private=True)
    joined = await client.conversations_join(channel="COUT")
    assert joined["ok"] is True and "warning" not in joined and fake.channels["COUT"].member
    again = await client.conversations_join(channel="COUT")
    assert again["warning"] == "already_in_channel"
    await client.files_upload_v2(channel="COUT", content=b"x", filename="a.png")  # a member now
    with pytest.raises(SlackApiError) as exc:
        await client.conversations_join(channel="GPRIV")
    assert exc.value.response["error"] == "method_not_supported_for_channel_type"
    fake.remove_scope("channels:join")
    with pytest.raises(SlackApiError) as exc:
        await client.conversations_join(channel="C1")
    assert exc.value.response["error"] == "missing_scope" and exc.value.response["needed"] == "channels:join"


async def test_an_error_in_a_200_answer_with_headers(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.error_next("rate_limited", headers={"Retry-After": "7"})
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel="C1", text="hi")
    assert exc.value.response.status_code == 200 and exc.value.response["error"] == "rate_limited"
    assert exc.value.response.headers["Retry-After"] in ("7", ["7"])
    assert (await client.chat_postMessage(channel="C1", text="hi"))["ok"] is True


async def test_users_info_answers_raw_fields_as_given(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_user("U1", raw={"is_admin": "false", "is_owner": 1})
    user = (await client.users_info(user="U1"))["user"]
    assert user["is_admin"] == "false" and user["is_owner"] == 1


# ---------------------------------------------------------------- response_url


async def test_response_url_allows_five_uses(fake: FakeSlack) -> None:
    url = fake.new_response_url()
    hook = AsyncWebhookClient(url)
    for i in range(5):
        assert (await hook.send(text=f"r{i}")).status_code == 200
    assert (await hook.send(text="sixth")).status_code == 404
    assert [r.body["text"] for r in fake.responses] == [f"r{i}" for i in range(5)]


# ---------------------------------------------------------------- Socket Mode


async def test_socket_mode_slash_command_end_to_end(fake: FakeSlack, client: AsyncWebClient) -> None:
    app = AsyncApp(client=client, signing_secret=SIGNING_SECRET)
    seen: list[dict[str, str]] = []

    @app.command("/trending")
    async def trending(ack, respond, say, command) -> None:
        seen.append(command)
        await ack("Working on it")
        await respond("Top 3 trending models")
        await say("Shared to the channel")

    # The handler uses app.client (base_url = fake) for apps.connections.open.
    handler = AsyncSocketModeHandler(app, app_token="xapp-test")
    try:
        await asyncio.wait_for(handler.connect_async(), 3)
        assert fake.calls_to("apps.connections.open")[0].token == "xapp-test"
        envelope_id = await fake.send_slash_command(
            command="/trending", text="share", user_id="U1", channel_id="C1", team_id="T1"
        )
        t0 = time.monotonic()
        ack = await fake.wait_for_ack(envelope_id, timeout=3)
        assert time.monotonic() - t0 < 3
        assert ack == {"envelope_id": envelope_id, "payload": {"text": "Working on it"}}

        await fake.wait_until(lambda: bool(fake.responses) and bool(fake.posts("C1")), timeout=3)
        assert fake.responses[0].body["text"] == "Top 3 trending models"
        assert fake.posts("C1")[0]["text"] == "Shared to the channel"
        assert seen[0]["text"] == "share"
        assert seen[0]["response_url"].startswith(fake.base_url + "/response/")
        # Bolt calls auth.test once before the first listener runs.
        assert len(fake.calls_to("auth.test")) == 1

        # The SDK pings right after connecting; the fake's autoping answers it.
        for _ in range(20):
            if handler.client.last_ping_pong_time is not None:
                break
            await asyncio.sleep(0.05)
        assert handler.client.last_ping_pong_time is not None
    finally:
        await handler.close_async()


async def test_socket_mode_empty_ack_and_reconnect_on_disconnect(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    app = AsyncApp(client=client, signing_secret=SIGNING_SECRET)

    @app.command("/trending")
    async def trending(ack) -> None:
        await ack()

    handler = AsyncSocketModeHandler(app, app_token="xapp-test")
    try:
        await asyncio.wait_for(handler.connect_async(), 3)
        envelope_id = await fake.send_slash_command(text="")
        assert await fake.wait_for_ack(envelope_id) == {"envelope_id": envelope_id}

        await fake.send_disconnect()
        await fake.wait_until(lambda: fake.socket_connections == 2, timeout=3)
        assert len(fake.calls_to("apps.connections.open")) == 2
        envelope_id = await fake.send_slash_command(text="again")
        assert (await fake.wait_for_ack(envelope_id))["envelope_id"] == envelope_id
    finally:
        await handler.close_async()


async def test_socket_mode_connect_hangs_on_bad_app_token(fake: FakeSlack, client: AsyncWebClient) -> None:
    """Catch: connect_async() retries forever (every ping_interval) when apps.connections.open fails."""
    fake.fail_auth()
    app = AsyncApp(client=client, signing_secret=SIGNING_SECRET)
    handler = AsyncSocketModeHandler(app, app_token="xapp-revoked", ping_interval=0.2)
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(handler.connect_async(), 1.0)
        assert len(fake.calls_to("apps.connections.open")) >= 2
    finally:
        await handler.close_async()


# ---------------------------------------------------------------- HTTP mode signatures


async def test_signed_request_accepted_and_tampered_rejected(fake: FakeSlack) -> None:
    verifier = SignatureVerifier(SIGNING_SECRET)
    body, headers = fake.signed_slash_command_request(SIGNING_SECRET, command="/trending", text="share")
    assert "command=%2Ftrending" in body
    assert verifier.is_valid_request(body, headers)
    assert not verifier.is_valid_request(body.replace("share", "evil!"), headers)

    body, headers = fake.signed_slash_command_request(SIGNING_SECRET, bad_signature=True)
    assert not verifier.is_valid_request(body, headers)
    body, headers = fake.signed_slash_command_request(SIGNING_SECRET, timestamp=int(time.time()) - 600)
    assert not verifier.is_valid_request(body, headers)


async def test_signed_request_through_bolt_http_dispatch(fake: FakeSlack, client: AsyncWebClient) -> None:
    app = AsyncApp(client=client, signing_secret=SIGNING_SECRET, process_before_response=True)

    @app.command("/trending")
    async def trending(ack, respond) -> None:
        await ack("ok!")
        await respond("via response_url")

    body, headers = fake.signed_slash_command_request(SIGNING_SECRET, text="share")
    resp = await app.async_dispatch(AsyncBoltRequest(body=body, headers=dict(headers.items())))
    assert resp.status == 200
    assert fake.responses[0].body["text"] == "via response_url"

    body, headers = fake.signed_slash_command_request(SIGNING_SECRET, bad_signature=True)
    resp = await app.async_dispatch(AsyncBoltRequest(body=body, headers=dict(headers.items())))
    assert resp.status == 401


# ---------------------------------------------------------------- limits mode


async def test_limits_mode_burst_gets_429() -> None:
    async with FakeSlack(limits=SlackLimits(per_channel_per_second=1.0, burst=2)) as fake:
        client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url, retry_handlers=[])
        results = await asyncio.gather(
            *(client.chat_postMessage(channel="C1", text=str(i)) for i in range(5)), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, SlackApiError)]
        assert len(errors) == 3
        assert all(e.response.status_code == 429 and e.response.headers["Retry-After"] == "1" for e in errors)
        assert fake.rejected_429 == 3
        await client.chat_postMessage(channel="C2", text="other channel has its own bucket")


async def test_limits_mode_retry_handler_delivers_all_once() -> None:
    async with FakeSlack(limits=SlackLimits(per_channel_per_second=1.0, burst=3)) as fake:
        client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url)
        client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
        t0 = time.monotonic()
        for i in range(5):
            await client.chat_postMessage(channel="C1", text=f"m{i}")
        elapsed = time.monotonic() - t0
        assert [p["text"] for p in fake.posts("C1")] == [f"m{i}" for i in range(5)]
        assert fake.rejected_429 >= 2
        assert 1.0 <= elapsed < 5.0


async def test_limits_mode_workspace_window() -> None:
    limits = SlackLimits(
        per_channel_per_second=100, burst=100, workspace_per_minute=3, workspace_window_seconds=1.0
    )
    async with FakeSlack(limits=limits) as fake:
        client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url)
        for ch in ("C1", "C2", "C3"):
            await client.chat_postMessage(channel=ch, text="x")
        with pytest.raises(SlackApiError) as exc:
            await client.chat_postMessage(channel="C4", text="x")
        assert exc.value.response.status_code == 429
        assert exc.value.response.headers["Retry-After"] == "1"
        assert fake.rejected_429 == 1


async def test_oauth_distribution_codes_refresh_tokens_and_per_workspace_tokens(fake: FakeSlack) -> None:
    """The authorize page hands out a code once; oauth.v2.access (slack_sdk sends the app's id and secret by Basic
    auth) trades it, and a refresh token once; each workspace's token answers auth.test as that workspace."""
    fake.oauth_app("1.2", "s3cret", redirect_url="http://127.0.0.1:9/back", rotation_expires_in=43200)
    fake.add_workspace("TA")
    fake.add_workspace("TB")
    async with aiohttp.ClientSession() as browser, browser.get(
            f"{fake.base_url}/oauth/v2/authorize", params={"client_id": "1.2", "scope": "chat:write",
                                                           "state": "st", "team": "TB"}, allow_redirects=False) as page:
        assert page.status == 302
        location = page.headers["Location"]
    assert location.startswith("http://127.0.0.1:9/back?code=code-TB-") and location.endswith("&state=st")
    code = location.split("code=")[1].split("&")[0]

    client = AsyncWebClient(base_url=fake.api_url)
    with pytest.raises(SlackApiError, match="bad_client_secret"):
        await client.oauth_v2_access(client_id="1.2", client_secret="wrong", code=code)
    granted = await client.oauth_v2_access(client_id="1.2", client_secret="s3cret", code=code)
    assert granted["team"] == {"id": "TB", "name": "Workspace TB"} and granted["token_type"] == "bot"
    assert granted["access_token"].startswith("xoxe.xoxb-1-TB-") and granted["expires_in"] == 43200
    with pytest.raises(SlackApiError, match="invalid_code"):
        await client.oauth_v2_access(client_id="1.2", client_secret="s3cret", code=code)  # a code is good once

    who = await AsyncWebClient(token=granted["access_token"], base_url=fake.api_url).auth_test()
    assert who["team_id"] == "TB" and who["bot_id"] == fake.workspaces["TB"].bot_id
    with pytest.raises(SlackApiError, match="invalid_auth"):
        await AsyncWebClient(token="xoxb-made-up", base_url=fake.api_url).auth_test()

    refreshed = await client.oauth_v2_access(client_id="1.2", client_secret="s3cret", grant_type="refresh_token",
                                             refresh_token=granted["refresh_token"])
    assert refreshed["access_token"] != granted["access_token"] and refreshed["refresh_token"]
    with pytest.raises(SlackApiError, match="invalid_refresh_token"):
        await client.oauth_v2_access(client_id="1.2", client_secret="s3cret", grant_type="refresh_token",
                                     refresh_token=granted["refresh_token"])

    fake.uninstall("TB")
    with pytest.raises(SlackApiError, match="token_revoked"):
        await AsyncWebClient(token=refreshed["access_token"], base_url=fake.api_url).auth_test()
