"""A small fake Discord (REST + gateway) on 127.0.0.1 for testing the REAL discord.py 2.7.1.

Why a fake server instead of mocking discord.py: the bot's behaviour that matters
(rate-limit handling, 403/404 handling, nonce de-duplication, interaction
callbacks, multipart uploads) lives inside discord.py's HTTP client and gateway
code.  Mocking those away would test our assumptions about discord.py rather
than discord.py itself.  This fake speaks the wire format that discord.py
2.7.1 actually sends and parses, so the library runs unmodified.

Usage::

    async with FakeDiscord() as fake:
        with fake.patch_discord():          # Route.BASE + DEFAULT_GATEWAY
            client = discord.Client(intents=discord.Intents.none())
            await client.login("token")
            await client.get_partial_messageable(fake.channel_id).send("hi")
            await client.close()
        assert fake.messages(fake.channel_id)[0]["content"] == "hi"

Catches in discord.py 2.7.1 that shaped this fake (see also the module-level
comments next to the code that handles them):

* JSON is only parsed when ``Content-Type`` is exactly ``application/json``;
  ``web.json_response`` adds ``; charset=utf-8``, so every JSON answer here is
  built by :meth:`FakeDiscord._json`.
* A 429 is only retried when the response carries a ``Via`` header and a JSON
  body with ``retry_after``; otherwise discord.py assumes a Cloudflare ban.
* ``Client.connect()`` does NOT call ``GET /gateway/bot``: it connects to the
  class attribute ``DiscordWebSocket.DEFAULT_GATEWAY`` (wss://gateway.discord.gg/).
  Only ``AutoShardedClient`` asks ``/gateway/bot``.  :meth:`patch_discord`
  patches both.

Sharding, as Discord does it: ``/gateway/bot`` recommends ``shards`` (and says
``session_start_limit.max_concurrency``); each IDENTIFY carries ``shard: [id, count]``
and that connection gets READY and GUILD_CREATEs for, and only for, the servers with
``(guild_id >> 22) % count == id`` (DMs go to shard 0).  A shard id outside the count is
closed with 4010, a shard that would carry more than 2,500 servers with 4011.
* The interaction callback is posted with ``?with_response=1`` and discord.py
  reads ``data['interaction']['id']`` from the answer, so a bare 204 crashes it.
* ``Ratelimit`` buckets start at limit 1 and are then driven by the
  ``X-RateLimit-*`` headers of successful answers; when ``Remaining`` hits 0
  discord.py sleeps ``Reset-After`` before the next request, so the headers
  have to be truthful (a fixed window, not a sliding one) or the client
  either stalls or walks into 429s.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import itertools
import json
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import BodyPartReader, WSMsgType, web

JSON = dict[str, Any]

DISCORD_EPOCH_MS: Final = 1_420_070_400_000
API_PREFIX: Final = "/api/v10"

DEFAULT_APPLICATION_ID: Final = 1_100_000_000_000_000_001
DEFAULT_BOT_USER_ID: Final = 1_100_000_000_000_000_001  # bots share the application's id
DEFAULT_GUILD_ID: Final = 1_200_000_000_000_000_001
DEFAULT_CHANNEL_ID: Final = 1_300_000_000_000_000_001
DEFAULT_USER_ID: Final = 1_400_000_000_000_000_001
MAX_GUILDS_PER_SHARD: Final = 2500  # Discord closes a shard with 4011 (sharding required) beyond this

# VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY | USE_APPLICATION_COMMANDS:
# what an ordinary member has; pass permissions="8" for an administrator.
DEFAULT_MEMBER_PERMISSIONS: Final = str((1 << 10) | (1 << 11) | (1 << 16) | (1 << 31))
# What the bot itself is allowed to do in the channel (app_permissions).
DEFAULT_APP_PERMISSIONS: Final = str((1 << 10) | (1 << 11) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 31))

# Routes whose rate limits do not count towards the global limit (Discord exempts
# interaction endpoints from it).
_GLOBAL_EXEMPT_PREFIXES: Final = (f"{API_PREFIX}/interactions/", f"{API_PREFIX}/webhooks/")

# Lenient bucket used when a route is not limited: big enough never to run out,
# so discord.py never sleeps pre-emptively, but still well-formed headers.
_UNLIMITED: Final = 10_000

ERRORS: Final[dict[int, JSON]] = {
    401: {"message": "401: Unauthorized", "code": 0},
    403: {"message": "Missing Access", "code": 50001},
    404: {"message": "Unknown Channel", "code": 10003},
    500: {"message": "500: Internal Server Error", "code": 0},
    502: {"message": "502: Bad Gateway", "code": 0},
    503: {"message": "503: Service Unavailable", "code": 0},
}

CONTENT_MAX: Final = 2000  # a message's `content`, in characters (Discord's "Create Message")

# JSON error codes a channel answers a message with, and the status each comes with: the channel
# cannot take messages (a voice or category channel, an archived or locked thread) until someone
# changes it.  50083 is "Thread is archived" in Discord's answers (discord-api-docs #6884), 400 for a
# bot's message (403 when an interaction answers into a locked thread).
CHANNEL_ERRORS: Final[dict[int, tuple[int, str]]] = {
    50008: (400, "Cannot send messages in a non-text channel"),
    50083: (400, "Thread is archived"),
    160005: (400, "Thread is locked"),
}


@dataclass(frozen=True)
class DiscordLimits:
    """Rate limits to enforce (benchmark mode).

    ``global_per_second`` is Discord's 50 requests/s per bot (fixed 1 s windows).
    ``per_channel`` messages per ``per_channel_window`` seconds is the observed
    per-channel message-create limit (about 5 per 5 s).  Windows are fixed and
    start with the first request, which is what the ``X-RateLimit-Reset-After``
    header describes and what discord.py's ``Ratelimit`` expects.
    """

    global_per_second: int = 50
    per_channel: int = 5
    per_channel_window: float = 5.0


@dataclass(frozen=True)
class FakeGuild:
    """A guild the fake bot is in: sent as GUILD_CREATE after READY (on its shard).

    ``roles`` more roles than @everyone, as a small community server has (moderators, a bot role …).
    """

    id: int = DEFAULT_GUILD_ID
    channel_ids: tuple[int, ...] = (DEFAULT_CHANNEL_ID,)
    name: str = "Trendwatch Test Guild"
    roles: int = 0


def shard_of(guild_id: int, shard_count: int) -> int:
    """Discord's shard for a guild's events: ``(guild_id >> 22) % shard_count``."""
    return (guild_id >> 22) % shard_count


@dataclass
class RecordedFile:
    """A file part of a multipart request (``files[n]``)."""

    field_name: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class RecordedRequest:
    """One HTTP request as the fake received it (before any fault or limit)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    files: list[RecordedFile]
    at: float  # time.monotonic()
    status: int = 0  # filled in once answered


@dataclass
class MessageRecord:
    """A message created by ``POST /channels/{id}/messages``."""

    channel_id: int
    payload: JSON
    files: list[RecordedFile]
    message: JSON


@dataclass
class FakeForum:
    """A forum channel (type 15, GUILD_FORUM) added with :meth:`FakeDiscord.add_forum`: posts, not messages.

    ``tags`` are its ``available_tags`` as Discord answers them; ``manage_channels``: whether the bot may
    modify the channel (create tags), else a PATCH answers 403 Missing Permissions (50013).
    """

    id: int
    guild: FakeGuild
    name: str = "alerts-forum"
    tags: list[JSON] = field(default_factory=list)
    manage_channels: bool = True
    require_tag: bool = False  # the REQUIRE_TAG channel flag (1 << 4): a post without a tag is refused (40067)


@dataclass
class FakeThread:
    """A public thread (type 11): a post in a forum, whose starter message has the thread's id, or a thread
    started from a message of a text channel, which has that message's id."""

    id: int
    parent_id: int
    name: str
    applied_tags: list[str]
    owner_id: int
    created: str
    archived: bool = False
    locked: bool = False
    deleted: bool = False


@dataclass
class CallbackRecord:
    """An interaction callback (``POST /interactions/{id}/{token}/callback``)."""

    interaction_id: int
    token: str
    body: JSON  # {"type": n, "data": {...}}
    files: list[RecordedFile]

    @property
    def type(self) -> int:
        return int(self.body.get("type", 0))

    @property
    def data(self) -> JSON:
        d = self.body.get("data")
        return d if isinstance(d, dict) else {}


@dataclass
class FollowupRecord:
    """A follow-up message (``POST /webhooks/{app_id}/{token}``)."""

    interaction_id: int | None
    token: str
    payload: JSON
    files: list[RecordedFile]
    message: JSON | None


@dataclass
class _Interaction:
    id: int
    token: str
    type: int
    channel_id: int | None
    guild_id: int | None
    user: JSON
    name: str
    issued_at: float
    acknowledged: bool = False
    original: JSON | None = None


@dataclass
class _Window:
    """A fixed rate-limit window: ``limit`` requests per ``period`` seconds."""

    limit: int
    period: float
    start: float = -math.inf
    count: int = 0

    def _roll(self, now: float) -> None:
        if now >= self.start + self.period:
            self.start = now
            self.count = 0

    def try_acquire(self, now: float) -> bool:
        self._roll(now)
        if self.count >= self.limit:
            return False
        self.count += 1
        return True

    def remaining(self, now: float) -> int:
        self._roll(now)
        return max(0, self.limit - self.count)

    def reset_after(self, now: float) -> float:
        self._roll(now)
        return max(0.0, self.start + self.period - now)


@dataclass
class _GatewayConn:
    ws: web.WebSocketResponse
    seq: int = 0
    identified: bool = False
    identify: JSON | None = None
    session_id: str = ""
    shard: tuple[int, int] = (0, 1)  # (id, count) from IDENTIFY; no ``shard`` means (0, 1): every guild
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_RECORD: Final = web.RequestKey("trendwatch_fake_record", RecordedRequest)


def _iso(ts: float | None = None) -> str:
    return dt.datetime.fromtimestamp(ts if ts is not None else time.time(), dt.UTC).isoformat()


def _member(user: JSON, roles: list[str]) -> JSON:
    """A guild member object as the gateway sends it (GUILD_CREATE, INTERACTION_CREATE)."""
    return {
        "user": user, "roles": roles, "joined_at": _iso(), "deaf": False, "mute": False, "flags": 0,
        "pending": False, "nick": None, "avatar": None, "premium_since": None, "communication_disabled_until": None,
    }


def _bucket_hash(method: str, template: str) -> str:
    return hashlib.sha1(f"{method} {template}".encode()).hexdigest()[:32]


def _option_type(value: Any) -> int:
    """Discord application-command option type for a Python value (bool before int!)."""
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3


class FakeDiscord:
    """Fake Discord REST API + gateway on 127.0.0.1 (random port).

    Everything is recorded in :attr:`requests`; convenience views
    (:meth:`messages`, :attr:`callbacks`, :attr:`followups`,
    :meth:`synced_commands`) answer the usual test questions.  Fault switches
    (:meth:`fail_channel`, :meth:`rate_limit_next`, :meth:`delay`) and
    ``limits=DiscordLimits(...)`` reproduce Discord's failure modes.
    """

    def __init__(
        self,
        *,
        bot_user_id: int = DEFAULT_BOT_USER_ID,
        bot_name: str = "Trendwatch",
        application_id: int = DEFAULT_APPLICATION_ID,
        guilds: Sequence[FakeGuild] | None = None,
        limits: DiscordLimits | None = None,
        heartbeat_interval_ms: int = 41_250,
        interaction_deadline: float = 3.0,
        token_ttl: float = 15 * 60.0,
        nonce_ttl: float = 300.0,
        strict_channels: bool = False,
        install_types: Sequence[int] = (0,),
        shards: int = 1,
        max_concurrency: int = 1,
        session_starts: int = 1000,
    ) -> None:
        self.bot_user_id = bot_user_id
        self.bot_name = bot_name
        self.application_id = application_id
        self.guilds: list[FakeGuild] = list(guilds) if guilds is not None else [FakeGuild()]
        self.limits = limits
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.interaction_deadline = interaction_deadline
        self.token_ttl = token_ttl
        self.nonce_ttl = nonce_ttl
        self.strict_channels = strict_channels
        self.install_types = tuple(install_types)
        self.shards = shards  # what GET /gateway/bot recommends
        self.max_concurrency = max_concurrency
        self.session_starts_remaining = session_starts
        self._channel_guild: dict[int, FakeGuild] = {c: g for g in self.guilds for c in g.channel_ids}
        self.forums: dict[int, FakeForum] = {}
        self.threads: dict[int, FakeThread] = {}
        self._message_ids: set[int] = set()  # every message made: a message's id is no channel's (but its thread's)

        self.requests: list[RecordedRequest] = []
        self.message_records: list[MessageRecord] = []
        self.callbacks: list[CallbackRecord] = []
        self.followups: list[FollowupRecord] = []
        self.original_edits: list[JSON] = []
        self.identifies: list[JSON] = []
        self.rejected_429: int = 0
        self.rejected_429_global: int = 0
        self.deduplicated: int = 0

        self._snowflake_seq = itertools.count()
        self._commands: dict[int | None, list[JSON]] = {}
        self._failing: dict[int, tuple[int, int | None, JSON]] = {}
        self._forced_429: dict[int, list[float]] = {}
        self._delay = 0.0
        self._route_faults: list[tuple[str, str, int]] = []  # (method, path suffix, status)
        self._drops: list[tuple[str, str]] = []  # (method, path suffix)
        self._token_refused = False
        self._nonces: dict[tuple[int, str], tuple[float, JSON]] = {}
        self._windows: dict[tuple[str, str, str], _Window] = {}
        self._global_window: _Window | None = (
            _Window(limits.global_per_second, 1.0) if limits is not None else None
        )
        self._interactions: dict[int, _Interaction] = {}
        self._by_token: dict[str, _Interaction] = {}
        self._conns: list[_GatewayConn] = []
        self._changed = asyncio.Condition()  # notified after every request / gateway event
        self._runner: web.AppRunner | None = None
        self._gateway_site: web.TCPSite | None = None
        self.port = 0
        self.gateway_port = 0

        self.app = web.Application(middlewares=[self._middleware])
        self._add_routes()

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port (REST), and on another for the gateway (as Discord's
        gateway is its own host: it can be unreachable while REST answers, see :meth:`refuse_gateway`)."""
        self._runner = web.AppRunner(self.app, handle_signals=False, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])
        self._gateway_site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await self._gateway_site.start()
        self.gateway_port = int(self._runner.addresses[1][1])

    async def refuse_gateway(self) -> None:
        """The gateway goes away: its connections drop (1001) and connecting to it is refused
        (nothing listens on its port) until :meth:`accept_gateway`; REST goes on answering."""
        if self._gateway_site is None:
            return
        await self._gateway_site.stop()
        self._gateway_site = None
        for conn in list(self._conns):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"fake gateway going away")

    async def accept_gateway(self) -> None:
        """Listen for gateway connections again, on the same port."""
        if self._gateway_site is None and self._runner is not None:
            self._gateway_site = web.TCPSite(self._runner, "127.0.0.1", self.gateway_port, reuse_address=True)
            await self._gateway_site.start()

    async def close(self) -> None:
        """Close gateway connections (1001 going away), then the server."""
        for conn in list(self._conns):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"fake shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._gateway_site = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """Assign to ``discord.http.Route.BASE``."""
        return f"{self.base_url}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        """Assign (as ``yarl.URL``) to ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY``."""
        return f"ws://127.0.0.1:{self.gateway_port}/gateway"

    @property
    def channel_id(self) -> int:
        """The first configured channel (handy default in tests)."""
        return self.guilds[0].channel_ids[0]

    @property
    def guild_id(self) -> int:
        return self.guilds[0].id

    @contextlib.contextmanager
    def patch_discord(self) -> Iterator[None]:
        """Point discord.py's REST base and default gateway at this fake, restore afterwards.

        Both are needed: ``Route.BASE`` covers REST, interaction callbacks and
        follow-ups; ``Client.connect`` ignores ``/gateway/bot`` and dials
        ``DiscordWebSocket.DEFAULT_GATEWAY`` directly.
        """
        import discord.gateway
        import discord.http
        import yarl

        old_base = discord.http.Route.BASE
        old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            discord.http.Route.BASE = old_base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    # ------------------------------------------------------------------ switches

    def fail_channel(self, channel_id: int, status: int = 0, *, times: int | None = None,
                     code: int | None = None) -> None:
        """Answer every request for ``channel_id`` with ``status`` (``times`` requests, or until healed).

        403 → Missing Access (50001), 404 → Unknown Channel (10003); 5xx generic.  With ``code`` (one
        of :data:`CHANNEL_ERRORS`, e.g. 50083 for an archived thread) the body is that JSON error
        ``{"message", "code"}`` and the status the one Discord sends with it unless ``status`` is given.
        Note discord.py retries 500/502/504/524 itself (sleeping 1, 3, 5, 7 s),
        while 503 raises ``DiscordServerError`` at once.
        """
        if code is not None:
            usual, message = CHANNEL_ERRORS[code]
            status = status or usual
            body: JSON = {"message": message, "code": code}
        elif status:
            body = ERRORS.get(status, {"message": f"{status}: Error", "code": 0})
        else:
            raise ValueError("fail_channel needs a status or a JSON error code")
        self._failing[channel_id] = (status, times, body)

    def heal_channel(self, channel_id: int) -> None:
        self._failing.pop(channel_id, None)

    def rate_limit_next(self, channel_id: int, retry_after: float = 0.3, count: int = 1) -> None:
        """Answer the next ``count`` requests for ``channel_id`` with a (retryable) 429."""
        self._forced_429.setdefault(channel_id, []).extend([retry_after] * count)

    def delay(self, seconds: float) -> None:
        """Delay every HTTP answer by ``seconds`` (0 to stop)."""
        self._delay = seconds

    def fail_route(self, method: str, path_suffix: str, status: int = 503, count: int = 1) -> None:
        """Answer the next ``count`` ``method`` requests whose path ends with ``path_suffix`` with ``status``.

        E.g. ``fail_route("PUT", "/commands", 503)`` for a command sync Discord cannot take now.
        """
        self._route_faults.extend([(method, path_suffix, status)] * count)

    def drop_next(self, method: str = "POST", path_suffix: str = "/messages", count: int = 1) -> None:
        """Close the connection without an answer for the next ``count`` matching requests (after they took effect)."""
        self._drops.extend([(method, path_suffix)] * count)

    def refuse_token(self, refused: bool = True) -> None:
        """Answer 401 to every REST request (a revoked token) until ``refuse_token(False)``."""
        self._token_refused = refused

    # ------------------------------------------------------------------ views

    def messages(self, channel_id: int) -> list[JSON]:
        """Payloads (JSON or ``payload_json``) of messages created in ``channel_id``, in order."""
        return [r.payload for r in self.message_records if r.channel_id == channel_id]

    def created_messages(self, channel_id: int) -> list[JSON]:
        """The message objects the fake answered for ``channel_id``."""
        return [r.message for r in self.message_records if r.channel_id == channel_id]

    def synced_commands(self, guild_id: int | None = None) -> list[JSON]:
        """Commands stored by bulk overwrite (global when ``guild_id`` is None)."""
        return [dict(c) for c in self._commands.get(guild_id, [])]

    def requests_to(self, method: str, path_suffix: str) -> list[RecordedRequest]:
        """Recorded requests whose path (without ``/api/v10``) ends with ``path_suffix``."""
        return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]

    @property
    def connected_clients(self) -> int:
        return sum(1 for c in self._conns if c.identified and not c.ws.closed)

    @property
    def connected_shards(self) -> list[tuple[int, int]]:
        """(shard id, shard count) of every identified, open gateway connection, sorted."""
        return sorted(c.shard for c in self._conns if c.identified and not c.ws.closed)

    def guilds_of_shard(self, shard_id: int, shard_count: int) -> list[FakeGuild]:
        return [g for g in self.guilds if shard_of(g.id, shard_count) == shard_id]

    @staticmethod
    def _owns(conn: _GatewayConn, guild_id: int | None) -> bool:
        """Does this connection get the guild's events? DMs (no guild) go to shard 0, as on Discord."""
        shard_id, count = conn.shard
        return shard_id == 0 if guild_id is None else shard_of(guild_id, count) == shard_id

    async def join_guild(self, guild: FakeGuild) -> int:
        """The bot is added to ``guild``: GUILD_CREATE (no ``unavailable`` key, as for a new join) on its shard.

        Returns how many connections got it."""
        self.guilds.append(guild)
        self._channel_guild.update(dict.fromkeys(guild.channel_ids, guild))
        return await self.dispatch("GUILD_CREATE", self.guild_create_payload(guild, joined=True), guild_id=guild.id)

    async def remove_guild(self, guild_id: int, *, unavailable: bool = False) -> int:
        """GUILD_DELETE on the guild's shard: the bot was removed (kicked, banned, server deleted), or with
        ``unavailable`` the server is in an outage (and stays). Returns how many connections got it."""
        data: JSON = {"id": str(guild_id)}
        if unavailable:
            data["unavailable"] = True
        else:
            gone = [g for g in self.guilds if g.id == guild_id]
            for g in gone:
                self.guilds.remove(g)
                for cid in g.channel_ids:
                    self._channel_guild.pop(cid, None)
        return await self.dispatch("GUILD_DELETE", data, guild_id=guild_id)

    # ------------------------------------------------------------------ waiting

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 3.0) -> Any:  # noqa: ASYNC109
        """Wait until ``predicate()`` is truthy and return its value.

        Wakes on every request/gateway event, and also polls every 50 ms so
        predicates over state outside the fake (e.g. a list the bot appends to
        after reading our answer) work too.  Raises ``TimeoutError``.
        """
        async with asyncio.timeout(timeout), self._changed:
            while True:
                result = predicate()
                if result:
                    return result
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.05)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for_callback(self, interaction_id: int, timeout: float = 3.0) -> JSON:  # noqa: ASYNC109
        """Wait for the callback of ``interaction_id``; return its body ``{"type", "data"}``."""

        def find() -> JSON | None:
            for cb in self.callbacks:
                if cb.interaction_id == interaction_id:
                    return cb.body
            return None

        result: JSON = await self.wait_until(find, timeout)
        return result

    async def wait_for_followups(
        self,
        token: str,
        count: int = 1,
        timeout: float = 3.0,  # noqa: ASYNC109
    ) -> list[FollowupRecord]:
        """Wait until ``count`` follow-ups were posted with ``token``."""

        def find() -> list[FollowupRecord] | None:
            got = [f for f in self.followups if f.token == token]
            return got if len(got) >= count else None

        result: list[FollowupRecord] = await self.wait_until(find, timeout)
        return result

    async def wait_for_messages(self, channel_id: int, count: int, timeout: float = 3.0) -> list[JSON]:  # noqa: ASYNC109
        """Wait until ``count`` messages exist in ``channel_id``."""

        def find() -> list[JSON] | None:
            got = self.messages(channel_id)
            return got if len(got) >= count else None

        result: list[JSON] = await self.wait_until(find, timeout)
        return result

    async def wait_until_connected(self, count: int = 1, timeout: float = 3.0) -> None:  # noqa: ASYNC109
        """Wait until ``count`` gateway clients have identified."""
        await self.wait_until(lambda: self.connected_clients >= count, timeout)

    # ------------------------------------------------------------------ objects

    def snowflake(self) -> int:
        """A fresh, time-ordered, unique Discord snowflake."""
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._snowflake_seq) & 0x3FFFFF)

    def bot_user(self) -> JSON:
        return {
            "id": str(self.bot_user_id),
            "username": self.bot_name,
            "global_name": None,
            "discriminator": "0",
            "avatar": None,
            "bot": True,
            "system": False,
            "flags": 0,
            "public_flags": 0,
            "verified": True,
            "mfa_enabled": False,
            "locale": "en-US",
            "email": None,
        }

    @staticmethod
    def user_object(user_id: int, username: str = "tester") -> JSON:
        return {
            "id": str(user_id),
            "username": username,
            "global_name": username.title(),
            "discriminator": "0",
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
            "bot": False,
        }

    def application_object(self) -> JSON:
        return {
            "id": str(self.application_id),
            "name": self.bot_name,
            "icon": None,
            "description": "Fake application",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "owner": self.user_object(DEFAULT_USER_ID, "owner"),
            "team": None,
            "rpc_origins": [],
            "tags": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "integration_types_config": {str(kind): {} for kind in self.install_types},
            "approximate_guild_count": len(self.guilds),
            "bot": self.bot_user(),
        }

    def channel_object(self, channel_id: int, guild_id: int | None, position: int = 0) -> JSON:
        return {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(guild_id) if guild_id is not None else None,
            "name": f"channel-{position}",
            "position": position,
            "permission_overwrites": [],
            "topic": None,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "parent_id": None,
            "flags": 0,
        }

    def interaction_channel(self, channel_id: int, guild_id: int) -> JSON:
        """The interaction's ``channel``, as Discord sends it: a thread (a forum's post, or a thread of a text
        channel) with its type 11 and ``parent_id``, a forum with type 15, else a text channel."""
        if channel_id in self.threads:
            return self.thread_object(self.threads[channel_id])
        if channel_id in self.forums:
            return self.forum_object(self.forums[channel_id])
        return self.channel_object(channel_id, guild_id)

    def _guild_of_channel(self, channel_id: int) -> FakeGuild | None:
        return self._channel_guild.get(channel_id)

    def guild_create_payload(self, guild: FakeGuild, joined: bool = False) -> JSON:
        """A GUILD_CREATE body complete enough for discord.py's ConnectionState.

        ``joined``: the bot was just added, so the body has no ``unavailable`` key (discord.py
        dispatches ``guild_join``); at start-up it says ``unavailable: false`` (``guild_available``).
        """
        everyone = {
            "id": str(guild.id),
            "name": "@everyone",
            "permissions": DEFAULT_MEMBER_PERMISSIONS,
            "position": 0,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        bot_member = _member(self.bot_user(), roles=[])
        roles = [everyone] + [
            {**everyone, "id": str(guild.id + 1000 + i), "name": f"role-{i}", "position": i + 1, "permissions": "0"}
            for i in range(guild.roles)
        ]
        payload: JSON = {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(DEFAULT_USER_ID),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "system_channel_id": None,
            "system_channel_flags": 0,
            "features": [],
            "roles": roles,
            "emojis": [],
            "stickers": [],
            "channels": [self.channel_object(cid, guild.id, i) for i, cid in enumerate(guild.channel_ids)]
            + [self.forum_object(forum) for forum in self.forums.values() if forum.guild.id == guild.id],
            "threads": [self.thread_object(thread) for thread in self.threads.values()  # the active ones
                        if not (thread.archived or thread.deleted) and self._channel_guild[thread.id].id == guild.id],
            "members": [bot_member],
            "member_count": 2,
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "large": False,
            "unavailable": False,
            "joined_at": _iso(),
            "lazy": True,
            "application_id": None,
        }
        if joined:
            del payload["unavailable"]
        return payload

    def _attachments(self, files: list[RecordedFile], payload: JSON) -> list[JSON]:
        described = {str(a.get("id")): a for a in payload.get("attachments", []) if isinstance(a, dict)}
        out: list[JSON] = []
        for i, f in enumerate(files):
            att_id = self.snowflake()
            index = f.field_name.removeprefix("files[").removesuffix("]") or str(i)
            meta = described.get(index, {})
            filename = str(meta.get("filename") or f.filename or f"file{i}")
            out.append(
                {
                    "id": str(att_id),
                    "filename": filename,
                    "description": meta.get("description"),
                    "content_type": f.content_type,
                    "size": len(f.data),
                    "url": f"{self.base_url}/attachments/{att_id}/{filename}",
                    "proxy_url": f"{self.base_url}/attachments/{att_id}/{filename}",
                    "height": None,
                    "width": None,
                    "ephemeral": False,
                    "flags": 0,
                }
            )
        return out

    def _message(
        self,
        channel_id: int,
        payload: JSON,
        files: list[RecordedFile],
        *,
        msg_type: int = 0,
        webhook: bool = False,
        interaction: _Interaction | None = None,
        message_id: int | None = None,
    ) -> JSON:
        """A full message object as Discord answers a create."""
        guild = self._guild_of_channel(channel_id)
        msg: JSON = {
            "id": str(message_id if message_id is not None else self.snowflake()),
            "type": msg_type,
            "channel_id": str(channel_id),
            "author": self.bot_user(),
            "content": payload.get("content") or "",
            "timestamp": _iso(),
            "edited_timestamp": None,
            "tts": bool(payload.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "mention_channels": [],
            "attachments": self._attachments(files, payload),
            "embeds": list(payload.get("embeds") or []),
            "reactions": [],
            "pinned": False,
            "flags": int(payload.get("flags") or 0),
            "components": list(payload.get("components") or []),
            "sticker_items": [],
        }
        if guild is not None and not webhook:
            msg["guild_id"] = str(guild.id)
        if payload.get("nonce") is not None:
            msg["nonce"] = payload["nonce"]
        if payload.get("message_reference"):
            msg["message_reference"] = payload["message_reference"]
        if webhook:
            msg["webhook_id"] = str(self.application_id)
            msg["application_id"] = str(self.application_id)
        self._message_ids.add(int(msg["id"]))
        if interaction is not None:
            msg["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "name": interaction.name,
                "user": interaction.user,
                "authorizing_integration_owners": (
                    {"0": str(interaction.guild_id)}
                    if interaction.guild_id
                    else {"1": interaction.user["id"]}
                ),
            }
        return msg

    # ------------------------------------------------------------------ interactions

    def _register_interaction(self, payload: JSON) -> None:
        user = payload.get("member", {}).get("user") or payload.get("user") or {}
        inter = _Interaction(
            id=int(payload["id"]),
            token=str(payload["token"]),
            type=int(payload["type"]),
            channel_id=int(payload["channel_id"]) if payload.get("channel_id") else None,
            guild_id=int(payload["guild_id"]) if payload.get("guild_id") else None,
            user=user,
            name=str(payload.get("data", {}).get("name", "")),
            issued_at=time.monotonic(),
        )
        self._interactions[inter.id] = inter
        self._by_token[inter.token] = inter

    def _command_lookup(self, name: str, guild_id: int | None) -> tuple[int | None, JSON | None]:
        """(command guild id, stored command) for ``name``, guild commands first, like Discord."""
        if guild_id is not None:
            for cmd in self._commands.get(guild_id, []):
                if cmd["name"] == name:
                    return guild_id, cmd
        for cmd in self._commands.get(None, []):
            if cmd["name"] == name:
                return None, cmd
        return None, None

    def slash_command_payload(
        self,
        name: str,
        options: Mapping[str, Any] | Sequence[JSON] | None = None,
        guild_id: int | None = -1,
        channel_id: int | None = None,
        user_id: int = DEFAULT_USER_ID,
        permissions: str = DEFAULT_MEMBER_PERMISSIONS,
        subcommand: str | None = None,
        *,
        subcommand_group: str | None = None,
        username: str = "tester",
        roles: Sequence[int] = (),
        app_permissions: str = DEFAULT_APP_PERMISSIONS,
        locale: str = "en-US",
        command_id: int | None = None,
        interaction_type: int = 2,
    ) -> JSON:
        """A type-2 (APPLICATION_COMMAND) interaction as Discord sends it in INTERACTION_CREATE.

        ``options`` is either raw option dicts or a mapping name → value (types
        inferred: str 3, int 4, bool 5, float 10).  ``guild_id=-1`` means the
        first configured guild; ``None`` builds a DM interaction (``user``
        instead of ``member``).  If the command was synced to the guild,
        ``data.guild_id`` is set, which discord.py's tree needs to find guild
        commands.  The interaction is registered so callbacks, follow-ups and
        the 3 s deadline are checked.
        """
        gid = self.guild_id if guild_id == -1 else guild_id
        if channel_id is None:
            channel_id = self.guilds[0].channel_ids[0] if gid is not None else self.snowflake()
        if options is None:
            opts: list[JSON] = []
        elif isinstance(options, Mapping):
            opts = [{"name": k, "type": _option_type(v), "value": v} for k, v in options.items()]
        else:
            opts = [dict(o) for o in options]
        if subcommand is not None:
            opts = [{"type": 1, "name": subcommand, "options": opts}]
        if subcommand_group is not None:
            opts = [{"type": 2, "name": subcommand_group, "options": opts}]

        cmd_guild, stored = self._command_lookup(name, gid)
        data: JSON = {
            "id": str(command_id or (stored["id"] if stored else self.snowflake())),
            "name": name,
            "type": 1,
            "options": opts,
        }
        if cmd_guild is not None:
            data["guild_id"] = str(cmd_guild)

        user = self.user_object(user_id, username)
        payload: JSON = {
            "id": str(self.snowflake()),
            "application_id": str(self.application_id),
            "type": interaction_type,
            "data": data,
            "channel_id": str(channel_id),
            "token": f"fake-interaction-token-{self.snowflake()}",
            "version": 1,
            "app_permissions": app_permissions,
            "locale": locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if gid is not None:
            payload["guild_id"] = str(gid)
            payload["guild_locale"] = "en-US"
            payload["guild"] = {"id": str(gid), "locale": "en-US", "features": []}
            payload["channel"] = self.interaction_channel(channel_id, gid)
            payload["member"] = {**_member(user, roles=[str(r) for r in roles]), "permissions": permissions}
            payload["authorizing_integration_owners"] = {"0": str(gid)}
            payload["context"] = 0
        else:
            payload["user"] = user
            payload["channel"] = {"id": str(channel_id), "type": 1, "recipients": [user], "flags": 0}
            payload["authorizing_integration_owners"] = {"0": "0"}
            payload["context"] = 1
        self._register_interaction(payload)
        return payload

    def autocomplete_payload(
        self,
        name: str,
        options: Mapping[str, Any] | Sequence[JSON],
        focused: str,
        guild_id: int | None = -1,
        channel_id: int | None = None,
        user_id: int = DEFAULT_USER_ID,
        subcommand: str | None = None,
        **kwargs: Any,
    ) -> JSON:
        """A type-4 (APPLICATION_COMMAND_AUTOCOMPLETE) interaction; ``focused`` names the typed option.

        The focused option's value is what the user has typed so far (a string).
        """
        if isinstance(options, Mapping):
            opts: list[JSON] = [
                {"name": k, "type": _option_type(v), "value": v if k != focused else str(v)}
                for k, v in options.items()
            ]
        else:
            opts = [dict(o) for o in options]
        for o in opts:
            if o["name"] == focused:
                o["focused"] = True
        return self.slash_command_payload(
            name,
            opts,
            guild_id,
            channel_id,
            user_id,
            subcommand=subcommand,
            interaction_type=4,
            **kwargs,
        )

    def expire_interaction(self, interaction_id: int) -> None:
        """Make the interaction's token unusable (as after 15 minutes)."""
        inter = self._interactions.get(interaction_id)
        if inter is not None:
            inter.issued_at = -math.inf

    # ------------------------------------------------------------------ gateway

    async def _send(self, conn: _GatewayConn, op: int, d: Any, t: str | None = None) -> None:
        async with conn.send_lock:
            s: int | None = None
            if op == 0:
                conn.seq += 1
                s = conn.seq
            await conn.ws.send_str(json.dumps({"op": op, "d": d, "s": s, "t": t}))

    async def dispatch(self, event: str, data: JSON, *, guild_id: int | None = -1) -> int:
        """Send a DISPATCH (op 0) event to every identified client whose shard gets it; return how many got it.

        ``guild_id=-1`` (the default): every client; a guild id: the clients on its shard; None: shard 0 (a DM).
        """
        sent = 0
        for conn in list(self._conns):
            if conn.identified and not conn.ws.closed and (guild_id == -1 or self._owns(conn, guild_id)):
                await self._send(conn, 0, data, event)
                sent += 1
        return sent

    async def dispatch_interaction(self, payload: JSON) -> None:
        """Send INTERACTION_CREATE down the shard of its guild (shard 0 for a DM); the 3 s deadline starts now."""
        if int(payload["id"]) not in self._interactions:
            self._register_interaction(payload)
        self._interactions[int(payload["id"])].issued_at = time.monotonic()
        guild_id = int(payload["guild_id"]) if payload.get("guild_id") else None
        if await self.dispatch("INTERACTION_CREATE", payload, guild_id=guild_id) == 0:
            raise RuntimeError("no identified gateway client on the interaction's shard to dispatch it to")

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        # discord.py asks for ?v=10&encoding=json&compress=zlib-stream but decodes
        # text frames as plain JSON, so compression is simply not used.
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _GatewayConn(ws=ws, session_id=hashlib.sha1(str(self.snowflake()).encode()).hexdigest())
        self._conns.append(conn)
        try:
            await self._send(conn, 10, {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fake"]})
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                op, d = frame.get("op"), frame.get("d")
                if op == 1:
                    await self._send(conn, 11, None)
                elif op == 2:
                    await self._on_identify(conn, d)
                elif op == 6:
                    conn.identified = True
                    conn.seq = int(d.get("seq") or 0)
                    await self._send(conn, 0, {"_trace": ["fake"]}, "RESUMED")
                elif op == 8:
                    await self._on_request_members(conn, d)
                await self._notify()
        finally:
            self._conns.remove(conn)
            await self._notify()
        return ws

    async def _on_identify(self, conn: _GatewayConn, d: JSON) -> None:
        conn.identify = d
        self.identifies.append(d)
        shard = d.get("shard") or [0, 1]
        shard_id, count = int(shard[0]), int(shard[1])
        if not 0 <= shard_id < count:
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return
        guilds = self.guilds_of_shard(shard_id, count)
        if len(guilds) > MAX_GUILDS_PER_SHARD:
            await conn.ws.close(code=4011, message=b"Sharding required.")
            return
        conn.shard = (shard_id, count)
        self.session_starts_remaining -= 1
        ready = {
            "v": 10,
            "user": self.bot_user(),
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": conn.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "shard": shard,
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["fake"],
        }
        await self._send(conn, 0, ready, "READY")
        conn.identified = True
        for g in guilds:
            await self._send(conn, 0, self.guild_create_payload(g), "GUILD_CREATE")

    async def _on_request_members(self, conn: _GatewayConn, d: JSON) -> None:
        guild = next((g for g in self.guilds if str(g.id) == str(d.get("guild_id"))), None)
        members = self.guild_create_payload(guild)["members"] if guild else []
        chunk = {
            "guild_id": str(d.get("guild_id")),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
            "nonce": d.get("nonce"),
        }
        await self._send(conn, 0, chunk, "GUILD_MEMBERS_CHUNK")

    # ------------------------------------------------------------------ HTTP plumbing

    def _json(self, body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
        """JSON answer with Content-Type exactly ``application/json`` (discord.py needs it)."""
        hdrs = {"Content-Type": "application/json"}
        if headers:
            hdrs.update(headers)
        return web.Response(status=status, body=json.dumps(body).encode(), headers=hdrs)

    def _error(self, status: int, message: str, code: int) -> web.Response:
        return self._json({"message": message, "code": code}, status)

    async def _record(self, request: web.Request) -> RecordedRequest:
        payload: Any = None
        files: list[RecordedFile] = []
        ctype = request.content_type
        if request.can_read_body:
            if ctype == "multipart/form-data":
                reader = await request.multipart()
                while True:
                    part = await reader.next()
                    if part is None:
                        break
                    if not isinstance(part, BodyPartReader):  # nested multipart: discord.py sends none
                        continue
                    name = part.name or ""
                    if name == "payload_json":
                        payload = json.loads(await part.text())
                    else:
                        data = bytes(await part.read(decode=False))
                        ctype_part = part.headers.get("Content-Type")
                        files.append(RecordedFile(name, part.filename, ctype_part, data))
            else:
                raw = await request.read()
                if raw:
                    try:
                        payload = json.loads(raw)
                    except ValueError:
                        payload = raw.decode("utf-8", "replace")
        rec = RecordedRequest(
            method=request.method,
            path=request.path.removeprefix(API_PREFIX),
            query=dict(request.query),
            headers=dict(request.headers),
            json=payload,
            files=files,
            at=time.monotonic(),
        )
        self.requests.append(rec)
        return rec

    def _bucket(self, request: web.Request) -> tuple[tuple[str, str, str], _Window] | None:
        """The fixed window for this route + major parameter (None for unrouted paths)."""
        resource = request.match_info.route.resource
        if resource is None:
            return None
        template = resource.canonical
        mi = request.match_info
        major = mi.get("channel_id") or mi.get("guild_id") or f"{mi.get('app_id', '')}+{mi.get('token', '')}"
        key = (request.method, template, major)
        window = self._windows.get(key)
        if window is None:
            if (
                self.limits is not None
                and request.method == "POST"
                and template.endswith("/channels/{channel_id}/messages")
            ):
                window = _Window(self.limits.per_channel, self.limits.per_channel_window)
            else:
                window = _Window(_UNLIMITED, 1.0)
            self._windows[key] = window
        return key, window

    @staticmethod
    def _rl_headers(key: tuple[str, str, str], window: _Window, now: float) -> dict[str, str]:
        reset_after = window.reset_after(now)
        return {
            "X-RateLimit-Limit": str(window.limit),
            "X-RateLimit-Remaining": str(window.remaining(now)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": _bucket_hash(key[0], key[1]),
        }

    def _too_many(self, retry_after: float, headers: dict[str, str], *, is_global: bool) -> web.Response:
        """429 as Discord sends it: ``Via`` (else discord.py treats it as a Cloudflare ban)."""
        hdrs = dict(headers)
        hdrs["Via"] = "1.1 google"
        hdrs["Retry-After"] = str(max(1, math.ceil(retry_after)))
        if is_global:
            hdrs["X-RateLimit-Global"] = "true"
            hdrs["X-RateLimit-Scope"] = "global"
            self.rejected_429_global += 1
        else:
            hdrs["X-RateLimit-Scope"] = "user"
        self.rejected_429 += 1
        body = {
            "message": "You are being rate limited.",
            "retry_after": round(retry_after, 3),
            "global": is_global,
        }
        return self._json(body, 429, hdrs)

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path == "/gateway":
            return await handler(request)
        rec = await self._record(request)
        request[_RECORD] = rec
        drop = self._take(self._drops, request)
        try:
            response = await self._answer(request, handler)
        except web.HTTPNotFound:
            response = self._json({"message": "404: Not Found", "code": 0}, 404)
        except web.HTTPMethodNotAllowed:
            response = self._json({"message": "405: Method Not Allowed", "code": 0}, 405)
        rec.status = response.status
        await self._notify()
        if drop is not None and request.transport is not None:
            request.transport.close()  # the request took effect; its answer is lost on the way back
        return response

    @staticmethod
    def _take(faults: list[Any], request: web.Request) -> Any:
        path = request.path.removeprefix(API_PREFIX)
        for i, fault in enumerate(faults):
            if fault[0] == request.method and path.endswith(fault[1]):
                del faults[i]
                return fault
        return None

    async def _answer(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if self._delay:
            await asyncio.sleep(self._delay)
        bucket = self._bucket(request)
        if bucket is None:
            raise web.HTTPNotFound()
        if self._token_refused:
            return self._json(ERRORS[401], 401)
        if (fault := self._take(self._route_faults, request)) is not None:
            return self._json(ERRORS.get(fault[2], {"message": f"{fault[2]}: Error", "code": 0}), fault[2])
        key, window = bucket
        now = time.monotonic()
        channel = request.match_info.get("channel_id")
        channel_id = int(channel) if channel and channel.isdigit() else None

        if channel_id is not None and self._forced_429.get(channel_id):
            retry_after = self._forced_429[channel_id].pop(0)
            hdrs = self._rl_headers(key, window, now)
            hdrs.update({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": f"{retry_after:.3f}"})
            return self._too_many(retry_after, hdrs, is_global=False)

        if (
            self._global_window is not None
            and not request.path.startswith(_GLOBAL_EXEMPT_PREFIXES)
            and not self._global_window.try_acquire(now)
        ):
            return self._too_many(
                self._global_window.reset_after(now), self._rl_headers(key, window, now), is_global=True
            )

        if not window.try_acquire(now):
            hdrs = self._rl_headers(key, window, now)
            return self._too_many(window.reset_after(now), hdrs, is_global=False)
        headers = self._rl_headers(key, window, now)

        if channel_id is not None and channel_id in self._failing:
            status, times, body = self._failing[channel_id]
            if times is not None:
                if times <= 1:
                    del self._failing[channel_id]
                else:
                    self._failing[channel_id] = (status, times - 1, body)
            return self._json(body, status, headers)
        if self.strict_channels and channel_id is not None and self._guild_of_channel(channel_id) is None:
            return self._json(ERRORS[404], 404, headers)

        response = await handler(request)
        response.headers.update(headers)
        return response

    @staticmethod
    def _payload(request: web.Request) -> tuple[JSON, list[RecordedFile]]:
        """The parsed body the middleware stored (the body stream can only be read once)."""
        rec: RecordedRequest = request[_RECORD]
        payload = rec.json if isinstance(rec.json, dict) else {}
        return payload, rec.files

    def _add_routes(self) -> None:
        p = API_PREFIX
        r = self.app.router
        r.add_get("/gateway", self._gateway)
        r.add_get(f"{p}/users/@me", self._get_me)
        r.add_get(f"{p}/oauth2/applications/@me", self._get_application)
        r.add_get(f"{p}/applications/@me", self._get_application)
        r.add_get(f"{p}/gateway", self._get_gateway)
        r.add_get(f"{p}/gateway/bot", self._get_gateway_bot)
        r.add_get(f"{p}/channels/{{channel_id}}", self._get_channel)
        r.add_patch(f"{p}/channels/{{channel_id}}", self._modify_channel)
        r.add_post(f"{p}/channels/{{channel_id}}/threads", self._start_thread_in_forum)
        r.add_get(f"{p}/channels/{{channel_id}}/messages/{{message_id}}", self._get_message)
        r.add_get(f"{p}/guilds/{{guild_id}}/threads/active", self._active_threads)
        r.add_post(f"{p}/channels/{{channel_id}}/messages/{{message_id}}/threads", self._start_thread_from_message)
        r.add_post(f"{p}/channels/{{channel_id}}/messages", self._create_message)
        r.add_patch(f"{p}/channels/{{channel_id}}/messages/{{message_id}}", self._edit_message)
        r.add_delete(f"{p}/channels/{{channel_id}}/messages/{{message_id}}", self._delete_message)
        r.add_get(f"{p}/applications/{{app_id}}/commands", self._get_commands)
        r.add_put(f"{p}/applications/{{app_id}}/commands", self._put_commands)
        r.add_get(f"{p}/applications/{{app_id}}/guilds/{{guild_id}}/commands", self._get_commands)
        r.add_put(f"{p}/applications/{{app_id}}/guilds/{{guild_id}}/commands", self._put_commands)
        r.add_post(f"{p}/interactions/{{interaction_id}}/{{token}}/callback", self._callback)
        r.add_post(f"{p}/webhooks/{{app_id}}/{{token}}", self._followup)
        r.add_get(f"{p}/webhooks/{{app_id}}/{{token}}/messages/@original", self._get_original)
        r.add_patch(f"{p}/webhooks/{{app_id}}/{{token}}/messages/@original", self._edit_original)

    # ------------------------------------------------------------------ REST handlers

    async def _get_me(self, request: web.Request) -> web.Response:
        if not request.headers.get("Authorization", "").startswith("Bot "):
            return self._json(ERRORS[401], 401)
        return self._json(self.bot_user())

    async def _get_application(self, request: web.Request) -> web.Response:
        return self._json(self.application_object())

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return self._json({"url": self.gateway_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        return self._json(
            {
                "url": self.gateway_url,
                "shards": self.shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": max(0, self.session_starts_remaining),
                    "reset_after": 14_400_000,
                    "max_concurrency": self.max_concurrency,
                },
            }
        )

    async def _get_channel(self, request: web.Request) -> web.Response:
        cid = int(request.match_info["channel_id"])
        if cid in self.forums:
            return self._json(self.forum_object(self.forums[cid]))
        if cid in self.threads:
            post = self.threads[cid]
            return self._json(ERRORS[404], 404) if post.deleted else self._json(self.thread_object(post))
        guild = self._guild_of_channel(cid)
        if guild is None:
            return self._json(ERRORS[404], 404)
        return self._json(self.channel_object(cid, guild.id, guild.channel_ids.index(cid)))

    async def _create_message(self, request: web.Request) -> web.Response:
        """Create a message; honour ``nonce`` + ``enforce_nonce`` like Discord (return the existing one)."""
        cid = int(request.match_info["channel_id"])
        if (refused := self._refused_in_thread(cid)) is not None:
            return refused
        payload, files = self._payload(request)
        if not (payload.get("content") or payload.get("embeds") or files or payload.get("components")):
            return self._json({"message": "Cannot send an empty message", "code": 50006}, 400)
        if len(str(payload.get("content") or "")) > CONTENT_MAX:  # as Discord: the whole message is refused
            return self._json({"message": "Invalid Form Body", "code": 50035, "errors": {"content": {"_errors": [
                {"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {CONTENT_MAX} or fewer in length."}]}}}, 400)
        nonce = payload.get("nonce")
        now = time.monotonic()
        if nonce is not None and payload.get("enforce_nonce"):
            seen = self._nonces.get((cid, str(nonce)))
            if seen is not None and now - seen[0] < self.nonce_ttl:
                self.deduplicated += 1
                return self._json(seen[1])
        msg = self._message(cid, payload, files)
        if nonce is not None:
            self._nonces[(cid, str(nonce))] = (now, msg)
        self.message_records.append(MessageRecord(cid, payload, files, msg))
        return self._json(msg)

    def _find_message(self, cid: int, mid: int) -> MessageRecord | None:
        for rec in self.message_records:
            if rec.channel_id == cid and int(rec.message["id"]) == mid:
                return rec
        return None

    async def _edit_message(self, request: web.Request) -> web.Response:
        rec = self._find_message(int(request.match_info["channel_id"]), int(request.match_info["message_id"]))
        if rec is None:
            return self._error(404, "Unknown Message", 10008)
        payload, _ = self._payload(request)
        for k in ("content", "embeds", "components", "flags"):
            if k in payload:
                rec.message[k] = payload[k]
        rec.message["edited_timestamp"] = _iso()
        return self._json(rec.message)

    async def _delete_message(self, request: web.Request) -> web.Response:
        rec = self._find_message(int(request.match_info["channel_id"]), int(request.match_info["message_id"]))
        if rec is None:
            return self._error(404, "Unknown Message", 10008)
        self.message_records.remove(rec)
        return web.Response(status=204)

    def _check_app(self, request: web.Request) -> web.Response | None:
        if request.match_info["app_id"] != str(self.application_id):
            return self._json(ERRORS[403], 403)
        return None

    async def _get_commands(self, request: web.Request) -> web.Response:
        if (bad := self._check_app(request)) is not None:
            return bad
        gid = request.match_info.get("guild_id")
        return self._json(self._commands.get(int(gid) if gid else None, []))

    async def _put_commands(self, request: web.Request) -> web.Response:
        """Bulk overwrite: replace the set, keep ids of commands with the same name+type (as Discord does)."""
        if (bad := self._check_app(request)) is not None:
            return bad
        gid_s = request.match_info.get("guild_id")
        gid = int(gid_s) if gid_s else None
        rec: RecordedRequest = request[_RECORD]
        body = rec.json if isinstance(rec.json, list) else []
        old = {(c["name"], c.get("type", 1)): c for c in self._commands.get(gid, [])}
        stored: list[JSON] = []
        for cmd in body:
            prev = old.get((cmd["name"], cmd.get("type", 1)))
            full = self.stored_command(cmd)
            full.update(id=prev["id"] if prev else str(self.snowflake()), application_id=str(self.application_id),
                        version=str(self.snowflake()))
            if gid is not None:
                full["guild_id"] = str(gid)
            stored.append(full)
        self._commands[gid] = stored
        return self._json(stored)

    def stored_command(self, sent: Mapping[str, Any]) -> JSON:
        """A command as Discord keeps it and answers it (PUT and GET): what was left unset or null is
        filled in with Discord's defaults, and what is false or empty is left out of options.

        ``integration_types`` becomes the app's installation contexts (``install_types``; new apps
        install to guilds only, ``[0]``); ``contexts`` stays null when unset (discord-api-docs
        #6744); ``dm_permission`` is true and ``nsfw`` false; ``default_member_permissions`` comes
        back as a string; an option's ``required``/``autocomplete`` appear only when true, and
        empty ``choices``/``options`` not at all ("we intentionally do not send certain fields when
        empty/false", discord-api-docs #3161).
        """
        full: JSON = {key: value for key, value in sent.items() if value is not None}
        full.setdefault("type", 1)
        full.setdefault("description", "")
        full.setdefault("dm_permission", True)
        full.setdefault("nsfw", False)
        full.setdefault("integration_types", list(self.install_types))
        full.setdefault("contexts", None)
        permissions = sent.get("default_member_permissions")
        full["default_member_permissions"] = str(permissions) if permissions is not None else None
        for localized in ("name_localizations", "description_localizations"):
            full.pop(localized, None)  # only with ?with_localizations=true
        if "options" in full:
            full["options"] = [self._stored_option(option) for option in full["options"]]
        return full

    def _stored_option(self, sent: Mapping[str, Any]) -> JSON:
        option: JSON = {key: value for key, value in sent.items()
                        if value is not None and value is not False and value != [] and value != {}}
        if "options" in option:
            option["options"] = [self._stored_option(sub) for sub in option["options"]]
        return option

    def _live_interaction(self, interaction_id: int | None, token: str) -> _Interaction | None:
        inter = self._interactions.get(interaction_id) if interaction_id else self._by_token.get(token)
        if inter is None or inter.token != token:
            return None
        if time.monotonic() - inter.issued_at > self.token_ttl:
            return None
        return inter

    async def _callback(self, request: web.Request) -> web.Response:
        """Initial interaction response; answers the ``with_response=1`` shape discord.py reads."""
        iid = int(request.match_info["interaction_id"])
        token = request.match_info["token"]
        inter = self._live_interaction(iid, token)
        if inter is None or time.monotonic() - inter.issued_at > self.interaction_deadline:
            return self._error(404, "Unknown interaction", 10062)
        if inter.acknowledged:
            return self._error(400, "Interaction has already been acknowledged.", 40060)
        body, files = self._payload(request)
        inter.acknowledged = True
        self.callbacks.append(CallbackRecord(iid, token, body, files))
        cb_type = int(body.get("type", 0))
        data = body.get("data") or {}
        flags = int(data.get("flags") or 0)
        info: JSON = {"id": str(iid), "type": inter.type}
        answer: JSON = {"interaction": info}
        if cb_type in (4, 5) and inter.channel_id is not None:
            msg_payload = dict(data) if cb_type == 4 else {"flags": flags | 128}
            msg = self._message(
                inter.channel_id, msg_payload, files, msg_type=20, webhook=True, interaction=inter
            )
            inter.original = msg
            info.update(
                response_message_id=msg["id"],
                response_message_loading=cb_type == 5,
                response_message_ephemeral=bool(flags & 64),
            )
            answer["resource"] = {"type": cb_type, "message": msg}
        await self._notify()
        return self._json(answer)

    async def _followup(self, request: web.Request) -> web.Response:
        if request.match_info["app_id"] != str(self.application_id):
            return self._error(401, "Invalid Webhook Token", 50027)
        token = request.match_info["token"]
        inter = self._live_interaction(None, token)
        if inter is None:
            return self._error(401, "Invalid Webhook Token", 50027)
        if not inter.acknowledged:
            return self._error(404, "Unknown Webhook", 10015)
        payload, files = self._payload(request)
        msg = None
        if inter.channel_id is not None:
            msg = self._message(inter.channel_id, payload, files, webhook=True, interaction=inter)
        self.followups.append(FollowupRecord(inter.id, token, payload, files, msg))
        if request.query.get("wait", "0").lower() in ("1", "true"):
            return self._json(msg)
        return web.Response(status=204)

    async def _get_original(self, request: web.Request) -> web.Response:
        inter = self._live_interaction(None, request.match_info["token"])
        if inter is None:
            return self._error(401, "Invalid Webhook Token", 50027)
        if inter.original is None:
            return self._error(404, "Unknown Message", 10008)
        return self._json(inter.original)

    async def _edit_original(self, request: web.Request) -> web.Response:
        inter = self._live_interaction(None, request.match_info["token"])
        if inter is None:
            return self._error(401, "Invalid Webhook Token", 50027)
        if inter.original is None:
            return self._error(404, "Unknown Message", 10008)
        payload, files = self._payload(request)
        self.original_edits.append(payload)
        for k in ("content", "embeds", "components"):
            if k in payload:
                inter.original[k] = payload[k]
        if files:
            inter.original["attachments"] = self._attachments(files, payload)
        inter.original["flags"] = int(inter.original.get("flags", 0)) & ~128  # no longer "thinking"
        inter.original["edited_timestamp"] = _iso()
        return self._json(inter.original)

    # ------------------------------------------------------------------ forum channels

    def add_forum(self, channel_id: int | None = None, *, tags: Sequence[str] = (), guild: FakeGuild | None = None,
                  manage_channels: bool = True, require_tag: bool = False) -> FakeForum:
        """A forum channel in ``guild`` (the first one by default) with tags named ``tags``."""
        cid = channel_id if channel_id is not None else self.snowflake()
        forum = FakeForum(cid, guild or self.guilds[0], manage_channels=manage_channels, require_tag=require_tag,
                          tags=[self._tag(name) for name in tags])
        self.forums[cid] = forum
        self._channel_guild[cid] = forum.guild
        return forum

    def add_thread(self, parent_id: int, name: str = "a question", *, owner_id: int = DEFAULT_USER_ID,
                   archived: bool = False) -> FakeThread:
        """A thread a user started: in a forum, a post with its starter message (the thread's id); in a text
        channel, a thread under a message of the user's (which has the thread's id), as Discord makes them."""
        guild = self._channel_guild.get(parent_id) or self.guilds[0]
        thread = FakeThread(self.snowflake(), parent_id, name, [], owner_id, _iso(), archived=archived)
        home = thread.id if parent_id in self.forums else parent_id
        starter = {**self._message(home, {"content": name}, [], message_id=thread.id),
                   "author": self.user_object(owner_id)}
        self.message_records.append(MessageRecord(home, {"content": name}, [], starter))
        self.threads[thread.id] = thread
        self._channel_guild[thread.id] = guild
        return thread

    def _tag(self, name: str, moderated: bool = False) -> JSON:
        return {"id": str(self.snowflake()), "name": name, "moderated": moderated, "emoji_id": None,
                "emoji_name": None}

    def posts_in(self, forum_id: int) -> list[FakeThread]:
        """The posts made in a forum (deleted ones too, marked), in order."""
        return [post for post in self.threads.values() if post.parent_id == forum_id]

    def tag_names(self, forum_id: int, post: FakeThread) -> list[str]:
        names = {str(tag["id"]): str(tag["name"]) for tag in self.forums[forum_id].tags}
        return [names.get(tag, f"? {tag}") for tag in post.applied_tags]

    def archive_post(self, post_id: int, *, locked: bool = False) -> None:
        """Archive a post (as after its auto-archive duration of inactivity), locked too when asked."""
        post = self.threads[post_id]
        post.archived, post.locked = True, locked or post.locked

    def delete_post(self, post_id: int) -> None:
        self.threads[post_id].deleted = True

    def forum_object(self, forum: FakeForum) -> JSON:
        """A GUILD_FORUM channel as GET /channels/{id} answers it, with its ``available_tags``."""
        return {
            **self.channel_object(forum.id, forum.guild.id),
            "type": 15,
            "name": forum.name,
            "flags": (1 << 4) if forum.require_tag else 0,
            "available_tags": [dict(tag) for tag in forum.tags],
            "default_auto_archive_duration": 1440,
            "default_reaction_emoji": None,
            "default_sort_order": None,
            "default_forum_layout": 0,
            "default_thread_rate_limit_per_user": 0,
        }

    def thread_object(self, post: FakeThread) -> JSON:
        """A thread as a channel object: a PUBLIC_THREAD (type 11) whose parent is the forum or text channel."""
        guild = self._channel_guild[post.parent_id]
        return {
            "id": str(post.id),
            "type": 11,
            "guild_id": str(guild.id),
            "parent_id": str(post.parent_id),
            "owner_id": str(post.owner_id),
            "name": post.name,
            "last_message_id": str(post.id),
            "message_count": len(self.messages(post.id)) - 1,
            "member_count": 1,
            "total_message_sent": len(self.messages(post.id)) - 1,
            "rate_limit_per_user": 0,
            "flags": 0,
            "applied_tags": list(post.applied_tags),
            "thread_metadata": {"archived": post.archived, "auto_archive_duration": 1440,
                                "archive_timestamp": post.created, "locked": post.locked,
                                "create_timestamp": post.created},
        }

    def _refused_in_thread(self, cid: int) -> web.Response | None:
        """A message to a forum itself, or into a post that is archived, locked or deleted: Discord's answers."""
        if cid in self.forums:
            return self._json({"message": "Cannot send messages in a non-text channel", "code": 50008}, 400)
        post = self.threads.get(cid)
        if post is None:  # a message that has no thread is no channel
            return self._json(ERRORS[404], 404) if cid in self._message_ids else None
        if post.deleted:
            return self._json(ERRORS[404], 404)
        for code, closed in ((160005, post.locked), (50083, post.archived)):
            if closed:
                status, message = CHANNEL_ERRORS[code]
                return self._json({"message": message, "code": code}, status)
        return None

    async def _modify_channel(self, request: web.Request) -> web.Response:
        """PATCH /channels/{id} for a forum's ``available_tags`` (the whole list: tags left out are deleted);
        new tags get ids, and a bot without Manage Channels is refused (50013)."""
        cid = int(request.match_info["channel_id"])
        forum = self.forums.get(cid)
        if forum is None:
            return self._error(404, "Unknown Channel", 10003)
        if not forum.manage_channels:
            return self._error(403, "Missing Permissions", 50013)
        payload, _ = self._payload(request)
        if "available_tags" in payload:
            tags = payload["available_tags"] or []
            if len(tags) > 20 or any(not 1 <= len(str(tag.get("name") or "")) <= 20 for tag in tags):
                return self._json({"message": "Invalid Form Body", "code": 50035}, 400)
            known = {str(tag["id"]) for tag in forum.tags}
            forum.tags = [
                {**self._tag(str(tag["name"]), bool(tag.get("moderated"))),
                 **({"id": str(tag["id"])} if str(tag.get("id") or "") in known else {})}
                for tag in tags
            ]
        return self._json(self.forum_object(forum))

    async def _start_thread_in_forum(self, request: web.Request) -> web.Response:
        """Start Thread in Forum Channel: a post with its starter message; answers the thread channel object
        with the ``message`` in it (discord.py reads ``data['message']``)."""
        cid = int(request.match_info["channel_id"])
        forum = self.forums.get(cid)
        if forum is None:
            return self._error(400, "Cannot execute action on this channel type", 50024)
        payload, files = self._payload(request)
        name = str(payload.get("name") or "")
        message = payload.get("message") if isinstance(payload.get("message"), dict) else None
        if not 1 <= len(name) <= 100 or message is None:
            return self._json({"message": "Invalid Form Body", "code": 50035}, 400)
        if not (message.get("content") or message.get("embeds") or files):
            return self._json({"message": "Cannot send an empty message", "code": 50006}, 400)
        tags = [str(tag) for tag in payload.get("applied_tags") or []]
        if any(tag not in {str(t["id"]) for t in forum.tags} for tag in tags) or len(tags) > 5:
            return self._json({"message": "Invalid Form Body", "code": 50035}, 400)
        if forum.require_tag and not tags:
            return self._json({"message": "A tag is required to create a forum post in this channel",
                               "code": 40067}, 400)
        post_id = self.snowflake()
        post = FakeThread(post_id, cid, name, tags, self.bot_user_id, _iso())
        self.threads[post_id] = post
        self._channel_guild[post_id] = forum.guild
        starter = self._message(post_id, message, files, message_id=post_id)
        self.message_records.append(MessageRecord(post_id, message, files, starter))
        return self._json({**self.thread_object(post), "message": starter})

    async def _get_message(self, request: web.Request) -> web.Response:
        cid = int(request.match_info["channel_id"])
        if cid in self.threads and self.threads[cid].deleted:
            return self._json(ERRORS[404], 404)
        rec = self._find_message(cid, int(request.match_info["message_id"]))
        if rec is None:
            return self._error(404, "Unknown Message", 10008)
        return self._json(rec.message)

    async def _active_threads(self, request: web.Request) -> web.Response:
        """List Active Guild Threads: the guild's threads that are not archived (forum posts here)."""
        gid = int(request.match_info["guild_id"])
        threads = [self.thread_object(post) for post in self.threads.values()
                   if not post.archived and not post.deleted and self._channel_guild[post.parent_id].id == gid]
        return self._json({"threads": threads, "members": []})

    async def _start_thread_from_message(self, request: web.Request) -> web.Response:
        """Start Thread from Message: the thread has the message's id; one thread per message (160004)."""
        cid, mid = int(request.match_info["channel_id"]), int(request.match_info["message_id"])
        if cid in self.threads:  # threads do not nest
            return self._error(400, "Cannot execute action on this channel type", 50024)
        if self._find_message(cid, mid) is None:
            return self._error(404, "Unknown Message", 10008)
        if mid in self.threads:
            return self._error(400, "A thread has already been created for this message", 160004)
        payload, _ = self._payload(request)
        name = str(payload.get("name") or "")
        if not 1 <= len(name) <= 100:
            return self._json({"message": "Invalid Form Body", "code": 50035}, 400)
        thread = FakeThread(mid, cid, name, [], self.bot_user_id, _iso())
        self.threads[mid] = thread
        self._channel_guild[mid] = self._channel_guild.get(cid) or self.guilds[0]
        return self._json(self.thread_object(thread))
