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

Forum channels (GUILD_FORUM) take posts, not messages: each alert is a post
of its own (a thread with a starter message), named after the alert and
tagged with its kind, and a follow-up about a model replies in the post that
announced it (delivery passes that post's id as the thread's anchor). A post
that no longer takes replies (archived, locked, deleted) gets a new post
instead, so the alert is never lost. Creating a post takes no nonce, so
before creating one the forum's live posts are looked through for the same
post made by an attempt whose answer was lost (`_made_before`).

In a text channel whose subscription has `threads` on, a follow-up goes to a
thread started under the message that announced its model (the first
follow-up starts it; a thread started from a message has the message's id).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import datetime
from typing import Literal

import aiohttp
import discord
import discord.http

from adapters.discord_render import DiscordMessage, forum_tag, post_title, render_message, thread_name
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
NOT_A_TEXT_CHANNEL = 50008  # what a message to a forum channel is answered: a forum takes posts, not messages
THREAD_CLOSED_CODES = frozenset({50083, 160005})  # a post archived or locked: a follow-up starts a new post
FORUM_FRESH = 600.0  # seconds a forum's channel (its tags) is trusted before it is read again
FORUM_TAGS_MAX = 20  # Discord's limit on a forum's available tags
THREAD_EXISTS = 160004  # "A thread has already been created for this message"
THREAD_ARCHIVE: Literal[10080] = 10080  # minutes of quiet before a thread under an announcement is archived: a week
REQUESTS_PER_SECOND = 48.0  # under Discord's global 50/s, with room for jitter
# What the bot needs in a channel, no more: the invite URL asks for exactly these.
# Threads: a follow-up in a thread under its model's announcement (`/alerts threads on`); forum posts need no more.
PERMISSIONS = discord.Permissions(view_channel=True, send_messages=True, embed_links=True, attach_files=True,
                                  create_public_threads=True, send_messages_in_threads=True)
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


def message_content(rendered: DiscordMessage, mention: str | None) -> str | None:
    """A message's content: the role ping, then a compact look's text (which has no embed) after it."""
    content = f"<@&{mention}>" if mention else None
    if rendered.content is not None:
        content = f"{content}\n{rendered.content}" if content else rendered.content
    return content


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
    threads_alone = True  # a forum channel threads every alert, whatever the subscription's `threads` setting

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
        self._forums: dict[int, tuple[float, discord.ForumChannel]] = {}  # forum channel id → (read at, channel)
        self._untagged: set[int] = set()  # forums whose posts go untagged (said once)
        self._closed: set[int] = set()  # threads found archived, locked or out of reach: not started again
        self._not_forums: set[int] = set()  # channels read and found to be no forum

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
        """Post in the channel; in a forum channel, a post of its own (returned: its thread id), or a reply in
        `thread.anchor`'s post when that post still takes messages."""
        try:
            channel_id = int(channel)
        except ValueError:
            raise DestinationGone(f"{channel!r} is not a Discord channel id") from None
        if self.client.user is None:
            try:
                await self.login()
            except ConfigError as exc:  # the token was revoked after start-up
                raise PlatformRefused(str(exc)) from exc
        try:
            async with asyncio.timeout(self.send_timeout):
                return await self._deliver(channel_id, alert, mention, thread)
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

    async def _deliver(self, channel_id: int, alert: Alert, mention: str | None, thread: Thread | None) -> str | None:
        """A reply in the anchor's thread if it takes one; else a message in a text channel, or a new forum post.

        A forum is known by Discord refusing a message to it (50008, "not a text channel") and then its
        channel type (GET /channels/{id}), so text channels cost no extra request; a forum is remembered.
        A forum threads every alert; a text channel only while its subscription's `threads` is on, and
        then a message's id is returned to anchor the models it announces.
        """
        forum = await self._known_forum(channel_id)
        if thread is not None and thread.anchor is not None:
            if forum is None and thread.mode == "off":  # an anchor in a text channel counts only while threads are on
                forum = await self._forum(channel_id)
            if (forum is not None or thread.mode != "off") and \
                    await self._reply(channel_id, int(thread.anchor), alert, mention, in_forum=forum is not None):
                return None
        if forum is None:
            try:
                sent = await self._post(self.client.get_partial_messageable(channel_id), alert, mention)
                return str(sent.id) if thread is not None and thread.mode != "off" else None
            except discord.HTTPException as exc:
                if exc.code != NOT_A_TEXT_CHANNEL or (forum := await self._forum(channel_id)) is None:
                    raise
        return await self._post_in_forum(forum, alert, mention)

    async def _post(self, target: discord.PartialMessageable, alert: Alert, mention: str | None) -> discord.Message:
        """One message with the alert's nonce: a resend within Discord's window returns the first one."""
        rendered = render_message(alert.message)
        content = message_content(rendered, mention)
        nonce, mentions = nonce_for(alert.key), allowed_mentions(mention)
        if rendered.file is None:
            return await target.send(content, embeds=rendered.embeds, nonce=nonce, allowed_mentions=mentions)
        return await target.send(content, embeds=rendered.embeds, file=rendered.file, nonce=nonce,
                                 allowed_mentions=mentions)

    async def _reply(self, channel_id: int, anchor: int, alert: Alert, mention: str | None, *, in_forum: bool) -> bool:
        """A follow-up in the thread of the message that announced its model; False when that thread takes no
        more messages (archived, locked, deleted, out of the bot's sight): the alert then goes out as a new
        message (a new post in a forum), never lost.

        In a text channel the thread is started under the announcing message by the first follow-up
        (a thread started from a message has the message's id, so the anchor names both).
        """
        if await self._into_thread(anchor, alert, mention):
            return True
        if in_forum or anchor in self._closed:
            return False
        try:
            await self.client.http.start_thread_with_message(channel_id, anchor, name=thread_name(alert.payload,
                                                             alert.message), auto_archive_duration=THREAD_ARCHIVE)
        except (discord.NotFound, discord.Forbidden) as exc:  # the announcement is deleted, or no thread rights
            log.info("discord: no thread under message %s in %s (%s); %s goes to the channel", anchor, channel_id,
                     _reason(exc), alert.key)
            return False
        except discord.HTTPException as exc:
            if exc.code != THREAD_EXISTS:  # 160004: started meanwhile (an earlier attempt), so post into it
                if exc.status != 400:
                    raise
                # No thread can start here (a thread in a thread, a channel type without threads): the channel.
                self._closed.add(anchor)
                log.info("discord: no thread under message %s in %s (%s); follow-ups go to the channel", anchor,
                         channel_id, _reason(exc))
                return False
        return await self._into_thread(anchor, alert, mention)

    async def _into_thread(self, thread_id: int, alert: Alert, mention: str | None) -> bool:
        """Post into an existing thread; False when it is not there or takes no messages (remembered if closed)."""
        try:
            await self._post(self.client.get_partial_messageable(thread_id), alert, mention)
        except (discord.NotFound, discord.Forbidden) as exc:
            if isinstance(exc, discord.Forbidden):
                self._closed.add(thread_id)
            log.debug("discord: thread %s takes no message (%s)", thread_id, _reason(exc))
            return False
        except discord.HTTPException as exc:
            if exc.code not in THREAD_CLOSED_CODES:
                raise
            self._closed.add(thread_id)
            log.info("discord: thread %s takes no replies (%s); %s goes out anew", thread_id, _reason(exc), alert.key)
            return False
        return True

    async def _known_forum(self, channel_id: int) -> discord.ForumChannel | None:
        """A channel already found to be a forum, read again once its tags are older than `FORUM_FRESH`."""
        known = self._forums.get(channel_id)
        if known is None:
            return None
        read_at, forum = known
        if time.monotonic() - read_at < FORUM_FRESH:
            return forum
        return await self._forum(channel_id)

    async def _forum(self, channel_id: int) -> discord.ForumChannel | None:
        """The channel as Discord has it now, if it is a forum (remembered with its tags); None otherwise."""
        if channel_id in self._not_forums:
            return None
        found = await self.client.fetch_channel(channel_id)
        if not isinstance(found, discord.ForumChannel):
            self._forums.pop(channel_id, None)
            self._not_forums.add(channel_id)  # Discord converts no channel into a forum: asked once
            return None
        self._forums[channel_id] = (time.monotonic(), found)
        return found

    async def _post_in_forum(self, forum: discord.ForumChannel, alert: Alert, mention: str | None) -> str:
        """A post of its own, titled after the alert and tagged with its kind; its thread id anchors follow-ups.

        Creating a post takes no nonce, so an earlier attempt whose answer was lost (a timeout, a crash
        before delivery recorded it) may have made it: the forum's live posts are looked through first
        (`_made_before`), and an identical post of the bot's since the alert happened is taken as this one.
        """
        name = post_title(alert.message)
        rendered = render_message(alert.message)
        content = message_content(rendered, mention)
        if (made := await self._made_before(forum, alert, name, content, rendered.embeds)) is not None:
            return str(made)
        tags = await self._tags_for(forum, str(alert.payload.get("kind") or alert.message.kind))
        if not tags and forum.flags.require_tag:  # Discord refuses an untagged post there: another tag, not no post
            tags = [tag for tag in forum.available_tags if not tag.moderated][:1]
            if not tags:
                raise DestinationGone(f"forum {forum.id} requires a tag on every post and has none the bot may apply:"
                                      f" add a tag named {forum_tag(str(alert.payload.get('kind'))) or 'entered'!r},"
                                      " or give the bot Manage Channels there")
        mentions = allowed_mentions(mention)
        if rendered.file is None:
            created = await forum.create_thread(name=name, content=content, embeds=rendered.embeds,
                                                allowed_mentions=mentions, applied_tags=tags)
        else:
            created = await forum.create_thread(name=name, content=content, embeds=rendered.embeds,
                                                file=rendered.file, allowed_mentions=mentions, applied_tags=tags)
        return str(created.thread.id)

    async def _made_before(self, forum: discord.ForumChannel, alert: Alert, name: str, content: str | None,
                           embeds: list[discord.Embed]) -> int | None:
        """The id of a live post of the bot's in `forum` made since the alert happened, with this alert's name,
        mention and first embed title; None when there is none (one request, one more per look-alike)."""
        taken_at = _taken_at(alert)
        me = self.client.user.id if self.client.user is not None else None
        title = embeds[0].title if embeds else None  # a compact look has none: its content says it all
        for post in await forum.guild.active_threads():
            if (post.parent_id != forum.id or post.owner_id != me or post.name != name
                    or (taken_at is not None and discord.utils.snowflake_time(post.id) < taken_at)):
                continue
            starter = await post.fetch_message(post.id)
            if (starter.content or None) == content and [e.title for e in starter.embeds][:1] == ([title] if embeds
                                                                                             else []):
                log.info("discord: %s was posted in forum %s already (post %s); not posting it again",
                         alert.key, forum.id, post.id)
                return post.id
        return None

    async def _tags_for(self, forum: discord.ForumChannel, kind: str) -> list[discord.ForumTag]:
        """The forum's tag for this kind, by name; created when missing if the bot may (Manage Channels), else
        the post goes untagged, said once per forum."""
        wanted = forum_tag(kind)
        if wanted is None:
            return []
        found = [tag for tag in forum.available_tags if tag.name.casefold() == wanted.casefold()]
        if found or forum.id in self._untagged:
            return found[:1]
        if len(forum.available_tags) >= FORUM_TAGS_MAX:
            return self._untagged_because(forum, f"it has {FORUM_TAGS_MAX} tags already, none named {wanted!r}")
        try:
            # The whole list is sent: tags left out would be deleted.
            edited = await forum.edit(available_tags=[*forum.available_tags, discord.ForumTag(name=wanted)])
        except discord.Forbidden:
            return self._untagged_because(forum, f"it has no {wanted!r} tag and the bot may not add one"
                                                 " (it needs Manage Channels)")
        except discord.HTTPException as exc:
            if exc.status >= 500 or exc.status == 429:
                raise
            return self._untagged_because(forum, f"adding a {wanted!r} tag was refused ({_reason(exc)})")
        if isinstance(edited, discord.ForumChannel):
            self._forums[forum.id] = (time.monotonic(), edited)
            forum = edited
        return [tag for tag in forum.available_tags if tag.name.casefold() == wanted.casefold()][:1]

    def _untagged_because(self, forum: discord.ForumChannel, why: str) -> list[discord.ForumTag]:
        self._untagged.add(forum.id)
        log.warning("discord: forum %s: posts go out untagged: %s", forum.id, why)
        return []


def _taken_at(alert: Alert) -> datetime | None:
    """When the alert's event happened (its payload's `taken_at`): no post about it can be older."""
    raw = alert.payload.get("taken_at")
    try:
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00")) if raw else None
    except ValueError:
        return None
