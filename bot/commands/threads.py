"""`/alerts threads on|off|broadcast`: whether a subscription's follow-ups reply in their model's thread.

Platform-neutral, like the rest of bot/commands: the adapters parse the platform's arguments (a Discord
option, Slack words) and call `ThreadSettings.set`. A subscription is named by an optional `subscription`
(Discord option) or `subscription:NAME` token (Slack), 'default' when left out (bot/commands/subscriptions.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.commands.caller import Caller, CommandError, echo
from bot.commands.subscriptions import parse_subscription, subscription_of
from bot.domain.destination import DEFAULT_SUBSCRIPTION, Destination
from bot.domain.messages import Message, line
from store import threads as thread_store
from store.db import Database

THREAD_MODES = thread_store.THREAD_MODES

EXPLAINED = {
    "off": "Follow-ups (a model left the top N, became #1, climbed) are posted in the channel.",
    "on": "Follow-ups about a model (it left the top N, became #1, climbed) reply in the thread of the message"
          " that announced it. A message about several models replies only when they were all announced"
          " together; otherwise it goes to the channel.",
    "broadcast": "Follow-ups about a model reply in the thread of the message that announced it, and are also"
                 " shown in the channel.",
}
DISCORD_NOTE = ("On Discord a follow-up goes to a thread started under the announcing message (broadcast is as on:"
                " Discord has no reply shown in the channel too). A forum channel threads whatever this setting:"
                " every alert is a post of its own and a follow-up replies in its model's post.")


def parse_mode(text: str | None) -> str:
    """'on' / 'off' / 'broadcast' (any case) → the stored setting; anything else is one clear line."""
    mode = (text or "").strip().lower()
    if mode not in THREAD_MODES:
        raise CommandError(f"Threads can be {', '.join(THREAD_MODES)}, not '{echo(text or '', 40)}'.")
    return mode


def status_line(destination: Destination) -> str:
    """The `/alerts status` line: the setting, and what it means here."""
    where = {"off": "follow-ups go to the channel", "on": "follow-ups reply in their model's thread",
             "broadcast": "follow-ups reply in their model's thread and show in the channel"}
    text = f"Threads: {destination.threads} ({where.get(destination.threads, 'unknown setting')})"
    if destination.platform == "discord":
        text += "; a forum channel threads whatever the setting"
    return text


class ThreadSettings:
    """Sets a subscription's `threads`, checked as every channel setting is (admin, the caller's tenant)."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    async def set(self, caller: Caller, mode: str | None, subscription: str | None = None) -> Message:
        if not caller.is_admin:
            raise CommandError("Changing alert settings needs channel-manager (admin) rights.")
        chosen = parse_mode(mode)
        name = parse_subscription(subscription)
        async with self.db.transaction() as conn:
            found = await subscription_of(conn, caller, name, self.clock())
            await thread_store.set_mode(conn, found.id, chosen)
        lines = [line(EXPLAINED[chosen])]
        if caller.platform == "discord":
            lines.append(line(DISCORD_NOTE))
        title = f"Threads {chosen}" + ("" if name == DEFAULT_SUBSCRIPTION else f" for {name}")
        return Message(kind="settings", title=title, lines=tuple(lines), ephemeral=True)
