"""A small fake Slack for tests: Web API, file uploads, response_url and Socket Mode.

Why a fake and not mocks: the bot talks to Slack through the *real* ``slack_sdk`` /
``slack_bolt`` clients. Mocking their methods would hide exactly the things that go
wrong in production (wire format, retry handlers, 429 handling, the 3-step upload,
Socket Mode acks). So the tests point the real libraries at this aiohttp server on
127.0.0.1 and assert on what arrived.

Usage::

    async with FakeSlack() as fake:
        client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url)
        await client.chat_postMessage(channel="C1", text="hi")
        assert fake.posts("C1")[0]["text"] == "hi"

Wire-format facts this fake relies on (checked against slack_sdk 3.48.0 /
slack_bolt 1.30.0 sources):

* ``AsyncWebClient`` joins ``base_url`` and the method with ``urljoin``, so
  ``base_url`` must end in ``/api/`` (``fake.api_url`` does).
* Methods send their arguments in different places: ``chat.postMessage`` as a JSON
  body, ``auth.test`` / ``files.*External`` / ``apps.connections.open`` as *query
  string* parameters of a POST, ``users.info`` / ``conversations.info`` as a GET
  query. The fake merges query, form and JSON bodies.
* The token travels in ``Authorization: Bearer ...`` (the SDK moves a ``token``
  parameter into the header); a form ``token`` field is accepted too.
* The upload URL answer must be ``text/plain`` (``OK - <n>``): the SDK reads
  ``text/plain`` as text and anything else as JSON.
* Error answers must be JSON even for 5xx: a ``text/plain`` error body reaches
  ``AsyncSlackResponse.validate()`` as a ``str`` and crashes it with AttributeError.
* ``AsyncRateLimitErrorRetryHandler`` sleeps ``int(Retry-After) + random()``
  seconds, so ``Retry-After`` must be an integer string. Its default
  ``max_retry_count`` is 1: a second 429 for the same call raises.
* slack_sdk reads ``HTTP(S)_PROXY`` itself and ignores ``NO_PROXY``; tests should
  unset the proxy variables or 127.0.0.1 traffic goes to the proxy.

Socket Mode facts:

* ``AsyncSocketModeHandler(app, app_token=...)`` calls ``apps.connections.open``
  through ``app.client``, so an ``AsyncApp(client=AsyncWebClient(base_url=fake.api_url))``
  is enough to reach the fake. Build the handler inside a running loop (its
  constructor creates an aiohttp session and a task).
* ``connect_async()`` never returns if ``apps.connections.open`` fails: it logs and
  retries every ``ping_interval``. Wrap it in ``asyncio.wait_for``.
* Close the handler (``close_async()``) *before* leaving ``async with FakeSlack()``;
  otherwise the client sees the server's close frame and starts reconnecting.
* The SDK pings (``sdk-ping-pong:<t>``) with ``autoping=False`` on its side; the
  fake's websocket has ``autoping=True`` so those pings get pongs.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import math
import os
import socket
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import WSMsgType, web

JSON = dict[str, Any]

#: Scopes a bot token needs per method (any one of them); a missing one answers ``missing_scope`` + ``needed``.
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "chat.postMessage": ("chat:write",),
    "conversations.history": ("channels:history", "groups:history"),
    "conversations.replies": ("channels:history", "groups:history"),
    "conversations.join": ("channels:join",),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
}

#: Errors ``fail_channel`` knows how Slack spells (any string is accepted).
CHANNEL_ERRORS = ("channel_not_found", "not_in_channel", "is_archived", "restricted_action",
                  "restricted_action_read_only_channel", "restricted_action_thread_only_channel")


@dataclass
class FakeChannel:
    """A conversation whose membership matters (``add_channel``); channels never added are public ones the bot is in.

    As on Slack: a bot token with ``chat:write.public`` may post to a public channel it is not a
    member of, but sharing a file there (``files.completeUploadExternal``) answers ``not_in_channel``
    and so does ``conversations.history``. A private channel it is not in answers
    ``channel_not_found`` (it cannot see it), and ``conversations.join`` refuses private channels with
    ``method_not_supported_for_channel_type``: only an invitation gets the bot in.
    """

    id: str
    private: bool = False
    member: bool = True


@dataclass(frozen=True)
class SlackLimits:
    """Rate limits the fake enforces on posting methods (off unless passed to FakeSlack).

    Slack documents ``chat.postMessage`` as "about 1 message per second per channel,
    short bursts allowed" plus a workspace-wide limit. The fake models the channel
    limit as a token bucket (``burst`` tokens, refilled at ``per_channel_per_second``)
    and the workspace limit as a sliding window of ``workspace_window_seconds``
    (60 s by default; shrink it to keep benchmarks short). Rejected requests do not
    consume tokens. Rejections answer HTTP 429, ``Retry-After: <integer seconds>``
    (rounded up, at least 1) and ``{"ok": false, "error": "ratelimited"}``.
    """

    per_channel_per_second: float = 1.0
    burst: int = 3
    workspace_per_minute: int | None = None
    workspace_window_seconds: float = 60.0
    methods: tuple[str, ...] = ("chat.postMessage",)


@dataclass
class Call:
    """One request to ``/api/<method>`` as the fake saw it (recorded before any fault)."""

    method: str
    params: JSON
    headers: dict[str, str]
    http_verb: str
    token: str | None
    status: int = 200
    response: JSON = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    team: str | None = None  # the workspace of the token used, for tokens granted through OAuth


@dataclass
class FakeWorkspace:
    """A workspace that can install the app through OAuth (``add_workspace``), with its own faults."""

    team_id: str
    name: str
    bot_user_id: str
    bot_id: str
    installer: str = "UINSTALLER"
    installed: bool = False
    error: str | None = None  # every call with its token answers this (invalid_auth, missing_scope, ...)
    rate_limits: list[int] = field(default_factory=list)  # Retry-After of its next chat.postMessage 429s


@dataclass
class Grant:
    """A token the fake handed out: whose, which kind, until when (epoch seconds; None: never expires)."""

    team_id: str
    kind: str  # "bot" or "refresh"
    expires_at: float | None = None
    revoked: bool = False


@dataclass
class Upload:
    """A file that went through getUploadURLExternal → upload URL → completeUploadExternal."""

    file_id: str
    filename: str
    length: int
    alt_txt: str | None = None
    snippet_type: str | None = None
    content: bytes | None = None
    title: str | None = None
    channel_id: str | None = None
    channels: list[str] = field(default_factory=list)
    initial_comment: str | None = None
    thread_ts: str | None = None
    completed: bool = False


@dataclass
class ResponseUrlPost:
    """A JSON body the app POSTed to a ``response_url`` served by the fake."""

    response_id: str
    body: JSON
    headers: dict[str, str]


@dataclass
class FakeUser:
    """What ``users.info`` answers for one user; ``is_admin``/``is_owner`` drive permission checks."""

    id: str
    name: str = "someone"
    real_name: str = "Some One"
    is_admin: bool = False
    is_owner: bool = False
    is_primary_owner: bool = False
    is_bot: bool = False
    deleted: bool = False
    tz: str = "Europe/Berlin"
    raw: JSON = field(default_factory=dict)  # fields answered as given, whatever their type (``is_admin: "false"``)

    def to_api(self, team_id: str) -> JSON:
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name,
            "tz": self.tz,
            "is_admin": self.is_admin,
            "is_owner": self.is_owner,
            "is_primary_owner": self.is_primary_owner,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "profile": {"real_name": self.real_name, "display_name": self.name},
            **self.raw,
        }


def sign_slack_request(signing_secret: str, body: str, timestamp: str) -> str:
    """Slack's v0 signature: ``v0=`` + hex HMAC-SHA256(secret, ``v0:{ts}:{body}``)."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


class _TokenBucket:
    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.capacity = float(max(burst, 1))
        self.tokens = self.capacity
        self.stamp = now

    def try_take(self, now: float) -> float:
        """Take a token and return 0, or return the seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class FakeSlack:
    """Fake Slack on 127.0.0.1 (random port) for the real slack_sdk / slack_bolt clients.

    Serves ``/api/<method>`` (Web API), ``/upload/<file_id>`` (upload URLs handed out by
    ``files.getUploadURLExternal``), ``/response/<id>`` (``response_url`` targets) and
    ``/socket`` (Socket Mode websocket). Everything else is a 404, so a library probing
    unexpected paths fails loudly instead of getting a plausible answer.
    """

    def __init__(
        self,
        *,
        limits: SlackLimits | None = None,
        team_id: str = "T0FAKE",
        team: str = "Fake Workspace",
        team_domain: str = "fakeworkspace",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        app_id: str = "A0FAKEAPP",
        oauth_scopes: str = "chat:write,chat:write.public,commands,files:write,users:read,channels:read,channels:join",
        users: Mapping[str, FakeUser] | None = None,
    ) -> None:
        self.limits = limits
        self.team_id = team_id
        self.team = team
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.oauth_scopes = oauth_scopes
        self.users: dict[str, FakeUser] = dict(users or {})
        self.channel_names: dict[str, str] = {}
        self.channels: dict[str, FakeChannel] = {}
        self.deleted: set[tuple[str, str]] = set()  # (channel, ts) of messages deleted since they were posted

        # OAuth distribution ("Add to Slack"): off until ``oauth_app``.
        self.client_id: str | None = None
        self.client_secret: str | None = None
        self.redirect_url: str | None = None  # the app's configured Redirect URL, used when a request names none
        self.rotation_expires_in: int | None = None  # token rotation on: tokens expire after this many seconds
        self.workspaces: dict[str, FakeWorkspace] = {}
        self.grants: dict[str, Grant] = {}
        self.codes: dict[str, tuple[str, str | None]] = {}  # code → (team, redirect_uri it was issued for)
        self.authorize_requests: list[JSON] = []
        self.installing: str | None = None  # the workspace the installer picks when the URL names none

        # Recordings.
        self.calls: list[Call] = []
        self.ephemerals: list[JSON] = []
        self.responses: list[ResponseUrlPost] = []
        self.acks: list[JSON] = []
        self.socket_messages: list[JSON] = []
        self.rejected_429 = 0
        self.socket_connections = 0

        # Fault switches.
        self._channel_faults: dict[str, str] = {}
        self._auth_error: str | None = None
        self._rate_limits: list[tuple[str | None, int]] = []  # (method or None=any, retry_after)
        self._server_errors: list[tuple[str | None, int]] = []  # (method or None=any, status)
        self._body_errors: list[tuple[str | None, str, dict[str, str]]] = []  # (method, error, headers): HTTP 200
        self._drops: list[tuple[str | None, bool]] = []  # (method or None=any, after the call took effect)
        self._delay = 0.0
        self._method_delays: dict[str, float] = {}

        # Internal state.
        self._files: dict[str, Upload] = {}
        self._response_uses: dict[str, int] = {}
        self._ts_counter = itertools.count(1)
        self._id_counter = itertools.count(1)
        self._buckets: dict[str, _TokenBucket] = {}
        self._workspace_posts: deque[float] = deque()
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_connected = asyncio.Event()
        self._ack_waiters: dict[str, asyncio.Future[JSON]] = {}
        self._changed = asyncio.Condition()

        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Bind a fresh socket on 127.0.0.1:0 (we own the socket, so the port is known)."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._route)
        # A short shutdown_timeout: aiohttp would otherwise wait up to 60 s for open
        # websocket handlers when the runner is cleaned up.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock)
        await site.start()

    async def close(self) -> None:
        """Close websockets first (GOING_AWAY), then stop the server."""
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"server shutdown")
        for fut in self._ack_waiters.values():
            if not fut.done():
                fut.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeSlack is not started; use 'async with FakeSlack() as fake'")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """For ``AsyncWebClient(base_url=...)``; ends in ``/`` because the SDK uses urljoin."""
        return f"{self.base_url}/api/"

    @property
    def socket_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/socket"

    def new_response_url(self) -> str:
        """A fresh ``response_url`` on this fake (what Slack puts in slash command payloads)."""
        rid = f"R{next(self._id_counter):06d}"
        self._response_uses[rid] = 0
        return f"{self.base_url}/response/{rid}"

    # ------------------------------------------------------------------ configuration & faults

    def add_user(self, user_id: str, **kwargs: Any) -> FakeUser:
        """Register a user for ``users.info`` (unknown users answer ``user_not_found``)."""
        user = FakeUser(id=user_id, **kwargs)
        self.users[user_id] = user
        return user

    def add_channel(self, channel: str, *, private: bool = False, member: bool = True) -> FakeChannel:
        """Declare a channel's kind and whether the bot is in it (see ``FakeChannel``)."""
        found = self.channels[channel] = FakeChannel(channel, private=private, member=member)
        return found

    def fail_channel(self, channel: str, error: str = "channel_not_found") -> None:
        """Make posts/uploads to ``channel`` answer ``{"ok": false, "error": error}`` (HTTP 200)."""
        self._channel_faults[channel] = error

    def heal_channel(self, channel: str) -> None:
        self._channel_faults.pop(channel, None)

    def fail_auth(self, error: str = "invalid_auth") -> None:
        """Every Web API call answers ``error`` (as for a revoked token) until ``heal_auth``."""
        self._auth_error = error

    def heal_auth(self) -> None:
        self._auth_error = None

    def rate_limit_next(
        self, method: str | None = "chat.postMessage", retry_after: int = 1, count: int = 1
    ) -> None:
        """The next ``count`` calls of ``method`` (None: any method) answer 429 + ``Retry-After``."""
        self._rate_limits.extend([(method, int(retry_after))] * count)

    def error_next(self, error: str, method: str | None = "chat.postMessage", count: int = 1,
                   headers: Mapping[str, str] | None = None) -> None:
        """The next ``count`` calls of ``method`` (None: any) answer HTTP 200 ``{"ok": false, "error": error}``.

        Slack documents some errors in the body of a 200 answer, e.g. ``rate_limited`` for
        ``chat.postMessage``; ``headers`` (such as ``Retry-After``) go with it.
        """
        self._body_errors.extend([(method, error, dict(headers or {}))] * count)

    def server_error_next(self, count: int = 1, status: int = 500, method: str | None = None) -> None:
        """The next ``count`` Web API calls (of ``method``, None: any) answer ``status`` (500/503) with a JSON body."""
        self._server_errors.extend([(method, status)] * count)

    def delay(self, seconds: float, method: str | None = None) -> None:
        """Delay Web API answers (of ``method``; None: all) by ``seconds`` (0 to stop): round trips, or answers
        past a timeout.

        The call takes effect before the wait, as on a slow Slack: a post whose
        answer never arrives in time may still have been posted.
        """
        if method is None:
            self._delay, self._method_delays = seconds, {}
        else:
            self._method_delays[method] = seconds

    def drop_next(self, method: str | None = "chat.postMessage", count: int = 1, *, after_effect: bool = True) -> None:
        """Close the connection instead of answering the next ``count`` calls of ``method`` (None: any).

        With ``after_effect`` the call takes effect first (a post is posted), as
        when a connection dies on the way back; without, it is dropped unread.
        """
        self._drops.extend([(method, after_effect)] * count)

    def remove_scope(self, scope: str) -> None:
        """Take ``scope`` from the bot token: methods needing it answer ``missing_scope`` with ``needed``."""
        self.oauth_scopes = ",".join(s for s in self.oauth_scopes.split(",") if s and s != scope)

    def add_scope(self, scope: str) -> None:
        if scope not in self.oauth_scopes.split(","):
            self.oauth_scopes = ",".join(s for s in [*self.oauth_scopes.split(","), scope] if s)

    # ------------------------------------------------------------------ OAuth distribution

    def oauth_app(self, client_id: str, client_secret: str, *, redirect_url: str | None = None,
                  rotation_expires_in: int | None = None) -> None:
        """Distribute the app: ``/oauth/v2/authorize`` and ``oauth.v2.access`` work, and from now on only
        tokens the fake granted (or ``xapp-`` app tokens) are accepted, each answering as its own workspace."""
        self.client_id, self.client_secret = client_id, client_secret
        self.redirect_url = redirect_url
        self.rotation_expires_in = rotation_expires_in

    def add_workspace(self, team_id: str, name: str | None = None) -> FakeWorkspace:
        n = len(self.workspaces) + 1
        found = self.workspaces[team_id] = FakeWorkspace(team_id, name or f"Workspace {team_id}",
                                                         bot_user_id=f"UBOT{n}", bot_id=f"BBOT{n}")
        return found

    def uninstall(self, team_id: str) -> None:
        """The workspace removes the app: every token it granted is revoked (Slack then sends app_uninstalled)."""
        self.workspaces[team_id].installed = False
        for grant in self.grants.values():
            if grant.team_id == team_id:
                grant.revoked = True

    def expire_tokens(self, team_id: str) -> None:
        """The workspace's bot tokens expire now (token rotation)."""
        for grant in self.grants.values():
            if grant.team_id == team_id and grant.kind == "bot":
                grant.expires_at = time.time() - 1

    def tokens_of(self, team_id: str, kind: str = "bot") -> list[str]:
        return [token for token, grant in self.grants.items() if grant.team_id == team_id and grant.kind == kind]

    def posts_by_team(self) -> dict[str, list[JSON]]:
        """Successful posts per workspace (by the token that made them), each with the ``token`` it used."""
        out: dict[str, list[JSON]] = {}
        for c in self.calls:
            if c.method == "chat.postMessage" and c.response.get("ok") and c.team is not None:
                out.setdefault(c.team, []).append({**_decode_json_fields(c.params), "token": c.token})
        return out

    def grant_bot_token(self, team_id: str) -> str:
        """A bot token of an installed workspace, as if it had gone through the OAuth flow (for a bench that
        installs a thousand workspaces at once)."""
        return self._grant(team_id, "bot", "xoxb")

    def _grant(self, team_id: str, kind: str, prefix: str) -> str:
        token = f"{prefix}-{team_id}-{next(self._id_counter)}-{hashlib.sha256(os.urandom(8)).hexdigest()[:12]}"
        expires = time.time() + self.rotation_expires_in if self.rotation_expires_in and kind == "bot" else None
        self.grants[token] = Grant(team_id, kind, expires)
        return token

    def _bot_grant(self, workspace: FakeWorkspace) -> JSON:
        """What oauth.v2.access answers for a bot install (or refresh), in Slack's shape."""
        rotating = self.rotation_expires_in is not None
        answer: JSON = {
            "ok": True, "app_id": self.app_id, "token_type": "bot", "scope": self.oauth_scopes,
            "access_token": self._grant(workspace.team_id, "bot", "xoxe.xoxb-1" if rotating else "xoxb"),
            "bot_user_id": workspace.bot_user_id,
            "team": {"id": workspace.team_id, "name": workspace.name},
            "enterprise": None, "is_enterprise_install": False,
        }
        if rotating:
            answer["expires_in"] = self.rotation_expires_in
            answer["refresh_token"] = self._grant(workspace.team_id, "refresh", "xoxe-1")
        return answer

    async def _authorize(self, request: web.Request) -> web.Response:
        """Slack's authorize page, where the installer says yes at once: back to the redirect URL with a code."""
        query = dict(request.query)
        self.authorize_requests.append(query)
        if self.client_id is None or query.get("client_id") != self.client_id:
            return web.Response(status=400, text="invalid_client_id")
        redirect = query.get("redirect_uri") or self.redirect_url
        team = query.get("team") or self.installing
        if not redirect or team not in self.workspaces:
            return web.Response(status=400, text="bad_redirect_uri" if not redirect else "no workspace chosen")
        code = f"code-{team}-{next(self._id_counter)}"
        self.codes[code] = (str(team), query.get("redirect_uri"))
        back = {"code": code, **({"state": query["state"]} if "state" in query else {})}
        raise web.HTTPFound(f"{redirect}{'&' if '?' in redirect else '?'}{urllib.parse.urlencode(back)}")

    def _oauth_access(self, call: Call) -> JSON:
        """oauth.v2.access: a code (once) for a workspace's bot token, or a refresh token (once) for a new pair."""
        params = call.params
        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        auth = call.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        if self.client_id is None or client_id != self.client_id:
            return {"ok": False, "error": "invalid_client_id"}
        if client_secret != self.client_secret:
            return {"ok": False, "error": "bad_client_secret"}
        if params.get("grant_type") == "refresh_token":
            grant = self.grants.get(str(params.get("refresh_token")))
            if grant is None or grant.kind != "refresh" or grant.revoked:
                return {"ok": False, "error": "invalid_refresh_token"}
            grant.revoked = True  # a refresh token is good once: the answer carries the next one
            return self._bot_grant(self.workspaces[grant.team_id])
        found = self.codes.pop(str(params.get("code")), None)
        if found is None:
            return {"ok": False, "error": "invalid_code"}
        team, redirect = found
        if redirect is not None and params.get("redirect_uri") != redirect:
            return {"ok": False, "error": "bad_redirect_uri"}
        workspace = self.workspaces[team]
        workspace.installed = True
        return {**self._bot_grant(workspace), "authed_user": {"id": workspace.installer}}

    def signed_event_request(self, signing_secret: str, team_id: str, event: JSON) -> tuple[str, dict[str, str]]:
        """Body + headers of an Events API callback (``app_uninstalled``, ``tokens_revoked``) in HTTP mode."""
        n = next(self._id_counter)
        body = json.dumps({
            "token": "fake-verification-token", "team_id": team_id, "api_app_id": self.app_id,
            "event": {"event_ts": f"{int(time.time())}.{n:06d}", **event}, "type": "event_callback",
            "event_id": f"Ev{n:08d}", "event_time": int(time.time()),
            "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": "UBOT",
                                "is_bot": True, "is_enterprise_install": False}],
        })
        ts = str(int(time.time()))
        return body, {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts,
                      "X-Slack-Signature": sign_slack_request(signing_secret, body, ts)}

    # ------------------------------------------------------------------ recordings

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def posts(self, channel: str | None = None) -> list[JSON]:
        """Successful ``chat.postMessage`` params in arrival order (blocks/attachments decoded)."""
        out = []
        for c in self.calls:
            if c.method != "chat.postMessage" or not c.response.get("ok"):
                continue
            if channel is None or c.params.get("channel") == channel:
                out.append(_decode_json_fields(c.params))
        return out

    @property
    def uploads(self) -> list[Upload]:
        """Completed uploads (shared via ``files.completeUploadExternal``), in order."""
        return [u for u in self._files.values() if u.completed]

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 3.0) -> None:  # noqa: ASYNC109
        """Wait until ``predicate()`` holds; re-checked whenever the fake records something."""

        async def _wait() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)

        await asyncio.wait_for(_wait(), timeout)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ------------------------------------------------------------------ socket mode

    async def send_envelope(
        self,
        type_: str,
        payload: JSON,
        *,
        accepts_response_payload: bool = False,
        timeout: float = 3.0,  # noqa: ASYNC109
    ) -> str:
        """Send a Socket Mode envelope to the newest connection; returns its ``envelope_id``."""
        await asyncio.wait_for(self._socket_connected.wait(), timeout)
        ws = next((w for w in reversed(self._sockets) if not w.closed), None)
        if ws is None:
            raise RuntimeError("no open Socket Mode connection")
        envelope_id = f"env-{next(self._id_counter):06d}"
        self._ack_waiters[envelope_id] = asyncio.get_running_loop().create_future()
        envelope: JSON = {
            "envelope_id": envelope_id,
            "type": type_,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        await ws.send_str(json.dumps(envelope))
        return envelope_id

    def slash_command_payload(
        self,
        *,
        command: str = "/trending",
        text: str = "",
        user_id: str = "U1",
        user_name: str = "alice",
        channel_id: str = "C1",
        channel_name: str | None = None,
        team_id: str | None = None,
        response_url: str | None = None,
        trigger_id: str | None = None,
        **extra: str,
    ) -> dict[str, str]:
        """The form fields of a real slash command (all strings, as Slack sends them)."""
        n = next(self._id_counter)
        fields = {
            "token": "fake-verification-token",
            "team_id": team_id or self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name or self.channel_names.get(channel_id, "general"),
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": self.app_id,
            "is_enterprise_install": "false",
            "response_url": response_url or self.new_response_url(),
            "trigger_id": trigger_id or f"{n}.{n}.fake{n:08x}",
        }
        fields.update(extra)
        return fields

    async def send_slash_command(self, *, command: str = "/trending", text: str = "", **kwargs: Any) -> str:
        """Deliver a ``slash_commands`` envelope over Socket Mode; returns the envelope id."""
        timeout = float(kwargs.pop("timeout", 3.0))
        payload = self.slash_command_payload(command=command, text=text, **kwargs)
        return await self.send_envelope(
            "slash_commands", dict(payload), accepts_response_payload=True, timeout=timeout
        )

    async def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """What Slack sends before it rotates a connection; the SDK reconnects."""
        for ws in self._sockets:
            if not ws.closed:
                await ws.send_str(
                    json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}})
                )

    async def wait_for_ack(self, envelope_id: str, timeout: float = 3.0) -> JSON:  # noqa: ASYNC109
        """The ack the client sent for ``envelope_id`` (``{"envelope_id", "payload"?}``)."""
        fut = self._ack_waiters.get(envelope_id)
        if fut is None:
            raise KeyError(envelope_id)
        return await asyncio.wait_for(asyncio.shield(fut), timeout)

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        # autoping=True: answer the SDK's "sdk-ping-pong:<t>" pings with pongs carrying the same
        # data, which is what keeps SocketModeClient from declaring the session stale.
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        self.socket_connections += 1
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": len([w for w in self._sockets if not w.closed]),
                    "debug_info": {
                        "host": "applink-fake",
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": self.app_id},
                }
            )
        )
        self._socket_connected.set()
        await self._notify()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    continue
                self.socket_messages.append(data)
                envelope_id = data.get("envelope_id") if isinstance(data, dict) else None
                if envelope_id:
                    self.acks.append(data)
                    fut = self._ack_waiters.get(envelope_id)
                    if fut is not None and not fut.done():
                        fut.set_result(data)
                await self._notify()
        finally:
            self._sockets.remove(ws)
            if not any(not w.closed for w in self._sockets):
                self._socket_connected.clear()
            await self._notify()
        return ws

    # ------------------------------------------------------------------ HTTP mode helper

    def signed_slash_command_request(
        self,
        signing_secret: str,
        *,
        timestamp: int | str | None = None,
        bad_signature: bool = False,
        **fields: Any,
    ) -> tuple[str, dict[str, str]]:
        """Body + headers of a slash command POST as Slack would send it in HTTP mode.

        ``timestamp`` defaults to now; pass an old one (>5 min) for a stale request.
        ``bad_signature=True`` signs with a wrong secret. ``fields`` go to
        ``slash_command_payload``.
        """
        payload = self.slash_command_payload(**fields)
        body = urllib.parse.urlencode(payload)
        ts = str(int(time.time()) if timestamp is None else timestamp)
        secret = signing_secret + "-tampered" if bad_signature else signing_secret
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sign_slack_request(secret, body, ts),
        }
        return body, headers

    # ------------------------------------------------------------------ HTTP routing

    async def _route(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/api/") and len(path) > len("/api/"):
            return await self._api(request, path[len("/api/") :])
        if path.startswith("/upload/") and request.method == "POST":
            return await self._upload(request, path[len("/upload/") :])
        if path.startswith("/response/") and request.method == "POST":
            return await self._response_url(request, path[len("/response/") :])
        if path == "/socket":
            return await self._socket(request)
        if path == "/oauth/v2/authorize" and request.method == "GET":
            return await self._authorize(request)
        return web.Response(status=404, text="not found")

    async def _read_params(self, request: web.Request) -> JSON:
        params: JSON = dict(request.query)
        if request.method != "POST" or not request.can_read_body:
            return params
        ctype = request.content_type
        if ctype == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for k, v in form.items():
                params[k] = v.file.read() if isinstance(v, web.FileField) else v
        return params

    def _json(self, body: JSON, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
        return web.json_response(body, status=status, headers=dict(headers or {}))

    def _take_drop(self, method: str) -> bool | None:
        """None: answer; else drop the connection (True: after the call took effect)."""
        for i, (m, after_effect) in enumerate(self._drops):
            if m is None or m == method:
                del self._drops[i]
                return after_effect
        return None

    async def _api(self, request: web.Request, method: str) -> web.StreamResponse:
        drop = self._take_drop(method)
        if drop is False:
            return await self._drop(request)
        params = await self._read_params(request)
        auth = request.headers.get("Authorization", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
        if token is None and isinstance(params.get("token"), str):
            token = params["token"]
        call = Call(
            method=method, params=params, headers=dict(request.headers), http_verb=request.method, token=token
        )
        self.calls.append(call)
        try:
            status, body, headers = await self._api_answer(call)
        except Exception as exc:  # a bug in the fake should show up as an answer, not a hang
            status, body, headers = (
                500,
                {"ok": False, "error": "fake_internal_error", "detail": repr(exc)},
                {},
            )
        call.status, call.response = status, body
        await self._notify()
        if drop:
            return await self._drop(request)
        if delay := self._method_delays.get(method, self._delay):
            await asyncio.sleep(delay)
        return self._json(body, status, headers)

    async def _drop(self, request: web.Request) -> web.StreamResponse:
        """Close the TCP connection without an answer (the client sees a disconnect)."""
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=204)  # never reaches the client: the connection is gone

    async def _api_answer(self, call: Call) -> tuple[int, JSON, dict[str, str]]:
        method, params, token = call.method, call.params, call.token
        if method == "oauth.v2.access":
            return 200, self._oauth_access(call), {}
        handler = self._handlers().get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if self.client_id is not None and not token.startswith("xapp-"):
            refused = self._check_grant(call)
            if refused is not None:
                return refused
        if self._auth_error is not None:
            return 200, {"ok": False, "error": self._auth_error}, {}
        app_level = method.startswith("apps.connections.")
        if app_level != token.startswith("xapp-"):
            return 200, {"ok": False, "error": "not_allowed_token_type"}, {}

        for i, (m, retry_after) in enumerate(self._rate_limits):
            if m is None or m == method:
                del self._rate_limits[i]
                return self._ratelimited(retry_after)
        for i, (m, error, headers) in enumerate(self._body_errors):
            if m is None or m == method:
                del self._body_errors[i]
                return 200, {"ok": False, "error": error}, headers
        for i, (m, status) in enumerate(self._server_errors):
            if m is None or m == method:
                del self._server_errors[i]
                return (
                    status,
                    {"ok": False, "error": "internal_error" if status == 500 else "service_unavailable"},
                    {},
                )
        needed = METHOD_SCOPES.get(method)
        if needed is not None and not any(s in self.oauth_scopes.split(",") for s in needed):
            return 200, {"ok": False, "error": "missing_scope", "needed": needed[0],
                         "provided": self.oauth_scopes}, {}
        if self.limits is not None and method in self.limits.methods:
            wait = self._check_limits(str(params.get("channel", "")))
            if wait > 0:
                return self._ratelimited(max(1, math.ceil(wait)))
        body = self._auth_test_of(call) if method == "auth.test" else handler(params)
        return 200, body, ({"x-oauth-scopes": self.oauth_scopes} if method == "auth.test" else {})

    def _check_grant(self, call: Call) -> tuple[int, JSON, dict[str, str]] | None:
        """A distributed app's token: one the fake granted, live, of a workspace without a fault switched on."""
        grant = self.grants.get(str(call.token))
        if grant is None or grant.kind != "bot":
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        call.team = grant.team_id
        if grant.revoked:
            return 200, {"ok": False, "error": "token_revoked"}, {}
        if grant.expires_at is not None and grant.expires_at <= time.time():
            return 200, {"ok": False, "error": "token_expired"}, {}
        workspace = self.workspaces[grant.team_id]
        if workspace.error is not None:
            extra = {"needed": "chat:write", "provided": ""} if workspace.error == "missing_scope" else {}
            return 200, {"ok": False, "error": workspace.error, **extra}, {}
        if call.method == "chat.postMessage" and workspace.rate_limits:
            return self._ratelimited(workspace.rate_limits.pop(0))
        return None

    def _ratelimited(self, retry_after: int) -> tuple[int, JSON, dict[str, str]]:
        self.rejected_429 += 1
        return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}

    def _check_limits(self, channel: str) -> float:
        """0 if the post may go through (and count it), else seconds until it could."""
        assert self.limits is not None
        now = time.monotonic()
        lim = self.limits
        if lim.workspace_per_minute is not None:
            window = self._workspace_posts
            while window and window[0] <= now - lim.workspace_window_seconds:
                window.popleft()
            if len(window) >= lim.workspace_per_minute:
                return window[0] + lim.workspace_window_seconds - now
        bucket = self._buckets.get(channel)
        if bucket is None:
            bucket = self._buckets[channel] = _TokenBucket(lim.per_channel_per_second, lim.burst, now)
        wait = bucket.try_take(now)
        if wait > 0:
            return wait
        if lim.workspace_per_minute is not None:
            self._workspace_posts.append(now)
        return 0.0

    # ------------------------------------------------------------------ Web API methods

    def _handlers(self) -> dict[str, Callable[[JSON], JSON]]:
        return {
            "auth.test": self._single_auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.join": self._conversations_join,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "apps.connections.open": self._apps_connections_open,
        }

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts_counter):06d}"

    def _auth_test_of(self, call: Call) -> JSON:
        """auth.test answers as the token's own workspace (a granted token), else as the single fake workspace."""
        workspace = self.workspaces.get(call.team or "")
        if workspace is None:
            return self._single_auth_test()
        return {"ok": True, "url": f"https://{workspace.team_id.lower()}.slack.com/", "team": workspace.name,
                "user": "trendwatch", "team_id": workspace.team_id, "user_id": workspace.bot_user_id,
                "bot_id": workspace.bot_id, "is_enterprise_install": False}

    def _single_auth_test(self, params: JSON | None = None) -> JSON:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team,
            "user": "trendwatch",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _channel_error(self, channel: Any) -> str | None:
        if not channel:
            return "channel_not_found"
        return self._channel_faults.get(str(channel))

    def _membership_error(self, channel: Any) -> str | None:
        """Why a bot that is not in ``channel`` cannot use it (None: it is in, or it is not known to the fake)."""
        known = self.channels.get(str(channel))
        if known is None or known.member:
            return None
        return "channel_not_found" if known.private else "not_in_channel"

    def _chat_post_message(self, params: JSON) -> JSON:
        channel = params.get("channel")
        error = self._channel_error(channel)
        if error:
            return {"ok": False, "error": error}
        outside = self._membership_error(channel)
        if outside == "channel_not_found" or (outside and "chat:write.public" not in self.oauth_scopes.split(",")):
            return {"ok": False, "error": outside}
        if not any(params.get(k) for k in ("text", "blocks", "attachments")):
            return {"ok": False, "error": "no_text"}
        decoded = _decode_json_fields(params)
        if decoded.get("thread_ts") and not self._is_message(str(channel), str(decoded["thread_ts"])):
            return {"ok": False, "error": "thread_not_found"}  # the parent was deleted (or never was)
        ts = self._next_ts()
        message: JSON = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "text": decoded.get("text", ""),
            "ts": ts,
            "team": self.team_id,
        }
        for k in ("blocks", "attachments", "thread_ts", "metadata"):
            if k in decoded:
                message[k] = decoded[k]
        if message.get("thread_ts"):
            # A reply: Slack answers its `thread_ts`; one sent with `reply_broadcast` is also shown in the
            # channel, as a message of subtype `thread_broadcast` (the message event reference).
            message["thread_ts"] = str(message["thread_ts"])
            if _truthy(decoded.get("reply_broadcast")):
                message["subtype"] = "thread_broadcast"
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _chat_post_ephemeral(self, params: JSON) -> JSON:
        error = self._channel_error(params.get("channel"))
        if error:
            return {"ok": False, "error": error}
        if not params.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        if not any(params.get(k) for k in ("text", "blocks", "attachments")):
            return {"ok": False, "error": "no_text"}
        self.ephemerals.append(_decode_json_fields(params))
        return {"ok": True, "message_ts": self._next_ts()}

    def _users_info(self, params: JSON) -> JSON:
        user = self.users.get(str(params.get("user", "")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user.to_api(self.team_id)}

    def _conversations_info(self, params: JSON) -> JSON:
        channel = str(params.get("channel", ""))
        error = self._channel_faults.get(channel)
        if error == "channel_not_found" or not channel or self._membership_error(channel) == "channel_not_found":
            return {"ok": False, "error": "channel_not_found"}
        known = self.channels.get(channel)
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": self.channel_names.get(channel, "general"),
                "is_channel": True,
                "is_private": bool(known and known.private),
                "is_archived": error == "is_archived",
                "is_member": error != "not_in_channel" and (known is None or known.member),
            },
        }

    def _conversations_history(self, params: JSON) -> JSON:
        """Newest first, ``limit`` (default 100) messages; metadata only with ``include_all_metadata``."""
        channel = str(params.get("channel", ""))
        error = self._channel_faults.get(channel) or self._membership_error(channel)
        if error or not channel:
            return {"ok": False, "error": error or "channel_not_found"}
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        limit = int(params.get("limit") or 100)
        messages = []
        for c in reversed(self.calls):
            if c.method == "chat.postMessage" and c.response.get("ok") and c.params.get("channel") == channel:
                message = dict(c.response["message"])
                if message.get("thread_ts") and message.get("subtype") != "thread_broadcast":
                    continue  # a reply lives in its thread (conversations.replies), not in the channel's history
                if (channel, message["ts"]) in self.deleted:
                    continue
                if not with_metadata:
                    message.pop("metadata", None)
                messages.append(message)
        return {"ok": True, "messages": messages[:limit], "has_more": len(messages) > limit}

    def _conversations_replies(self, params: JSON) -> JSON:
        """A thread: its parent message first, then its replies oldest first; ``thread_not_found`` for an unknown ts."""
        channel, ts = str(params.get("channel", "")), str(params.get("ts", ""))
        error = self._channel_faults.get(channel) or self._membership_error(channel)
        if error or not channel:
            return {"ok": False, "error": error or "channel_not_found"}
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        limit = int(params.get("limit") or 1000)
        thread = []
        for c in self.calls:
            if c.method == "chat.postMessage" and c.response.get("ok") and c.params.get("channel") == channel:
                message = dict(c.response["message"])
                if message["ts"] == ts or message.get("thread_ts") == ts:
                    if not with_metadata:
                        message.pop("metadata", None)
                    thread.append(message)
        if not thread or thread[0]["ts"] != ts or (channel, ts) in self.deleted:
            return {"ok": False, "error": "thread_not_found"}
        return {"ok": True, "messages": thread[:limit], "has_more": len(thread) > limit}

    def _is_message(self, channel: str, ts: str) -> bool:
        """A message of ``channel`` with this ``ts`` that was not deleted (``delete_message``)."""
        return (channel, ts) not in self.deleted and ts in self.answered_ts(channel)

    def delete_message(self, channel: str, ts: str) -> None:
        """Someone deletes a message: it leaves the history, and a reply to it answers ``thread_not_found``."""
        self.deleted.add((channel, ts))

    def replies(self, channel: str, thread_ts: str) -> list[JSON]:
        """Successful ``chat.postMessage`` params that replied in ``thread_ts``'s thread, in order."""
        return [post for post in self.posts(channel) if str(post.get("thread_ts") or "") == thread_ts]

    def answered_ts(self, channel: str) -> list[str]:
        """The ``ts`` of each successful post to ``channel``, in order (what a reply's ``thread_ts`` names)."""
        return [str(c.response["ts"]) for c in self.calls
                if c.method == "chat.postMessage" and c.response.get("ok") and c.params.get("channel") == channel]

    def _conversations_join(self, params: JSON) -> JSON:
        """Public channels only; ``already_in_channel`` is a warning on an ok answer, as Slack sends it."""
        channel = str(params.get("channel", ""))
        error = self._channel_faults.get(channel)
        if not channel or error == "channel_not_found":
            return {"ok": False, "error": "channel_not_found"}
        if error == "is_archived":
            return {"ok": False, "error": "is_archived"}
        known = self.channels.get(channel) or self.add_channel(channel)
        if known.private:
            return {"ok": False, "error": "channel_not_found" if not known.member
                    else "method_not_supported_for_channel_type"}
        answer: JSON = {"ok": True, "channel": {"id": channel, "name": self.channel_names.get(channel, "general"),
                                                "is_channel": True, "is_private": False, "is_member": True}}
        if known.member:
            answer.update(warning="already_in_channel", response_metadata={"warnings": ["already_in_channel"]})
        known.member = True
        return answer

    def _files_get_upload_url(self, params: JSON) -> JSON:
        filename, length = params.get("filename"), params.get("length")
        if not filename or length is None:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._id_counter):08d}"
        self._files[file_id] = Upload(
            file_id=file_id,
            filename=str(filename),
            length=int(length),
            alt_txt=params.get("alt_txt"),
            snippet_type=params.get("snippet_type"),
        )
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    async def _upload(self, request: web.Request, file_id: str) -> web.Response:
        upload = self._files.get(file_id)
        if upload is None:
            return web.Response(status=404, text="not found")
        data = await request.read()
        if request.content_type == "multipart/form-data":  # curl -F style; the SDK sends raw bytes
            return web.Response(status=400, text="multipart not supported by the fake")
        upload.content = data
        await self._notify()
        # text/plain matters: slack_sdk reads text/plain bodies as text, anything else as JSON.
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    def _files_complete_upload(self, params: JSON) -> JSON:
        try:
            files = (
                json.loads(params["files"]) if isinstance(params.get("files"), str) else params.get("files")
            )
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(files, list) or not files:
            return {"ok": False, "error": "invalid_arguments"}
        channel_id = params.get("channel_id")
        channels = [c for c in str(params.get("channels", "")).split(",") if c]
        for ch in ([channel_id] if channel_id else []) + channels:
            error = self._channel_faults.get(str(ch)) or self._membership_error(ch)
            if error:
                return {"ok": False, "error": error}
        uploads = []
        for f in files:
            upload = self._files.get(str(f.get("id")))
            if upload is None:
                return {"ok": False, "error": "file_not_found"}
            if upload.content is None:
                return {"ok": False, "error": "file_upload_not_complete"}
            uploads.append((upload, f))
        out = []
        for upload, f in uploads:
            upload.title = f.get("title") or upload.filename
            upload.channel_id = channel_id
            upload.channels = channels
            upload.initial_comment = params.get("initial_comment")
            upload.thread_ts = params.get("thread_ts")
            upload.completed = True
            out.append(
                {
                    "id": upload.file_id,
                    "name": upload.filename,
                    "title": upload.title,
                    "size": len(upload.content or b""),
                    "user": self.bot_user_id,
                    "created": int(time.time()),
                    "mimetype": _guess_mimetype(upload.filename),
                }
            )
        return {"ok": True, "files": out}

    def _apps_connections_open(self, params: JSON) -> JSON:
        return {"ok": True, "url": self.socket_url}

    # ------------------------------------------------------------------ response_url

    async def _response_url(self, request: web.Request, rid: str) -> web.Response:
        """Slack allows 5 uses of a response_url (within 30 min); the 6th is refused."""
        if rid not in self._response_uses:
            return web.Response(status=404, text="no_such_response_url")
        if self._response_uses[rid] >= 5:
            return web.Response(status=404, text="used_url")
        self._response_uses[rid] += 1
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        self.responses.append(ResponseUrlPost(response_id=rid, body=body, headers=dict(request.headers)))
        await self._notify()
        return web.Response(text="ok")


def _decode_json_fields(params: JSON) -> JSON:
    """Form-encoded calls carry blocks/attachments/metadata as JSON strings; decode them."""
    out = dict(params)
    for k in ("blocks", "attachments", "metadata"):
        v = out.get(k)
        if isinstance(v, str):
            with contextlib.suppress(ValueError):
                out[k] = json.loads(v)
    return out


def _truthy(value: Any) -> bool:
    """A boolean argument as it arrives: JSON ``true``, or a form/query ``"true"`` / ``"1"``."""
    return value is True or str(value).lower() in ("1", "true")


def _guess_mimetype(filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return {"png": "image/png", "jpg": "image/jpeg", "txt": "text/plain", "json": "application/json"}.get(
        ext, "application/octet-stream"
    )


__all__ = [
    "CHANNEL_ERRORS",
    "Call",
    "FakeChannel",
    "FakeSlack",
    "FakeUser",
    "FakeWorkspace",
    "Grant",
    "ResponseUrlPost",
    "SlackLimits",
    "Upload",
    "sign_slack_request",
]
