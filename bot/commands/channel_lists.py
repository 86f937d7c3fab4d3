"""`/alerts filter`, `/alerts watch`, `/alerts unwatch`: a channel's lists, filters and watches, platform-neutral.

Like `bot.commands.channel_settings`: adapters say who asks; these check admin rights again, change the
store and answer with an ephemeral `Message`. Reading (`status_lines`) is for everyone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from bot.commands.caller import Caller, CommandError, parse_country
from bot.commands.subscriptions import parse_subscription, subject, subscription_of
from bot.commands.tenancy import check_watch_cap
from bot.commands.threads import status_line as thread_status_line
from bot.config import Settings, configured_lists, list_named
from bot.delivery.templates import describe as describe_look
from bot.domain.destination import Destination
from bot.domain.messages import Line, Message, line
from bot.domain.snapshot import DEFAULT_LIST
from bot.poller.fan_out import channel_filter_map
from bot.rules.filters import ChannelFilter, filter_for
from bot.rules.watches import parse_target
from store import channel_filters, watches
from store.db import Conn, Database

FILTER_KEYS = ("lists", "countries", "tasks", "authors", "derivatives")
_ANY = ("", "any", "all", "none", "-")
_TRUE = ("true", "yes", "on", "show", "1")
_FALSE = ("false", "no", "off", "hide", "0")


def _ok(title: str, *lines: str) -> Message:
    return Message(kind="settings", title=title, lines=tuple(line(text) for text in lines), ephemeral=True)


def _words(value: str) -> list[str]:
    return [word for word in value.replace(",", " ").split() if word]


def parse_filter_words(words: list[str]) -> dict[str, str]:
    """Slack's `lists=models,spaces countries=CN tasks=text-to-image derivatives=false` → {key: value}."""
    found: dict[str, str] = {}
    key: str | None = None
    for word in words:
        if "=" in word or ":" in word:
            key, _, value = word.replace(":", "=", 1).partition("=")
            key = key.strip().lower()
            if key not in FILTER_KEYS:
                raise CommandError(f"Unknown filter '{key}': use {', '.join(FILTER_KEYS)} (e.g. countries=CN,US).")
            found[key] = value
        elif key is not None:  # `countries=CN, US` split on the space
            found[key] = f"{found[key]},{word}"
        else:
            raise CommandError("Use: alerts filter lists=models,spaces countries=CN tasks=text-to-image"
                               " authors=deepseek-ai derivatives=false (or: alerts filter clear).")
    return found


class ChannelLists:
    def __init__(self, db: Database, settings: Settings,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock

    def _admin(self, caller: Caller) -> None:
        if not caller.is_admin:
            raise CommandError("Changing alert settings needs channel-manager (admin) rights.")

    async def _subscribed(self, conn: Conn, caller: Caller, subscription: str | None = None) -> Destination:
        """The caller's channel's subscription (by name, 'default' when none is given), active and of the
        caller's tenant; anything else is a CommandError (a name that does not exist lists those that do)."""
        return await subscription_of(conn, caller, parse_subscription(subscription), self.clock())

    def _list_name(self, name: str | None) -> str:
        try:
            return list_named(self.settings, name).name
        except ValueError as exc:
            raise CommandError(str(exc).replace("no list", "No list", 1) + ".") from None

    def _parsed(self, current: ChannelFilter, changes: Mapping[str, str | bool | None]) -> ChannelFilter:
        lists, countries, tasks, authors = current.lists, current.countries, current.tasks, current.authors
        derivatives = current.derivatives
        for key, raw in changes.items():
            if raw is None:
                continue
            if key == "derivatives":
                text = str(raw).strip().lower() if not isinstance(raw, bool) else ("true" if raw else "false")
                if text not in (*_TRUE, *_FALSE):
                    raise CommandError(f"derivatives={raw}: use true (show them) or false (hide them).")
                derivatives = text in _TRUE
                continue
            text = str(raw).strip()
            values = [] if text.lower() in _ANY else _words(text)
            if key == "lists":
                lists = tuple(dict.fromkeys(self._list_name(name) for name in values)) or (DEFAULT_LIST,)
            elif key == "countries":
                countries = tuple(dict.fromkeys(parse_country(code) for code in values))
            elif key == "tasks":
                tasks = tuple(dict.fromkeys(value.lower() for value in values))
            elif key == "authors":
                authors = tuple(dict.fromkeys(value.strip("/") for value in values))
            else:
                raise CommandError(f"Unknown filter '{key}': use {', '.join(FILTER_KEYS)}.")
        return ChannelFilter(lists, countries, tasks, authors, derivatives)

    async def set_filter(self, caller: Caller, changes: Mapping[str, str | bool | None],
                         clear: bool = False, subscription: str | None = None) -> Message:
        """Change the given filter keys (others stay); `clear` goes back to the default list, unfiltered."""
        self._admin(caller)
        async with self.db.transaction() as conn:
            destination = await self._subscribed(conn, caller, subscription)
            if clear:
                await channel_filters.clear_filter(conn, destination.id)
                return _ok("Filters cleared", "This channel hears the models list again, every entry.")
            current = filter_for(destination, await channel_filter_map(conn))
            if not any(value is not None for value in changes.values()):
                return _ok("Filters", *current.describe())
            chosen = self._parsed(current, changes)
            await channel_filters.set_filter(conn, destination.id, channel_filters.StoredFilter(
                chosen.lists, chosen.countries, chosen.tasks, chosen.authors, chosen.derivatives), self.clock())
        return _ok("Filters set", *chosen.describe(),
                   "Entry messages here list only the entries that pass; share alerts and digests are not filtered.")

    async def watch(self, caller: Caller, target: str, list_name: str | None = None,
                    subscription: str | None = None) -> Message:
        self._admin(caller)
        try:
            kind, value = parse_target(target)
        except ValueError as exc:
            raise CommandError(str(exc) + ".") from None
        name = self._list_name(list_name)
        async with self.db.transaction() as conn:
            destination = await self._subscribed(conn, caller, subscription)
            if not any((w.target_kind, w.target, w.list) == (kind, value, name)
                       for w in await watches.watches_of(conn, destination.id)):
                await check_watch_cap(conn, caller, destination.tenant_id, self.settings.tenants)
            added = await watches.add_watch(conn, destination.id, kind, value, name, self.clock())
        who = subject(destination.name)
        if not added:
            return _ok("Already watching", f"{who} already watches {kind} {value} on {name}.")
        what = (f"the first time a repository of {value} shows up in the {name} list"
                if kind == "author" else f"when {value} enters the top of the {name} list")
        return _ok("Watching", f"{who} will be told {what}.")

    async def unwatch(self, caller: Caller, target: str, list_name: str | None = None,
                      subscription: str | None = None) -> Message:
        self._admin(caller)
        name = self._list_name(list_name) if list_name else None
        async with self.db.transaction() as conn:
            destination = await self._subscribed(conn, caller, subscription)
            removed = await watches.remove_watch(conn, destination.id, target.strip().strip("/"), name)
        if not removed:
            raise CommandError(f"This channel does not watch '{target}'; `alerts status` lists its watches.")
        return _ok("Unwatched", f"{target.strip()} is no longer watched here.")


async def status_lines(db: Database, settings: Settings, destination: Destination) -> list[Line]:
    """What `/alerts status` adds for one subscription: its lists and filters, its look, its watches."""
    shown = filter_for(destination, await channel_filter_map(db.conn))
    if shown.lists == ():  # the console: every list
        shown = ChannelFilter(lists=tuple(spec.name for spec in configured_lists(settings)))
    found = [line(text) for text in shown.describe()]
    found.append(line(f"Format: {describe_look(destination.template)}"))
    if destination.platform in ("slack", "discord"):
        found.append(line(thread_status_line(destination)))
    for watch in await watches.watches_of(db.conn, destination.id):
        found.append(line(f"Watching: {watch.target_kind} {watch.target} on {watch.list}"))
    return found


def bot_wide_watch_lines(settings: Settings) -> list[Line]:
    """The config's `[[watch]]`es, said once under every subscription of the channel."""
    found = []
    for configured in settings.watch:
        target = f"author {configured.author}" if configured.author else f"model {configured.model}"
        found.append(line(f"Bot-wide watch: {target} on {configured.list}"))
    return found
