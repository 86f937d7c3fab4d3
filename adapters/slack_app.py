"""The slash command in Slack (`/trending …`) through slack_bolt: Socket Mode by default, HTTP mode optional.

Transport and parsing only. The words after the command are split into a
subcommand and its arguments (`parse_command`, pure), which call the same
platform-neutral handlers as Discord (`bot.commands`, `bot.commands.channel_settings`);
the answer `Message` is rendered as Block Kit. Every command is acknowledged
at once (Slack gives 3 s) and answered through its `response_url`, so a slow
answer (a cold database, a big history) never times out.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions, AsyncFailureArgs, AsyncSuccessArgs
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack_installs import (
    ROTATE_BEFORE_MINUTES,
    STATE_SECONDS,
    StoredInstallations,
    StoredOAuthStates,
    TenantJoined,
    TenantLeft,
    nobody_joined,
    nobody_left,
)
from adapters.slack_render import render
from bot.commands.answers import model_message, share_message, share_view, trending_message, trending_view
from bot.commands.caller import Caller, CommandError, clean_input, echo, parse_country
from bot.commands.channel_lists import ChannelLists, parse_filter_words
from bot.commands.channel_settings import ChannelSettings
from bot.commands.format import ChannelFormat
from bot.commands.silences import USAGE, ChannelSilences
from bot.commands.subscriptions import split_subscription
from bot.commands.threads import ThreadSettings
from bot.config import ConfigError, Secrets, Settings, check_slack_oauth, configured_lists, list_named
from bot.delivery.templates import STYLES
from bot.domain.messages import Message, line
from bot.domain.snapshot import DEFAULT_LIST
from bot.log import get_logger
from store.db import Database

log = get_logger(__name__)

MAX_COUNT = 50
#: users.info fields that make a workspace admin (Slack sends JSON booleans).
ADMIN_FIELDS = ("is_admin", "is_owner", "is_primary_owner")
# Admin-only actions (`test` changes no setting, but posts in the channel: admins only, like the rest).
SETTING_CHANGES = frozenset({"subscribe", "unsubscribe", "rule", "mention", "mute", "filter", "watch", "unwatch",
                             "test", "format", "silence", "unsilence", "threads"})
# Reads of a channel's settings, for everyone.
CHANNEL_READS = frozenset({"status", "silences"})
EVENTS_PATH = "/slack/events"
CONNECT_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    """`action` is one of trending, share, model, subscribe, unsubscribe, rule, mention, mute, status, help."""

    action: str
    args: tuple[str, ...] = ()


def parse_command(text: str, lists: Collection[str] = (DEFAULT_LIST,)) -> ParsedCommand:
    """The words after `/trending` → what was asked. Anything unrecognised asks for help.

    `lists` are the configured list names: `spaces 5` asks for the top 5 of the `spaces` list.
    """
    words = tuple(text.split())
    if not words:
        return ParsedCommand("trending")
    head, rest = words[0].lower(), words[1:]
    if head in lists and len(rest) <= 2 and all(w.isdigit() or (len(w) == 2 and w.isalpha()) for w in rest):
        return ParsedCommand("trending", (head, *rest))
    if head in ("share", "model", "help"):
        return ParsedCommand(head, rest)
    if head == "alerts":
        if rest and rest[0].lower() in SETTING_CHANGES | CHANNEL_READS:
            return ParsedCommand(rest[0].lower(), rest[1:])
        return ParsedCommand("help", ("alerts",))
    if len(words) <= 2 and all(is_number(word) or (len(word) == 2 and word.isalpha()) for word in words):
        return ParsedCommand("trending", words)
    return ParsedCommand("help", (words[0],))


def help_message(command: str, unknown: str | None = None) -> Message:
    intro = [line(f"I don't know '{echo(unknown)}'. Here is what I can do:")] if unknown else []
    usage = [
        f"{command} [count] [country] — the trending top list now (e.g. `{command} 5 CN`)",
        f"{command} [list] [count] [country] — another list (e.g. `{command} spaces 5`)",
        f"{command} share [days] [list] — each country's share of the top list",
        f"{command} model <org/name> — one model's history in the list",
        f"{command} alerts subscribe [entered,share,digest,left,climber,digest-daily]"
        " — alerts in this channel (admins)",
        f"{command} alerts unsubscribe — stop them (admins)",
        f"{command} alerts rule [add|remove] <CC> above|below <percent> — a share rule here (admins)",
        f"{command} alerts mention @group|here|off — who alerts ping (admins)",
        f"{command} alerts mute <30m|2h|1d|off> — pause alerts for a while (admins)",
        f"{command} alerts filter lists=models,spaces countries=CN tasks=… authors=… derivatives=false"
        " — what this channel hears (admins; `filter clear` resets)",
        f"{command} alerts watch <author|org/name> [list] — be told when it shows up (admins)",
        f"{command} alerts unwatch <author|org/name> [list] — stop watching (admins)",
        f"{command} alerts format compact|full|custom <template> — how alerts about models look, e.g."
        " custom {rank}. {country_flag} {id} (admins)",
        f"{command} alerts silence author:NAME|model:org/name|kind:KIND|country:CC <30m|2h|7d> — hold back"
        " matching alerts here for a while, recorded but not sent (admins; at most 90d)",
        f"{command} alerts silences — this channel's silences: id, matcher, ends in, set by",
        f"{command} alerts unsilence <id> — end a silence early (admins)",
        f"{command} alerts threads on|off|broadcast [subscription:NAME] — follow-ups in their model's thread"
        " (admins)",
        f"{command} alerts test — post one sample of each alert this channel gets, marked as a test (admins)",
        f"{command} alerts status — what this channel gets, every subscription of it",
        f"Several subscriptions in one channel: add subscription:NAME to any alerts command but mute"
        f" (e.g. `{command} alerts subscribe entered subscription:china`); without it, the one named default",
    ]
    return Message(kind="help", title=f"How to use {command}", lines=(*intro, *(line(u) for u in usage)),
                   ephemeral=True)


def error_message(exc: CommandError) -> Message:
    return Message(kind="error", title="That did not work", lines=(line(str(exc)),), ephemeral=True)


def parse_mention(target: str) -> str | None:
    """What Slack sends for `@group` (`<!subteam^S…|@group>`), `@here`, or a bare id → the stored mention."""
    text = target.strip()
    lowered = text.lower().lstrip("@")
    if lowered in ("off", "none", "nobody"):
        return None
    if lowered in ("here", "channel", "<!here>", "<!channel>"):
        return lowered.strip("<!>")
    if text.startswith("<!subteam^"):
        group = text[len("<!subteam^"):].split("|")[0].rstrip(">")
        if group.startswith("S") and group.isalnum():
            return group
    if text.startswith("S") and text.isalnum() and text.isupper():
        return text
    raise CommandError(f"'{echo(target)}' is not a user group: type @ and pick a group, or use here or off.")


_NUMBER = re.compile(r"[0-9]{1,9}")


_FORMAT_HEAD = re.compile(r"^\s*alerts\s+format\b\s*", re.IGNORECASE)
_SUBSCRIPTION = re.compile(r"(?:^|\s)subscription:(\S*)")


def parse_format(text: str) -> tuple[str | None, str | None, str | None]:
    """`alerts format custom {rank}. {id} subscription:china` → (style, template, subscription).

    Read from the command's raw text, not its words, so a template keeps its spaces; Slack sends `&`, `<` and `>`
    escaped in a command's text, so they are unescaped here (the renderer escapes them again). A first word that
    is no style starts a template: `alerts format {rank}. {id}` is a custom one.
    """
    rest = _FORMAT_HEAD.sub("", text, count=1)
    subscription = None
    if found := _SUBSCRIPTION.search(rest):
        subscription = found.group(1) or None
        rest = rest[: found.start()] + rest[found.end():]
    rest = rest.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()
    if not rest:
        return None, None, subscription
    first, _, template = rest.partition(" ")
    if first.lower() in STYLES:
        return first.lower(), template.strip() or None, subscription
    return None, rest, subscription


def is_number(word: str) -> bool:
    """ASCII digits only: `'²'.isdigit()` and `'①'.isdigit()` are True, yet `int()` refuses both."""
    return _NUMBER.fullmatch(word) is not None


def _number(text: str, what: str, low: int, high: int) -> int:
    if not is_number(text) or not low <= int(text) <= high:
        raise CommandError(f"'{echo(text)}' is not a valid {what}: give a whole number from {low} to {high}.")
    return int(text)


def admin_in_profile(user: str, profile: object) -> bool:
    """Parse users.info's `user` at the edge: only a JSON `true` in an admin field makes an admin.

    Anything else (`"false"`, `1`, a list, a missing profile) is not admin, and a field of the
    wrong type gets one warning naming it: `bool("false")` would have made a plain user an admin.
    """
    if not isinstance(profile, dict):
        log.warning("users.info for %s answered no user object: treating as not an admin", user)
        return False
    odd = [f"{name}={profile[name]!r}" for name in ADMIN_FIELDS
           if name in profile and not isinstance(profile[name], bool)]
    if odd:
        log.warning("users.info for %s answered %s, not true/false: treating as not an admin", user, ", ".join(odd))
    return any(profile.get(name) is True for name in ADMIN_FIELDS)


class SlashCommands:
    """Turns one slash command into a call of the platform-neutral handlers; knows who may change settings."""

    def __init__(self, db: Database, settings: Settings, client: AsyncWebClient,
                 next_poll: Callable[[], datetime | None] = lambda: None,
                 installations: StoredInstallations | None = None,
                 kick_delivery: Callable[[], None] = lambda: None) -> None:
        """`installations`: with "Add to Slack", where each channel's workspace is remembered for delivery;
        `kick_delivery`: a delivery pass now (`alerts test`)."""
        self.db = db
        self.installations = installations
        self.settings = settings
        self.client = client
        self.channel_settings = ChannelSettings(db, settings, next_poll, kick_delivery=kick_delivery)
        self.thread_settings = ThreadSettings(db, self.channel_settings.clock)
        self.channel_lists = ChannelLists(db, settings)
        self.channel_format = ChannelFormat(db)
        self.silences = ChannelSilences(db)
        self.list_names = tuple(spec.name for spec in configured_lists(settings))

    async def is_admin(self, user: str, client: AsyncWebClient | None = None) -> bool:
        """Workspace admins and owners, and the user ids listed in `[slack] admins`; asked with the caller's
        workspace's token (`client`, given by Bolt per request) where workspaces install the app."""
        if user in self.settings.slack.admins:
            return True
        try:
            info = await (client or self.client).users_info(user=user)
        except SlackApiError as exc:
            log.warning("users.info for %s failed (%s): treating as not an admin", user, exc.response.get("error"))
            return False
        except (aiohttp.ClientError, TimeoutError) as exc:  # Slack unreachable: refuse the change, answer anyway
            log.warning("users.info for %s: Slack cannot be reached (%s): treating as not an admin", user,
                        type(exc).__name__)
            return False
        return admin_in_profile(user, info.get("user"))

    async def answer(self, payload: dict[str, Any], client: AsyncWebClient | None = None) -> Message:
        parsed = parse_command(str(payload.get("text", "")), self.list_names)
        try:
            return await self._answer(parsed, payload, client)
        except CommandError as exc:
            return error_message(exc)

    async def _answer(self, parsed: ParsedCommand, payload: dict[str, Any],
                      client: AsyncWebClient | None = None) -> Message:
        action, args = parsed.action, parsed.args
        conn = self.db.conn
        if action == "trending":
            count = country = None
            spec = list_named(self.settings, None)
            for word in args:
                if is_number(word):
                    count = _number(word, "count", 1, MAX_COUNT)
                elif word.lower() in self.list_names:
                    spec = list_named(self.settings, word)
                else:
                    country = parse_country(word)
            return trending_message(await trending_view(conn, count, country, spec.name, spec.kind), country)
        if action == "share":
            numbers = [word for word in args if word.isdigit()]
            names = [word.lower() for word in args if not word.isdigit()]
            if len(numbers) > 1 or len(names) > 1 or (names and names[0] not in self.list_names):
                raise CommandError(f"Use: share [days] [list]; lists: {', '.join(self.list_names)}")
            days = _number(numbers[0], "number of days", 1, 366) if numbers else 7
            return share_message(await (share_view(conn, days, names[0]) if names else share_view(conn, days)))
        if action == "model":
            if len(args) != 1:
                raise CommandError("Use: model <org/name>, e.g. model Qwen/Qwen3-8B")
            return await model_message(conn, args[0])
        if action == "help":
            unknown = args[0] if args and args[0].lower() not in ("alerts",) else None
            return help_message(self.settings.slack.command, unknown)
        return await self._alerts(action, args, payload, client)

    async def _alerts(self, action: str, args: tuple[str, ...], payload: dict[str, Any],
                      client: AsyncWebClient | None = None) -> Message:
        user = str(payload.get("user_id", ""))
        if self.installations is not None and payload.get("team_id") and payload.get("channel_id"):
            await self.installations.remember_channel(str(payload["channel_id"]), str(payload["team_id"]),
                                                      str(payload.get("enterprise_id") or "") or None)
        admin = await self.is_admin(user, client) if action in SETTING_CHANGES else False
        team = str(payload.get("team_id") or "") or None  # the workspace the command came from: the tenant
        caller = Caller("slack", str(payload.get("channel_id", "")), user, admin, tenant=team,
                        tenant_name=str(payload.get("team_domain") or ""),
                        user_name=str(payload.get("user_name") or ""))
        settings = self.channel_settings
        name, args = split_subscription(args)  # `subscription:NAME` anywhere: which subscription of the channel
        if action == "subscribe":
            return await settings.subscribe(caller, " ".join(args) or None, name)
        if action == "unsubscribe":
            return await settings.unsubscribe(caller, name)
        if action == "status":
            return await settings.status(caller, name)
        if action == "test":
            return await settings.test(caller, name)
        if action == "format":
            style, template, subscription = parse_format(clean_input(str(payload.get("text", ""))))
            return await self.channel_format.set_format(caller, style, template, subscription)
        if action in ("silence", "silences", "unsilence") and name is not None:
            raise CommandError("A silence holds back alerts of the whole channel, every subscription of it:"
                               " leave out subscription:NAME.")
        if action == "silence":
            if len(args) != 2:
                raise CommandError(USAGE)
            return await self.silences.silence(caller, args[0], args[1])
        if action == "silences":
            return await self.silences.silences(caller)
        if action == "unsilence":
            if len(args) != 1:
                raise CommandError("Use: alerts unsilence ID, as `alerts silences` lists them (e.g. unsilence 3)")
            return await self.silences.unsilence(caller, args[0])
        if action == "threads":
            if len(args) != 1:
                raise CommandError("Use: alerts threads on|off|broadcast [subscription:NAME]")
            return await self.thread_settings.set(caller, args[0], name)
        if action == "mute":
            if name is not None:
                raise CommandError("A mute quiets the whole channel, every subscription of it: leave out"
                                   " subscription:NAME (or change that subscription's kinds).")
            if len(args) != 1:
                raise CommandError("Use: alerts mute <30m|2h|1d|off>")
            return await settings.mute(caller, args[0])
        if action == "filter":
            if [word.lower() for word in args] == ["clear"]:
                return await self.channel_lists.set_filter(caller, {}, clear=True, subscription=name)
            return await self.channel_lists.set_filter(caller, parse_filter_words(list(args)), subscription=name)
        if action in ("watch", "unwatch"):
            if len(args) not in (1, 2):
                raise CommandError(f"Use: alerts {action} <author|org/name> [list] [subscription:NAME]")
            if action == "watch":
                return await self.channel_lists.watch(caller, args[0], args[1] if len(args) > 1 else None, name)
            return await self.channel_lists.unwatch(caller, args[0], args[1] if len(args) > 1 else None, name)
        if action == "mention":
            if len(args) != 1:
                raise CommandError("Use: alerts mention @group|here|off [subscription:NAME]")
            return await settings.mention(caller, parse_mention(args[0]), name)
        # rule [add|remove] <CC> above|below <percent> [top_n|known|certain]
        verb = "add"
        if args and args[0].lower() in ("add", "remove"):
            verb, args = args[0].lower(), args[1:]
        if len(args) not in (3, 4) or (verb == "remove" and len(args) != 3):
            raise CommandError("Use: alerts rule [add|remove] <CC> above|below <percent> [known|certain],"
                               " e.g. rule add CN above 50")
        country, direction, percent = args[0], args[1].lower(), args[2]
        if verb == "remove":
            return await settings.remove_rule(caller, country, direction, percent, name)
        return await settings.add_rule(caller, country, direction, percent, args[3] if len(args) == 4 else None, name)


class SlackFaultsInOneLine(logging.Filter):
    """slack_sdk's Socket Mode client logs a failed reconnect with `logger.exception`: a refused token
    while it is being fixed, or Slack unreachable, would print a traceback every time. Those are
    platform faults, not bugs: one WARNING line naming the error; anything else keeps its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, SlackApiError):
            reason = str(error.response.get("error") or error.response.status_code)
        elif isinstance(error, (aiohttp.ClientError, OSError, TimeoutError)):
            reason = f"{type(error).__name__} {error}".strip()
        else:
            return True
        record.msg = f"slack: Socket Mode could not reconnect ({reason}); slack_sdk tries again"
        record.args = None
        record.exc_info = record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


SOCKET_LOG = get_logger("adapters.slack_app.socket")
SOCKET_LOG.addFilter(SlackFaultsInOneLine())


def build_bolt_app(commands: SlashCommands, signing_secret: str | None, verify_requests: bool,
                   oauth: AsyncOAuthSettings | None = None, on_tenant_left: TenantLeft = nobody_left) -> AsyncApp:
    """One listener for the configured command; ack first, answer through the response URL.

    With `oauth` ("Add to Slack"), Bolt serves the install flow and authorizes each request with the
    workspace's own token from the installation store; `app_uninstalled` and `tokens_revoked` (of the
    bot) remove the workspace's installation and tell the app (`on_tenant_left("slack", team_id)`).
    """
    bolt_logger = get_logger("adapters.slack_app.bolt")
    if oauth is None:
        app = AsyncApp(client=commands.client, signing_secret=signing_secret or "",
                       request_verification_enabled=verify_requests, process_before_response=False,
                       logger=bolt_logger)
    else:
        # The token rotator of Bolt's own authorize must reach the same API as everything else ([slack] api_url).
        authorize = AsyncInstallationStoreAuthorize(
            logger=bolt_logger, installation_store=oauth.installation_store, client_id=oauth.client_id,
            client_secret=oauth.client_secret, token_rotation_expiration_minutes=ROTATE_BEFORE_MINUTES,
            client=commands.client)
        if isinstance(oauth.installation_store, StoredInstallations) and oauth.installation_store.rotator is not None:
            authorize.token_rotator = oauth.installation_store.rotator  # one rotation at a time, shared with delivery
        app = AsyncApp(client=commands.client, signing_secret=signing_secret or "", oauth_settings=oauth,
                       authorize=authorize,  # type: ignore[arg-type]  # an AsyncAuthorize, which Bolt accepts
                       request_verification_enabled=verify_requests,
                       process_before_response=False, logger=bolt_logger)
        installations = oauth.installation_store

        async def left(context: AsyncBoltContext, why: str) -> None:
            team = context.team_id or context.enterprise_id or ""
            await installations.async_delete_all(enterprise_id=context.enterprise_id, team_id=context.team_id)
            log.info("slack: workspace %s %s; its installation is removed and its channels stop", team, why)
            await on_tenant_left("slack", team)

        @app.event("app_uninstalled")
        async def on_uninstalled(context: AsyncBoltContext) -> None:
            await left(context, "uninstalled the app")

        @app.event("tokens_revoked")
        async def on_revoked(event: dict[str, Any], context: AsyncBoltContext) -> None:
            tokens = event.get("tokens") or {}
            if tokens.get("bot"):
                await left(context, "revoked the bot's token")
            for user in tokens.get("oauth") or []:
                await installations.async_delete_installation(enterprise_id=context.enterprise_id,
                                                              team_id=context.team_id, user_id=str(user))

    @app.command(commands.settings.slack.command)
    async def on_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond,
                         client: AsyncWebClient) -> None:
        await ack()
        message = await commands.answer(command, client if oauth is not None else None)
        post = render(message)
        what = f"{commands.settings.slack.command} {command.get('text', '')}".strip()
        try:
            answer = await respond(text=post.text, blocks=post.blocks, replace_original=False,
                                   response_type="ephemeral" if message.ephemeral else "in_channel")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:  # Slack's side: one line, no traceback
            log.warning("slack: could not answer '%s' through its response_url (%s)", what,
                        f"{type(exc).__name__} {exc}".strip())
            return
        if answer.status_code != 200:  # expired (30 min) or used up (5 answers): Slack says so in the body
            log.warning("slack: the response_url of '%s' answered HTTP %d (%s)", what, answer.status_code,
                        str(answer.body)[:100])

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.exception("slash command failed: %s", body.get("text"), exc_info=error)

    return app


#: Answers to apps.connections.open that no retry can change: the app token is wrong.
REFUSED_APP_TOKEN = frozenset({"invalid_auth", "not_authed", "not_allowed_token_type", "token_revoked",
                               "account_inactive", "missing_scope", "token_expired"})


class SlackUnreachable(Exception):
    """Socket Mode cannot connect now (Slack unreachable, 5xx, slow): `keep_connecting` tries again."""


class SlackSocketService:
    """Socket Mode: an outbound websocket, so the bot needs no public URL.

    A refused app token is a ConfigError (no retry helps: the token comes from the environment at
    start); anything else that stops the connection now raises SlackUnreachable, to be retried.
    """

    name = "slack"

    def __init__(self, app: AsyncApp, app_token: str, connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.app = app
        self.app_token = app_token
        self.connect_timeout = connect_timeout
        self.handler: AsyncSocketModeHandler | None = None

    async def start(self) -> None:
        # connect_async() retries forever when the token is refused: ask once ourselves for a clear error.
        try:
            await self.app.client.apps_connections_open(app_token=self.app_token)
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in REFUSED_APP_TOKEN:
                raise ConfigError(f"Slack refused SLACK_APP_TOKEN ({error}): it must be an app-level token"
                                  " (xapp-…) with the connections:write scope") from None
            raise SlackUnreachable(f"apps.connections.open answered {error or exc.response.status_code}") from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise SlackUnreachable(f"cannot reach Slack: {type(exc).__name__} {exc}".strip()) from None
        self.handler = AsyncSocketModeHandler(self.app, app_token=self.app_token, logger=SOCKET_LOG)
        try:
            await asyncio.wait_for(self.handler.connect_async(), self.connect_timeout)  # type: ignore[no-untyped-call]
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            await self.close()
            raise SlackUnreachable(f"Socket Mode did not connect within {self.connect_timeout:g} s"
                                   f" ({type(exc).__name__})") from None
        log.info("slack: Socket Mode connected; answering %s", self.app_name)

    @property
    def app_name(self) -> str:
        return str(self.app.name)

    async def close(self) -> None:
        if self.handler is not None:
            await self.handler.close_async()  # type: ignore[no-untyped-call]
            self.handler = None


class SlackHttpService:
    """HTTP mode: Slack POSTs signed requests to `http://host:port/slack/events`; bad signatures get 401."""

    name = "slack"

    def __init__(self, app: AsyncApp, port: int, host: str = "0.0.0.0") -> None:
        self.app = app
        self.port = port
        self.host = host
        self.runner: web.AppRunner | None = None
        self.extra_routes: list[web.RouteDef] = []

    def add_routes(self, routes: list[web.RouteDef]) -> None:
        """Other routes on this server (`/healthz`, `/metrics`): a host gives a process one port. Before `start`."""
        self.extra_routes.extend(routes)

    async def _handle(self, request: web.Request) -> web.Response:
        return await to_aiohttp_response(await self.app.async_dispatch(await to_bolt_request(request)))

    async def _install(self, request: web.Request) -> web.Response:
        """`/slack/install`: the "Add to Slack" page (a state cookie, and the link to Slack's authorize page)."""
        flow = self.app.oauth_flow
        assert flow is not None
        return await to_aiohttp_response(await flow.handle_installation(await to_bolt_request(request)))

    async def _oauth_redirect(self, request: web.Request) -> web.Response:
        """`/slack/oauth_redirect`: Slack sends the installer back with a code; Bolt trades it and stores the tokens."""
        flow = self.app.oauth_flow
        assert flow is not None
        return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

    async def start(self) -> None:
        web_app = web.Application()
        web_app.router.add_post(EVENTS_PATH, self._handle)
        if (flow := self.app.oauth_flow) is not None:
            web_app.router.add_get(flow.install_path, self._install)
            web_app.router.add_get(flow.redirect_uri_path, self._oauth_redirect)
        web_app.add_routes(self.extra_routes)
        self.runner = web.AppRunner(web_app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        log.info("slack: HTTP mode listening on %s:%d%s", self.host, self.bound_port, EVENTS_PATH)

    @property
    def bound_port(self) -> int:
        """The port really bound (tests pass 0)."""
        if self.runner is None or not self.runner.addresses:
            return self.port
        return int(self.runner.addresses[0][1])

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


def oauth_settings(settings: Settings, secrets: Secrets, installations: StoredInstallations,
                   states: StoredOAuthStates, on_tenant_joined: TenantJoined = nobody_joined) -> AsyncOAuthSettings:
    """Bolt's OAuth settings from ours: the app's id and secret, the scopes to ask, where Slack's pages are.

    A finished install tells the app (`on_tenant_joined("slack", team_id, team name)`) before Bolt's own
    success page; a failed one (cancelled, a spent or forged state, a code Slack refused) is one log line.
    """
    assert secrets.slack_client_id is not None and secrets.slack_client_secret is not None  # check_slack_oauth

    async def installed(args: AsyncSuccessArgs) -> BoltResponse:
        found = args.installation
        team = found.team_id or found.enterprise_id or ""
        log.info("slack: workspace %s (%s) installed the app", team, found.team_name or found.enterprise_name)
        await on_tenant_joined("slack", team, found.team_name or found.enterprise_name or team)
        return await args.default.success(args)

    async def not_installed(args: AsyncFailureArgs) -> BoltResponse:
        log.warning("slack: an install did not finish (%s)", args.reason)
        return await args.default.failure(args)

    return AsyncOAuthSettings(
        callback_options=AsyncCallbackOptions(success=installed, failure=not_installed),
        client_id=secrets.slack_client_id.get_secret_value(),
        client_secret=secrets.slack_client_secret.get_secret_value(),
        scopes=list(settings.slack.scopes), user_scopes=[], authorization_url=settings.slack.authorize_url,
        installation_store=installations, state_store=states, state_expiration_seconds=STATE_SECONDS,
        token_rotation_expiration_minutes=ROTATE_BEFORE_MINUTES, logger=get_logger("adapters.slack_app.bolt"))


def build_oauth_service(settings: Settings, secrets: Secrets, db: Database, installations: StoredInstallations,
                        next_poll: Callable[[], datetime | None] = lambda: None,
                        on_tenant_left: TenantLeft = nobody_left,
                        on_tenant_joined: TenantJoined = nobody_joined,
                        kick_delivery: Callable[[], None] = lambda: None) -> SlackHttpService:
    """HTTP mode with "Add to Slack": install pages, events and commands, each answered with its workspace's token."""
    check_slack_oauth(settings, secrets)
    assert secrets.slack_signing_secret is not None
    client = AsyncWebClient(base_url=settings.slack.api_url)  # no token: Bolt sets each request's own
    commands = SlashCommands(db, settings, client, next_poll, installations=installations,
                             kick_delivery=kick_delivery)
    oauth = oauth_settings(settings, secrets, installations, StoredOAuthStates(db), on_tenant_joined)
    app = build_bolt_app(commands, secrets.slack_signing_secret.get_secret_value(), verify_requests=True,
                         oauth=oauth, on_tenant_left=on_tenant_left)
    return SlackHttpService(app, settings.slack.port)


def build_slack_service(settings: Settings, secrets: Secrets, db: Database,
                        next_poll: Callable[[], datetime | None] = lambda: None,
                        kick_delivery: Callable[[], None] = lambda: None,
                        ) -> SlackSocketService | SlackHttpService | None:
    """The slash command service for `run`, or None (with a log line saying which secret is missing)."""
    slack = settings.slack
    if not slack.enabled:
        return None
    if secrets.slack_bot_token is None:
        log.warning("[slack] enabled but SLACK_BOT_TOKEN is not set: no %s command", slack.command)
        return None
    client = AsyncWebClient(token=secrets.slack_bot_token.get_secret_value(), base_url=slack.api_url)
    commands = SlashCommands(db, settings, client, next_poll, kick_delivery=kick_delivery)
    if slack.mode == "socket":
        if secrets.slack_app_token is None:
            log.warning("[slack] mode = \"socket\" needs SLACK_APP_TOKEN (xapp-…): no %s command;"
                        " alerts still go out", slack.command)
            return None
        app = build_bolt_app(commands, None, verify_requests=False)
        return SlackSocketService(app, secrets.slack_app_token.get_secret_value())
    if secrets.slack_signing_secret is None:
        log.warning("[slack] mode = \"http\" needs SLACK_SIGNING_SECRET: no %s command; alerts still go out",
                    slack.command)
        return None
    app = build_bolt_app(commands, secrets.slack_signing_secret.get_secret_value(), verify_requests=True)
    return SlackHttpService(app, slack.port)
