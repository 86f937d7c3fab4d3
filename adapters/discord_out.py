"""Alerts to Discord channels over the REST API: how they travel, never what they say.

`start()` only logs in (`GET /users/@me`), so `python -m bot once` posts with
no gateway; `run` connects the same client to the gateway for slash commands
(adapters/discord_commands.py). Rate limits are discord.py's: it reads the
`X-RateLimit-*` headers, waits pre-emptively and retries 429s itself; only a
wait longer than `max_ratelimit_timeout` comes back here, as a DeliveryError
with `retry_after`, so the outbox retries later instead of blocking a drain.

Pacing: one global pacer (`pace`, called by delivery holding a send slot)
keeps every channel together just under the global limit; delivery keeps
`pacing_rate` × answer time sends in flight so that rate is reached at any
round trip. Resends are safe: every post carries a nonce with
`enforce_nonce`, so Discord answers a repeat within its window (a few
minutes) with the message it already created.
"""

from __future__ import annotations

import asyncio
import hashlib
import time

import aiohttp
import discord
import discord.http

from adapters.discord_render import render_message
from adapters.discord_shards import ShardedClient
from bot.config import ConfigError
from bot.delivery.adapter import Adapter, AlertRejected, DeliveryError, DestinationGone, PlatformRefused
from bot.delivery.threading import Thread
from bot.domain.messages import Alert
from bot.log import get_logger
from bot.metrics import rate_limit_trace

log = get_logger(__name__)

DEFAULT_API_BASE = "https://discord.com/api/v10"
NONCE_MAX = 25  # Discord rejects longer nonces
SEND_TIMEOUT = 120.0
LOGIN_TIMEOUT = 15.0  # start-up does not wait longer on an unreachable Discord: alerts stay queued
MAX_RATELIMIT_WAIT = 60.0
REJECTED_STATUSES = frozenset({400, 413})  # Invalid Form Body, Payload Too Large: this message, not the channel
# JSON error codes that come as 400s but are about the channel, not the message: not a text channel
# (50008), an archived thread (50083), a locked thread (160005). Every alert would be refused alike until
# someone changes the channel, so it is paused with the reason, as for 403/404, not each alert set aside.
CHANNEL_UNUSABLE_CODES = frozenset({50008, 50083, 160005})
REQUESTS_PER_SECOND = 48.0  # under Discord's global 50/s, with room for jitter
# What the bot needs in a channel, no more: the invite URL asks for exactly these.
PERMISSIONS = discord.Permissions(view_channel=True, send_messages=True, embed_links=True, attach_files=True)
SCOPES = ("bot", "applications.commands")


def use_api_base(api_base: str) -> None:
    """Point discord.py's REST calls at `api_base`.

    `Route.BASE` is a class attribute, so this is process-wide: every
    discord.Client in the process uses it. One bot process talks to one
    Discord (or one proxy/test server), so that is what we want.
    """
    discord.http.Route.BASE = api_base.rstrip("/")


def intents() -> discord.Intents:
    """Guild events only (channels, roles for `/alerts mention`): no members, presences or message content."""
    chosen = discord.Intents.none()
    chosen.guilds = True
    return chosen


def make_client(guild_ready_timeout: float = 2.0, max_wait: float = MAX_RATELIMIT_WAIT) -> ShardedClient:
    """Sharded always: with Discord's recommendation of one shard it is one connection, as a plain Client's.

    `max_messages=None`: the bot never reads its message cache (it has no message intent), and a
    cache of 1,000 messages is memory a bot in thousands of servers can spend better.
    """
    return ShardedClient(intents=intents(), max_ratelimit_timeout=max_wait, max_messages=None,
                         guild_ready_timeout=guild_ready_timeout, http_trace=rate_limit_trace("discord"))


def nonce_for(key: str) -> str:
    """A stable nonce per (alert, destination) within Discord's 25 characters.

    Discord answers a repeated nonce (with enforce_nonce) with the message it
    already created, so a resend after a crash between "sent" and "marked
    delivered" does not post twice. Discord remembers nonces for a few minutes.
    """
    if len(key) <= NONCE_MAX:
        return key
    return "tw" + hashlib.sha256(key.encode()).hexdigest()[: NONCE_MAX - 2]


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(application_id, permissions=PERMISSIONS, scopes=SCOPES)


def allowed_mentions(mention: str | None) -> discord.AllowedMentions:
    """Nobody is pinged unless the channel configured a role, and then only that role."""
    if mention is None:
        return discord.AllowedMentions.none()
    return discord.AllowedMentions(everyone=False, users=False, replied_user=False,
                                   roles=[discord.Object(id=int(mention))])


def _reason(exc: discord.HTTPException) -> str:
    """"Discord answered 400 Thread is archived (code 50083)": the status, Discord's message and its
    JSON error code (what its docs list), for the log and a paused channel's status line."""
    code = f" (code {exc.code})" if exc.code else ""
    return f"Discord answered {exc.status} {exc.text or exc.response.reason}".strip() + code


class Pacer:
    """Spaces requests evenly at `rate` per second across all channels.

    discord.py waits pre-emptively for per-route buckets (their headers say
    how much is left) but learns of the global limit only from a 429, and
    every 429 counts towards Discord's invalid-request ban (10,000 in 10
    minutes). Staying just under the global rate avoids them; discord.py's own
    handling still covers anything that slips through.
    """

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


class DiscordAdapter(Adapter):
    """The `discord` output: posts alerts as embeds with `client.get_partial_messageable(...).send`."""

    platform = "discord"
    idempotent = True  # the nonce: Discord answers a repeat with the message it already made

    def __init__(self, token: str, api_base: str = DEFAULT_API_BASE, client: ShardedClient | None = None,
                 send_timeout: float = SEND_TIMEOUT, requests_per_second: float = REQUESTS_PER_SECOND,
                 max_wait: float = MAX_RATELIMIT_WAIT) -> None:
        self._token = token
        self.api_base = api_base
        self.client = client or make_client(max_wait=max_wait)
        self.send_timeout = send_timeout
        self._login_lock = asyncio.Lock()
        self.pacer = Pacer(requests_per_second)
        self.pacing_rate = requests_per_second

    async def pace(self) -> None:
        """Wait for the next global turn (delivery calls it; direct `send` callers are not paced)."""
        await self.pacer.wait()

    async def start(self) -> None:
        """Log in over REST (no gateway): enough to post.

        A refused token is a config error (stop now, one line); Discord being
        unreachable is not: the poll still runs, alerts stay queued and the
        next send tries to log in again.
        """
        use_api_base(self.api_base)
        try:
            async with asyncio.timeout(LOGIN_TIMEOUT):
                await self.login()
        except TimeoutError:
            log.warning("discord: no answer to the login within %.0fs; alerts stay queued until it works",
                        LOGIN_TIMEOUT)
        except DeliveryError as exc:
            log.warning("discord: cannot log in now (%s); alerts stay queued until it works", exc)

    async def login(self) -> None:
        """Log in unless logged in; raises ConfigError (bad token) or DeliveryError (unreachable)."""
        use_api_base(self.api_base)  # also when `start` was left to the gateway service (`run`)
        async with self._login_lock:
            if self.client.user is not None:
                return
            try:
                await self.client.login(self._token)
            except discord.LoginFailure as exc:
                raise ConfigError("DISCORD_TOKEN was refused by Discord (401): check the bot token") from exc
            except discord.HTTPException as exc:
                raise DeliveryError(_reason(exc)) from exc
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                raise DeliveryError(f"cannot reach Discord: {exc}") from exc
        if self.client.application_id is not None:
            log.info("discord: logged in as %s; invite: %s", self.client.user, invite_url(self.client.application_id))

    async def close(self) -> None:
        await self.client.close()

    async def send(self, channel: str, alert: Alert, mention: str | None = None,
                   thread: Thread | None = None) -> str | None:
        try:
            channel_id = int(channel)
        except ValueError:
            raise DestinationGone(f"{channel!r} is not a Discord channel id") from None
        if self.client.user is None:
            try:
                await self.login()
            except ConfigError as exc:  # the token was revoked after start-up
                raise PlatformRefused(str(exc)) from exc
        rendered = render_message(alert.message)
        target = self.client.get_partial_messageable(channel_id)
        try:
            async with asyncio.timeout(self.send_timeout):
                content = f"<@&{mention}>" if mention else None
                nonce, mentions = nonce_for(alert.key), allowed_mentions(mention)
                if rendered.file is None:
                    await target.send(content, embeds=rendered.embeds, nonce=nonce, allowed_mentions=mentions)
                else:
                    await target.send(content, embeds=rendered.embeds, file=rendered.file, nonce=nonce,
                                      allowed_mentions=mentions)
        except (discord.Forbidden, discord.NotFound) as exc:
            raise DestinationGone(_reason(exc)) from exc
        except discord.RateLimited as exc:
            raise DeliveryError(f"rate limited for {exc.retry_after:.0f}s", retry_after=exc.retry_after) from exc
        except discord.HTTPException as exc:
            if exc.code in CHANNEL_UNUSABLE_CODES:
                raise DestinationGone(_reason(exc)) from exc
            if exc.status == 401:
                raise PlatformRefused(_reason(exc)) from exc
            if exc.status in REJECTED_STATUSES:
                raise AlertRejected(_reason(exc)) from exc
            raise DeliveryError(_reason(exc)) from exc
        except TimeoutError as exc:
            raise DeliveryError(f"no answer from Discord within {self.send_timeout:.0f}s") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(f"cannot reach Discord: {exc}") from exc
        return None
