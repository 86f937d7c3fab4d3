"""Slash commands on Discord: discord.py's CommandTree calling the platform-neutral handlers.

Every callback only translates: options → a call into bot.commands /
bot.commands.channel_settings → the returned Message rendered as embeds. Answers must
reach Discord within 3 s, so each is given `defer_after` seconds; if the store
(or a chart) is slower, the interaction is deferred and the answer follows.
`CommandError`s come back as ephemeral error embeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import aiohttp
import discord
import discord.gateway
import discord.http
import yarl
from discord import app_commands

from adapters.discord_out import LOGIN_TIMEOUT, DiscordAdapter, invite_url, use_api_base
from adapters.discord_render import render_message
from adapters.discord_shards import SessionStartLimit, ShardedClient, ShardPlan, plan_shards, shard_states
from bot.commands.answers import model_message, share_message, share_view, trending_message, trending_view
from bot.commands.caller import Caller, CommandError, clean_input, parse_country
from bot.commands.channel_lists import ChannelLists
from bot.commands.channel_settings import DEFAULT_SUBSCRIBED, ChannelSettings
from bot.commands.format import ChannelFormat
from bot.commands.silences import ChannelSilences
from bot.commands.subscriptions import channel_subscriptions
from bot.commands.threads import ThreadSettings
from bot.config import ConfigError, Settings, configured_lists, list_named
from bot.delivery.adapter import DeliveryError
from bot.domain.events import SUBSCRIBABLE
from bot.domain.messages import Message, line
from bot.log import get_logger
from bot.retry import RECONNECT
from bot.services import ShardState
from store import snapshots
from store.db import Database

log = get_logger(__name__)

SUBSCRIPTION_HELP = "which subscription of this channel (default: default); `alerts status` lists them"
DEFER_AFTER = 1.5  # seconds of work before we defer: well inside Discord's 3 s
FORUM_LOOKUP_TIMEOUT = 1.0  # seconds to read a post's parent Discord-side: with DEFER_AFTER, still inside the 3 s
FORUM = "trendwatch.forum"  # Interaction.extras key: the id of the forum whose post an /alerts command came from
READY_TIMEOUT = 30.0
GATEWAY_FAULTS = (OSError, aiohttp.ClientError, TimeoutError, discord.GatewayNotFound, discord.ConnectionClosed,
                  discord.HTTPException)


def connection_error(exc: BaseException) -> str:
    """What failed, under aiohttp's wrapper: "ConnectionRefusedError: [Errno 111] Connect call failed ..."."""
    root: BaseException = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
    return f"{type(root).__name__}: {root}" if str(root) else type(root).__name__


class GatewayFaultsInOneLine(logging.Filter):
    """discord.py logs each try to reconnect the gateway with a traceback ("Attempting a reconnect in
    1.00s", a shard's "Attempting a reconnect for shard ID 2 in 1.00s", "Failed to connect for shard_id:
    2. Retrying..."): while Discord's gateway cannot be reached that is a traceback at every try. A
    connection that fails is a platform fault, not a bug: one WARNING line naming the error (and the
    shard); anything else keeps its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, GATEWAY_FAULTS):
            return True
        message = str(record.msg)
        args = record.args if isinstance(record.args, tuple) else ()
        if message.startswith("Attempting a reconnect for shard ID") and len(args) >= 2:
            record.msg = "discord: shard %s: the gateway connection failed (%s); discord.py tries again in %.1fs"
            record.args = (args[0], connection_error(error), args[1])
        elif message.startswith("Attempting a reconnect"):
            record.msg = "discord: the gateway connection failed (%s); discord.py tries again in %.1fs"
            record.args = (connection_error(error), args[0] if args else 0.0)
        elif message.startswith("Failed to connect for shard_id") and args:
            record.msg = "discord: shard %s: the gateway connection failed (%s); discord.py tries again in 5s"
            record.args = (args[0], connection_error(error))
        else:
            return True
        record.exc_info = record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


for _logger in ("discord.client", "discord.shard"):
    get_logger(_logger).addFilter(GatewayFaultsInOneLine())

TenantJoined = Callable[[str, str, str], Awaitable[None]]  # (platform, server id, server name)
TenantLeft = Callable[[str, str], Awaitable[None]]  # (platform, server id)


async def no_tenant_joined(platform: str, external_id: str, name: str) -> None:
    """What a self-hosted bot does when added to a server: nothing (its settings are its channels')."""


async def no_tenant_left(platform: str, external_id: str) -> None:
    """What a self-hosted bot does when removed from a server: nothing (delivery pauses its channels on 403)."""


def error_message(exc: CommandError) -> Message:
    return Message(kind="error", title="That did not work", lines=(line(str(exc)),), ephemeral=True)


def _message_kwargs(message: Message) -> dict[str, Any]:
    rendered = render_message(message)
    kwargs: dict[str, Any] = {"embeds": rendered.embeds, "allowed_mentions": discord.AllowedMentions.none()}
    if rendered.content is not None:
        kwargs["content"] = rendered.content
    if rendered.file is not None:
        kwargs["file"] = rendered.file
    return kwargs


async def answer(interaction: discord.Interaction, work: Awaitable[Message], *, private: bool = False,
                 defer_after: float = DEFER_AFTER) -> None:
    """Reply at once if `work` is quick, else defer (ephemeral when `private`) and follow up."""
    task = asyncio.ensure_future(work)
    try:
        message = await asyncio.wait_for(asyncio.shield(task), defer_after)
    except TimeoutError:
        await interaction.response.defer(thinking=True, ephemeral=private)
        try:
            message = await task
        except CommandError as exc:  # shows as the deferred answer (public unless `private`)
            message = error_message(exc)
        await interaction.followup.send(ephemeral=message.ephemeral or private, **_message_kwargs(message))
        return
    except CommandError as exc:
        message = error_message(exc)
    await interaction.response.send_message(ephemeral=message.ephemeral or private, **_message_kwargs(message))


def caller_of(interaction: discord.Interaction) -> Caller:
    """Who asks, and from which server (the tenant); admin = Manage Channels here (checked again by the
    handlers, not only by Discord's UI). Run in a forum's post, the channel is the forum (see `ForumPosts`)."""
    perms = interaction.permissions
    guild = interaction.guild
    forum = interaction.extras.get(FORUM)
    channel = forum if isinstance(forum, int) else interaction.channel_id
    return Caller(platform="discord", channel=str(channel), user=str(interaction.user.id),
                  is_admin=perms.manage_channels or perms.administrator,
                  tenant=str(interaction.guild_id) if interaction.guild_id is not None else None,
                  tenant_name=guild.name if guild is not None and guild.name else "",
                  user_name=interaction.user.display_name or "")


class ForumPosts:
    """Which forum a command's channel is a post of. A forum (GUILD_FORUM) has no message box, so a user runs
    `/alerts …` in one of its posts (a thread whose parent is the forum) and means the forum: its alerts are
    posts of their own. A thread of a text channel is a conversation, not a post of a target: it stays itself.

    The parent's type comes from the guild cache (the Guilds intent's GUILD_CREATE lists every channel);
    only when that lacks it (a guild not cached) is the parent read from Discord, once, and the answer kept:
    a channel's type never changes. A parent that cannot be read leaves the command on the post itself, and
    is not asked again for `UNREADABLE_FOR` seconds (autocomplete asks at every keystroke)."""

    KEPT = 4096  # parents remembered; past that the memory starts again
    UNREADABLE_FOR = 600.0

    def __init__(self) -> None:
        self._is_forum: dict[int, bool] = {}  # parent channel id → whether it is a forum
        self._unreadable: dict[int, float] = {}  # parent channel id → when reading it failed (monotonic)

    async def forum_of(self, interaction: discord.Interaction) -> int | None:
        thread = interaction.channel
        if not isinstance(thread, discord.Thread):
            return None
        parent = thread.parent
        if parent is not None:
            return thread.parent_id if isinstance(parent, discord.ForumChannel) else None
        known = self._is_forum.get(thread.parent_id)
        if known is None:
            failed = self._unreadable.get(thread.parent_id)
            if failed is not None and time.monotonic() - failed < self.UNREADABLE_FOR:
                return None
            try:
                found = await asyncio.wait_for(interaction.client.fetch_channel(thread.parent_id),
                                               FORUM_LOOKUP_TIMEOUT)
            except (discord.HTTPException, discord.InvalidData, aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.info("discord: cannot read channel %s, the parent of thread %s (%s); the command acts on the"
                         " thread itself", thread.parent_id, thread.id, connection_error(exc))
                if len(self._unreadable) >= self.KEPT:
                    self._unreadable.clear()
                self._unreadable[thread.parent_id] = time.monotonic()
                return None
            known = isinstance(found, discord.ForumChannel)
            if len(self._is_forum) >= self.KEPT:
                self._is_forum.clear()
            self._is_forum[thread.parent_id] = known
            self._unreadable.pop(thread.parent_id, None)
        return thread.parent_id if known else None


async def told_in_forum(work: Awaitable[Message], forum: int) -> Message:
    """`work`'s answer, saying that it acted on the forum, not on the post it was run in (which a user would
    otherwise take "this channel" to mean)."""
    try:
        message = await work
    except CommandError as exc:
        raise CommandError(f"{exc} (Run in a post, /alerts acts on its forum <#{forum}>.)") from None
    note = line(f"Run in a post of the forum <#{forum}>, this acts on the forum: each alert there becomes a post"
                " of its own, and follow-ups about a model reply in its post.")
    return dataclasses.replace(message, lines=(*message.lines, note))


class _Tree(app_commands.CommandTree[discord.Client]):
    """Answers only while `is_active()`: a second `run` waiting for the lease is on the gateway too,
    receives the same interactions, and must leave them to the worker that holds the lease."""

    def __init__(self, client: discord.Client, is_active: Callable[[], bool]) -> None:
        super().__init__(client)
        self.is_active = is_active
        self.forum_posts = ForumPosts()

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """Also finds, before any /alerts command or autocomplete runs, the forum whose post it came from
        (`caller_of` reads it), so every handler acts on the forum unchanged."""
        if not self.is_active():
            return False
        data: Mapping[str, Any] = interaction.data or {}
        if data.get("name") == "alerts":
            forum = await self.forum_posts.forum_of(interaction)
            if forum is not None:
                interaction.extras[FORUM] = forum
        return True


def build_tree(client: discord.Client, db: Database, settings: Settings,
               next_poll: Callable[[], datetime | None] = lambda: None,
               defer_after: float = DEFER_AFTER,
               is_active: Callable[[], bool] = lambda: True,
               kick_delivery: Callable[[], None] = lambda: None) -> app_commands.CommandTree[discord.Client]:
    """The bot's slash commands on `client` (a client has at most one tree); `kick_delivery`: a delivery
    pass now, so `/alerts test` posts at once."""
    tree = _Tree(client, is_active)
    channels = ChannelSettings(db, settings, next_poll=next_poll, kick_delivery=kick_delivery)
    thread_settings = ThreadSettings(db, channels.clock)
    channel_lists = ChannelLists(db, settings)
    channel_format = ChannelFormat(db)
    silences = ChannelSilences(db)

    def chosen_list(name: str | None) -> tuple[str, str]:
        try:
            spec = list_named(settings, name)
        except ValueError as exc:
            raise CommandError(str(exc).replace("no list", "No list", 1) + ".") from None
        return spec.name, spec.kind

    async def list_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        wanted = current.strip().lower()
        return [app_commands.Choice(name=spec.name, value=spec.name) for spec in configured_lists(settings)
                if wanted in spec.name][:25]

    async def reply(interaction: discord.Interaction, work: Awaitable[Message], private: bool = False) -> None:
        forum = interaction.extras.get(FORUM)
        if isinstance(forum, int):
            work = told_in_forum(work, forum)
        await answer(interaction, work, private=private, defer_after=defer_after)

    @tree.command(name="trending", description="The Hub's trending models now: rank, movement, country")
    @app_commands.rename(list_name="list")
    @app_commands.describe(count="how many (default: the top N)", country="only this country (ISO code, e.g. CN)",
                           list_name="which trending list (default: models)")
    async def trending(interaction: discord.Interaction, count: app_commands.Range[int, 1, 50] | None = None,
                       country: str | None = None, list_name: str | None = None) -> None:
        async def work() -> Message:
            code = parse_country(country) if country else None
            name, kind = chosen_list(list_name)
            return trending_message(await trending_view(db.conn, count, code, name, kind), code)

        await reply(interaction, work())

    trending.autocomplete("list_name")(list_autocomplete)

    @tree.command(name="share", description="Each country's share of the trending top N, now vs a week ago")
    @app_commands.rename(list_name="list")
    @app_commands.describe(list_name="which trending list (default: models)")
    async def share(interaction: discord.Interaction, list_name: str | None = None) -> None:
        async def work() -> Message:
            return share_message(await share_view(db.conn, list_name=chosen_list(list_name)[0]))

        await reply(interaction, work())

    share.autocomplete("list_name")(list_autocomplete)

    @tree.command(name="model", description="A model's history in the trending list")
    @app_commands.describe(model_id="e.g. Qwen/Qwen3-8B")
    @app_commands.rename(model_id="id")
    async def model(interaction: discord.Interaction, model_id: str) -> None:
        await reply(interaction, model_message(db.conn, model_id))

    @model.autocomplete("model_id")
    async def model_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        found = await snapshots.search_models(db.conn, clean_input(current).strip()[:100], limit=25)
        return [app_commands.Choice(name=hub_id[:100], value=hub_id[:100]) for hub_id in found]

    alerts = app_commands.Group(name="alerts", description="This channel's trending alerts (channel managers)",
                                guild_only=True, allowed_contexts=app_commands.AppCommandContext(guild=True),
                                default_permissions=discord.Permissions(manage_channels=True))

    @alerts.command(name="subscribe", description="Post alerts in this channel")
    @app_commands.describe(kinds=f"default {', '.join(DEFAULT_SUBSCRIBED)}; also "  # Discord's limit: 100 characters
                                 f"{', '.join(k for k in SUBSCRIBABLE if k not in DEFAULT_SUBSCRIBED)};"
                                 " or all (comma-separated)",
                           subscription="a new name adds another subscription here (default: default)")
    async def subscribe(interaction: discord.Interaction, kinds: str | None = None,
                        subscription: str | None = None) -> None:
        await reply(interaction, channels.subscribe(caller_of(interaction), kinds, subscription), private=True)

    @alerts.command(name="unsubscribe", description="Stop posting alerts in this channel")
    @app_commands.describe(subscription=SUBSCRIPTION_HELP)
    async def unsubscribe(interaction: discord.Interaction, subscription: str | None = None) -> None:
        await reply(interaction, channels.unsubscribe(caller_of(interaction), subscription), private=True)

    @alerts.command(name="rule", description="Alert here when a country's share crosses a line")
    @app_commands.describe(country="ISO code, e.g. CN", direction="above or below", percent="0 to 100",
                           remove="remove this rule instead of adding it",
                           basis="top_n (default), known (known entries only) or certain (what unknowns cannot change)",
                           subscription=SUBSCRIPTION_HELP)
    async def rule(interaction: discord.Interaction, country: str, direction: Literal["above", "below"],
                   percent: int, remove: bool = False,
                   basis: Literal["top_n", "known", "certain"] = "top_n", subscription: str | None = None) -> None:
        caller = caller_of(interaction)
        if remove:
            await reply(interaction, channels.remove_rule(caller, country, direction, percent, subscription),
                        private=True)
        else:
            await reply(interaction, channels.add_rule(caller, country, direction, percent, basis, subscription),
                        private=True)

    @alerts.command(name="mention", description="Ping a role on alerts here (leave empty to turn pings off)")
    @app_commands.describe(subscription=SUBSCRIPTION_HELP)
    async def mention(interaction: discord.Interaction, role: discord.Role | None = None,
                      subscription: str | None = None) -> None:
        target = str(role.id) if role is not None else None
        await reply(interaction, channels.mention(caller_of(interaction), target, subscription), private=True)

    @alerts.command(name="mute", description="Pause alerts here for a while: 30m, 2h, 1d … or off")
    async def mute(interaction: discord.Interaction, duration: str) -> None:
        await reply(interaction, channels.mute(caller_of(interaction), duration), private=True)

    @alerts.command(name="filter", description="Which lists and entries this channel hears about")
    @app_commands.describe(lists="list names, comma-separated (e.g. models,spaces)",
                           countries="only these countries (e.g. CN,US; 'any' for all)",
                           tasks="only these pipeline tags (e.g. text-to-image; 'any' for all)",
                           authors="only these namespaces (e.g. deepseek-ai,Qwen; 'any' for all)",
                           derivatives="show re-uploads and quantizations",
                           clear="back to the models list, unfiltered", subscription=SUBSCRIPTION_HELP)
    async def filter_(interaction: discord.Interaction, lists: str | None = None, countries: str | None = None,
                      tasks: str | None = None, authors: str | None = None, derivatives: bool | None = None,
                      clear: bool = False, subscription: str | None = None) -> None:
        changes = {"lists": lists, "countries": countries, "tasks": tasks, "authors": authors,
                   "derivatives": derivatives}
        await reply(interaction, channel_lists.set_filter(caller_of(interaction), changes, clear, subscription),
                    private=True)

    @alerts.command(name="watch", description="Be told when an author's repository or a model shows up")
    @app_commands.rename(list_name="list")
    @app_commands.describe(target="an author (deepseek-ai) or a model (org/name)",
                           list_name="which trending list (default: models)", subscription=SUBSCRIPTION_HELP)
    async def watch(interaction: discord.Interaction, target: str, list_name: str | None = None,
                    subscription: str | None = None) -> None:
        await reply(interaction, channel_lists.watch(caller_of(interaction), target, list_name, subscription),
                    private=True)

    @alerts.command(name="unwatch", description="Stop watching an author or a model here")
    @app_commands.rename(list_name="list")
    @app_commands.describe(target="as given to watch", list_name="only on this list (default: every list)",
                           subscription=SUBSCRIPTION_HELP)
    async def unwatch(interaction: discord.Interaction, target: str, list_name: str | None = None,
                      subscription: str | None = None) -> None:
        await reply(interaction, channel_lists.unwatch(caller_of(interaction), target, list_name, subscription),
                    private=True)

    watch.autocomplete("list_name")(list_autocomplete)
    unwatch.autocomplete("list_name")(list_autocomplete)

    @alerts.command(name="format", description="How alerts about models look here: compact, full or your template")
    @app_commands.describe(style="compact (one short line per model), full (the default) or custom",
                           template="for custom: e.g. {rank}. {country_flag} {id} ({likes} likes)",
                           subscription=SUBSCRIPTION_HELP)
    async def format_(interaction: discord.Interaction, style: Literal["compact", "full", "custom"] | None = None,
                      template: str | None = None, subscription: str | None = None) -> None:
        await reply(interaction, channel_format.set_format(caller_of(interaction), style,
                                                            clean_input(template) if template else None,
                                                            subscription), private=True)

    @alerts.command(name="silence", description="Hold back alerts here that a matcher catches, for a while")
    @app_commands.describe(matcher="author:deepseek-ai, model:org/name, kind:share or country:US",
                           duration="how long: 30m, 2h, 7d … (at most 90d)")
    async def silence(interaction: discord.Interaction, matcher: str, duration: str) -> None:
        await reply(interaction, silences.silence(caller_of(interaction), matcher, duration), private=True)

    @alerts.command(name="silences", description="This channel's silences: what they hold back, until when, by whom")
    async def silences_(interaction: discord.Interaction) -> None:
        await reply(interaction, silences.silences(caller_of(interaction)), private=True)

    @alerts.command(name="unsilence", description="End a silence early (its id, as alerts silences lists it)")
    @app_commands.rename(silence_id="id")
    @app_commands.describe(silence_id="the silence's number, e.g. 3")
    async def unsilence(interaction: discord.Interaction, silence_id: str) -> None:
        await reply(interaction, silences.unsilence(caller_of(interaction), silence_id), private=True)

    @alerts.command(name="threads", description="Follow-ups about a model: in the channel, or in its thread")
    @app_commands.describe(mode="off: in the channel; on: in the model's thread; broadcast: both",
                           subscription=SUBSCRIPTION_HELP)
    async def threads(interaction: discord.Interaction, mode: Literal["off", "on", "broadcast"],
                      subscription: str | None = None) -> None:
        await reply(interaction, thread_settings.set(caller_of(interaction), mode, subscription), private=True)

    @alerts.command(name="test", description="Post one sample of each alert this channel gets, marked as a test")
    @app_commands.describe(subscription=SUBSCRIPTION_HELP)
    async def test(interaction: discord.Interaction, subscription: str | None = None) -> None:
        await reply(interaction, channels.test(caller_of(interaction), subscription), private=True)

    @alerts.command(name="status", description="This channel's alert settings and the bot's health")
    @app_commands.describe(subscription="only this subscription (default: every subscription of this channel)")
    async def status(interaction: discord.Interaction, subscription: str | None = None) -> None:
        await reply(interaction, channels.status(caller_of(interaction), subscription), private=True)

    async def subscription_autocomplete(interaction: discord.Interaction,
                                        current: str) -> list[app_commands.Choice[str]]:
        """The channel's own subscriptions (none of another server's: the same tenancy check as the commands)."""
        try:
            found = await channel_subscriptions(db.conn, caller_of(interaction), datetime.now(UTC))
        except CommandError:
            return []
        wanted = current.strip().lower()
        return [app_commands.Choice(name=d.name, value=d.name) for d in found if wanted in d.name][:25]

    named: tuple[app_commands.Command[Any, Any, None], ...] = (subscribe, unsubscribe, rule, mention, filter_, watch,
                                                               unwatch, test, status, format_, threads)
    for command in named:
        command.autocomplete("subscription")(subscription_autocomplete)

    tree.add_command(alerts)

    @tree.error
    async def on_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        if isinstance(error, app_commands.CheckFailure) and not is_active():
            log.debug("not the lease holder: leaving /%s to the worker", interaction.data)
            return
        log.error("slash command /%s failed", interaction.command.qualified_name if interaction.command else "?",
                  exc_info=error)
        if not interaction.response.is_done():
            sorry = Message(kind="error", title="Something went wrong",
                            lines=(line("The bot logged the error; try again later."),), ephemeral=True)
            await interaction.response.send_message(ephemeral=True, **_message_kwargs(sorry))

    return tree


GUILD_INSTALL = 0  # ApplicationIntegrationType: where an app is installed
USER_INSTALL = 1
ALL_CONTEXTS = (0, 1, 2)  # InteractionContextType: guild, the bot's DMs, other private channels


def installation_contexts(client: discord.Client) -> list[int]:
    """Where the app can be installed (the Developer Portal's installation contexts): what Discord
    stores as a command's `integration_types` when the command does not say. New apps: guilds only."""
    app = client.application
    if app is None:
        return [GUILD_INSTALL]
    kinds = [kind for kind, config in ((GUILD_INSTALL, app.guild_integration_config),
                                       (USER_INSTALL, app.user_integration_config)) if config is not None]
    return kinds or [GUILD_INSTALL]


def with_discord_defaults(command: Mapping[str, Any], installs: Sequence[int]) -> dict[str, Any]:
    """`command` with the values Discord fills in where it is unset (null or absent).

    discord.py sends `integration_types` and `contexts` as null unless a command sets them, and
    Discord answers with `integration_types` = the app's installation contexts: compared as sent,
    every command would differ at every start. Applied to both sides, null and the default agree.
    `contexts` left unset has been answered as null (discord-api-docs #6744) and is documented as
    all interaction contexts: both count as that default. Lists of kinds are sets: compared sorted.
    """
    filled = dict(command)
    for key, default in (("type", 1), ("description", ""), ("nsfw", False), ("dm_permission", True),
                         ("integration_types", list(installs)), ("contexts", list(ALL_CONTEXTS))):
        if filled.get(key) is None:
            filled[key] = default
    for key in ("integration_types", "contexts"):
        if filled.get(key) is not None:
            filled[key] = sorted(filled[key])
    if filled.get("default_member_permissions") is not None:
        filled["default_member_permissions"] = str(filled["default_member_permissions"])
    return filled


def same_definition(local: Any, remote: Any) -> bool:
    """Does Discord's stored command match ours? Discord adds ids and versions and leaves out what is
    false or empty (an option's `required`, empty `options`); apply `with_discord_defaults` first for
    what it fills in instead."""
    if isinstance(local, Mapping):
        if not isinstance(remote, Mapping):
            return remote is None and not any(local.values())
        return all(same_definition(value, remote.get(key)) for key, value in local.items())
    if isinstance(local, list):
        if not isinstance(remote, list):
            return remote is None and not local
        return len(local) == len(remote) and all(map(same_definition, local, remote))
    if remote is None:
        return local is None or local is False or bool(local == "")
    if isinstance(local, bool) or isinstance(remote, bool):
        return bool(local == remote)
    return str(local) == str(remote)


def commands_changed(local: Sequence[Mapping[str, Any]], remote: Sequence[Mapping[str, Any]],
                     installs: Sequence[int] = (GUILD_INSTALL,)) -> bool:
    """Does Discord's set of commands differ from ours, Discord's defaults applied to both sides?"""
    mine = {(c["name"], c.get("type") or 1): with_discord_defaults(c, installs) for c in local}
    theirs = {(c["name"], c.get("type") or 1): with_discord_defaults(c, installs) for c in remote}
    if mine.keys() != theirs.keys():
        return True
    return not all(same_definition(mine[key], theirs[key]) for key in mine)


async def sync_if_changed(tree: app_commands.CommandTree[discord.Client], guild_ids: Sequence[int]) -> list[str]:
    """Bulk-overwrite commands only where Discord's copy differs (sync is rate limited: ~200 a day).

    With `guild_ids` the commands go to those guilds only (instant, for test
    servers); otherwise they are global. Returns where a sync happened.
    """
    client = tree.client
    app_id = client.application_id
    assert app_id is not None, "log in before syncing commands"
    targets: list[discord.Object | None] = [discord.Object(id=gid) for gid in guild_ids] or [None]
    synced = []
    for guild in targets:
        if guild is not None:
            tree.copy_global_to(guild=guild)
        local = [command.to_dict(tree) for command in tree.get_commands(guild=guild)]
        if guild is None:
            remote = await client.http.get_global_commands(app_id)
        else:
            remote = await client.http.get_guild_commands(app_id, guild.id)
        where = f"guild {guild.id}" if guild is not None else "global"
        if commands_changed(local, list(remote), installation_contexts(client)):
            await tree.sync(guild=guild)
            synced.append(where)
            log.info("discord: slash commands synced (%s)", where)
        else:
            log.info("discord: slash commands unchanged (%s); not syncing", where)
    return synced


CLOSE_CODES_OF_CONFIG = {4010: "Discord refused the shard (invalid shard: check [discord] shard_count and shard_ids)",
                         4011: "Discord requires more shards (a shard may carry at most 2,500 servers):"
                               " raise [discord] shard_count, or leave it out to use Discord's recommendation"}


class DiscordGateway:
    """`run`: the Discord adapter's client on the gateway, in shards, answering slash commands (a `Service`).

    `start` asks Discord how many shards to run (`GET /gateway/bot`) unless `[discord] shard_count` says,
    and runs all of them, or `[discord] shard_ids`. It raises ConfigError only for what cannot work with
    this token or config (refused, intents not allowed, too few shards); anything else (Discord
    unreachable, a 5xx, no session starts left today) raises for `keep_connecting` to retry. A command
    sync Discord cannot take now does not hold the gateway back: it is retried beside it.

    Who answers: with every shard here, the process holding the worker lease (a standby is on the
    gateway too and receives the same interactions). With `shard_ids`, each process answers its own
    shards' servers whatever the lease: no other process receives them. Servers joining and leaving
    are told to `on_tenant_joined` / `on_tenant_left` by the same process.
    """

    name = "discord"

    def __init__(self, adapter: DiscordAdapter, db: Database, settings: Settings,
                 next_poll: Callable[[], datetime | None] = lambda: None, defer_after: float = DEFER_AFTER,
                 ready_timeout: float = READY_TIMEOUT, is_active: Callable[[], bool] = lambda: True,
                 on_tenant_joined: TenantJoined = no_tenant_joined, on_tenant_left: TenantLeft = no_tenant_left,
                 kick_delivery: Callable[[], None] = lambda: None) -> None:
        self.adapter = adapter
        self.client: ShardedClient = adapter.client
        self.settings = settings
        self.answers: Callable[[], bool] = (lambda: True) if settings.discord.shard_ids is not None else is_active
        self.tree = build_tree(self.client, db, settings, next_poll, defer_after, self.answers, kick_delivery)
        self.ready_timeout = ready_timeout
        self.on_tenant_joined = on_tenant_joined
        self.on_tenant_left = on_tenant_left
        self.plan: ShardPlan | None = None
        self._down: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self._sync: asyncio.Task[None] | None = None
        self._synced = False
        for handler in (self.on_guild_join, self.on_guild_remove, self.on_shard_ready, self.on_shard_disconnect,
                        self.on_shard_connect, self.on_shard_resumed):
            setattr(self.client, handler.__name__, handler)  # what discord.py's `client.event` does

    def shard_states(self) -> list[ShardState]:
        """Each of this process's shards: connected, disconnected or waiting, its latency and servers (/healthz)."""
        return shard_states(self.client, self.plan)

    def _shard_name(self, shard_id: int) -> str:
        count = self.plan.count if self.plan is not None else "?"
        return f"shard {shard_id}/{count}"

    async def on_shard_ready(self, shard_id: int) -> None:
        servers = sum(1 for guild in self.client.guilds if guild.shard_id == shard_id)
        log.info("discord: %s ready: %d server%s", self._shard_name(shard_id), servers, "s" if servers != 1 else "")

    async def on_shard_connect(self, shard_id: int) -> None:
        if shard_id in self._down:
            self._down.discard(shard_id)
            log.info("discord: %s connected again", self._shard_name(shard_id))

    async def on_shard_resumed(self, shard_id: int) -> None:
        await self.on_shard_connect(shard_id)

    async def on_shard_disconnect(self, shard_id: int) -> None:
        if shard_id not in self._down and not self.client.is_closed():
            self._down.add(shard_id)
            log.warning("discord: %s disconnected; discord.py reconnects it, its servers' commands wait",
                        self._shard_name(shard_id))

    async def on_guild_join(self, guild: discord.Guild) -> None:
        if not self.answers():
            return
        log.info("discord: added to server %s (%s) on %s", guild.id, guild.name, self._shard_name(guild.shard_id))
        await self._tell_tenants("joined", guild.id, self.on_tenant_joined("discord", str(guild.id), guild.name))

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Kicked, banned, or the server deleted (an outage is `guild_unavailable`, not this)."""
        if not self.answers():
            return
        log.info("discord: removed from server %s (%s)", guild.id, guild.name)
        await self._tell_tenants("left", guild.id, self.on_tenant_left("discord", str(guild.id)))

    @staticmethod
    async def _tell_tenants(what: str, guild_id: int, call: Awaitable[None]) -> None:
        """A store that fails now is one line; discord.py would print a traceback and nobody would retry."""
        try:
            await call
        except Exception as exc:
            log.error("discord: recording that server %s %s failed (%s: %s)", guild_id, what, type(exc).__name__, exc)
            log.debug("tenant callback failure", exc_info=True)

    async def start(self) -> None:
        use_api_base(self.settings.discord.api_base)
        try:
            async with asyncio.timeout(LOGIN_TIMEOUT):
                await self.adapter.login()
                self.plan = await self._plan_shards()
        except TimeoutError:
            raise DeliveryError(f"no answer from Discord within {LOGIN_TIMEOUT:.0f}s") from None
        except (discord.HTTPException, discord.GatewayNotFound, aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(f"cannot reach Discord: {exc}") from None
        if not self._synced and (self._sync is None or self._sync.done()):
            try:
                await sync_if_changed(self.tree, self.settings.discord.guild_ids)
                self._synced = True
            except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
                self._sync = asyncio.create_task(self._keep_syncing(exc), name="discord-command-sync")
        await self._reach_gateway()
        if self.client.application_id is not None:
            log.info("discord: answering slash commands; invite the bot with %s",
                     invite_url(self.client.application_id))
        self._task = asyncio.create_task(self.client.connect(reconnect=True), name="discord-gateway")
        ready = asyncio.create_task(self.client.wait_until_ready())
        done, _ = await asyncio.wait({ready, self._task}, timeout=self.ready_timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            ready.cancel()
            try:
                self._task.result()  # the gateway refused us (bad intents, token, shards): say so now
            except (discord.LoginFailure, discord.PrivilegedIntentsRequired) as exc:
                raise ConfigError(f"Discord refused the gateway connection: {exc}") from None
            except discord.ConnectionClosed as exc:
                if exc.code in CLOSE_CODES_OF_CONFIG:
                    raise ConfigError(f"{CLOSE_CODES_OF_CONFIG[exc.code]} (close code {exc.code})") from None
                raise
            except AttributeError:
                if self.client.ws is not None:
                    raise
                # It went away between `_reach_gateway` and `connect`: discord.py's retry needs a socket.
                raise DeliveryError("Discord's gateway stopped answering before the bot connected"
                                    " (discord.py said why above)") from None
        elif ready not in done:
            ready.cancel()
            states = self.shard_states()
            connected = sum(state.state == "connected" for state in states)
            log.warning("discord: gateway not ready after %.0fs (%d of %d shards connected); still trying"
                        " (shards identify %d per %.0f s)", self.ready_timeout, connected, len(states),
                        self.client.identify_queue.max_concurrency, self.client.identify_queue.window)

    async def _keep_syncing(self, first: Exception) -> None:
        """Retry the command sync with backoff while Discord cannot take it (503, unreachable)."""
        failures, error = 0, first
        while True:
            failures += 1
            wait = RECONNECT.delay(failures)
            log.log(logging.WARNING if failures == 1 else logging.INFO,
                    "discord: slash command sync failed (%s); retrying in %.0fs, commands synced before still work",
                    error, wait)
            await asyncio.sleep(wait)
            try:
                await sync_if_changed(self.tree, self.settings.discord.guild_ids)
            except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
                error = exc
                continue
            self._synced = True
            log.info("discord: slash commands synced after %d failed attempt(s)", failures)
            return

    async def _reach_gateway(self) -> None:
        """Open a websocket to the gateway, and close it, before discord.py's `connect` runs.

        discord.py retries a gateway it lost, but not one it never reached: its retry reads the
        last socket's sequence, and before the first connection there is none (AttributeError:
        'NoneType' object has no attribute 'sequence'). So the first contact is ours: an
        unreachable gateway is a DeliveryError naming the connection error, which
        `keep_connecting` retries with backoff, and `connect` only runs once the gateway answers.
        """
        gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        url = gateway.with_query(v=discord.http.INTERNAL_API_VERSION, encoding="json")
        try:
            async with asyncio.timeout(LOGIN_TIMEOUT):
                socket = await self.client.http.ws_connect(str(url))
                await socket.close()
        except TimeoutError:
            raise DeliveryError(f"Discord's gateway {gateway} did not answer within {LOGIN_TIMEOUT:.0f}s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(f"Discord's gateway {gateway} cannot be reached ({connection_error(exc)})") from None

    async def _plan_shards(self) -> ShardPlan:
        """`GET /gateway/bot`: the shard count Discord recommends, the identify limits, and the gateway's URL
        (a proxy or test server in `api_base` names its own; discord.py would dial Discord's)."""
        recommended, url, limit = await self.client.http.get_bot_gateway()
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        config = self.settings.discord
        plan = plan_shards(recommended, SessionStartLimit.from_payload(limit), config.shard_count, config.shard_ids)
        if config.shard_count is not None and config.shard_count < recommended:
            log.warning("discord: [discord] shard_count = %d is fewer than the %d shards Discord recommends;"
                        " Discord refuses a shard past 2,500 servers", config.shard_count, recommended)
        self.client.use_plan(plan)
        log.info("discord: %s", plan.describe())
        return plan

    async def close(self) -> None:
        if self._sync is not None and not self._sync.done():
            self._sync.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sync
        await self.client.close()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 5)
            except (Exception, asyncio.CancelledError):
                log.debug("discord gateway task ended", exc_info=True)
