"""Which subscription of a channel a command acts on (issue 20): its name parsed once, the caller's one found.

A channel may hold several subscriptions, each named within it ('default' for the first), each with its own
kinds, lists, filters, mention and rules. Every command that acts on one takes its name: Discord's optional
`subscription` option, Slack's `subscription:NAME` token anywhere in the text. Both arrive here: a name is
checked once (one clear line when it does not fit), and the lookup goes through the channel's tenant
(bot/commands/tenancy.py), so one server or workspace never reads or changes another's subscriptions.
A name that does not exist is answered with the names that do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.commands.caller import Caller, CommandError
from bot.commands.tenancy import own_channel
from bot.config import subscription_name
from bot.domain.destination import DEFAULT_SUBSCRIPTION, Destination
from store.db import Conn

SUBSCRIPTION_KEY = "subscription"  # Discord's option and Slack's `subscription:NAME` token
MAX_PER_CHANNEL = 10  # subscriptions one channel may hold: each is its own message per poll, and status lists all


def parse_subscription(text: str | None) -> str:
    """A typed name → the stored one (case folded, trimmed); nothing given is the channel's 'default'."""
    if text is None or not text.strip():
        return DEFAULT_SUBSCRIPTION
    try:
        return subscription_name(text.strip().lower())
    except ValueError as exc:
        raise CommandError(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None


def split_subscription(words: Sequence[str]) -> tuple[str | None, tuple[str, ...]]:
    """Slack's words → (the `subscription:NAME` token's name, if any, the other words in order).

    The token may stand anywhere (`alerts mention @china subscription:china`); `subscription=NAME` is taken
    too. Given twice, it is a CommandError: which one was meant cannot be guessed.
    """
    found: list[str] = []
    rest: list[str] = []
    for word in words:
        key, sep, value = word.replace("=", ":", 1).partition(":")
        if sep and key.lower() == SUBSCRIPTION_KEY:
            found.append(value)
        else:
            rest.append(word)
    if len(found) > 1:
        raise CommandError("Name one subscription: `subscription:NAME` was given more than once.")
    if found and not found[0].strip():
        raise CommandError("Give the subscription's name after `subscription:` (e.g. subscription:china).")
    return (parse_subscription(found[0]) if found else None), tuple(rest)


def ordered(subscriptions: Sequence[Destination]) -> list[Destination]:
    """Most important first: 'default' (what a command without a name acts on), then those that ping
    someone (a mention wakes people up), then the rest; by name within each."""
    return sorted(subscriptions, key=lambda d: (d.name != DEFAULT_SUBSCRIPTION, d.mention is None, d.name))


def subject(name: str) -> str:
    """Who an answer speaks of: the channel for its first subscription, the named one otherwise."""
    return "This channel" if name == DEFAULT_SUBSCRIPTION else f"Subscription {name} in this channel"


def names_of(subscriptions: Sequence[Destination]) -> str:
    return ", ".join(d.name for d in ordered(subscriptions))


def not_found(name: str, active: Sequence[Destination]) -> CommandError:
    """The one line for a name the channel has no (active) subscription of: what it does have, and what to do."""
    if not active:
        return CommandError("This channel is not subscribed: use `alerts subscribe` first.")
    if name == DEFAULT_SUBSCRIPTION:
        return CommandError(f"This channel has no subscription named 'default'; name one of its subscriptions:"
                            f" {names_of(active)} (subscription:NAME).")
    return CommandError(f"This channel has no subscription named '{name}'; its subscriptions: {names_of(active)}.")


async def channel_subscriptions(conn: Conn, caller: Caller, now: datetime) -> list[Destination]:
    """The caller's channel's active subscriptions, most important first (another tenant's: a CommandError)."""
    found, _ = await own_channel(conn, caller, now)
    return ordered([d for d in found if d.active])


async def subscription_of(conn: Conn, caller: Caller, name: str, now: datetime) -> Destination:
    """The caller's channel's active subscription `name`; a CommandError listing the others if there is none."""
    found, _ = await own_channel(conn, caller, now)
    active = [d for d in found if d.active]
    for destination in active:
        if destination.name == name:
            return destination
    raise not_found(name, active)
