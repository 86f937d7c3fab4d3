"""`/alerts …`: per-channel subscriptions and settings, platform-neutral.

Adapters say who is asking (`Caller`) and whether the platform considers them
an admin; these handlers check that again, change the store and answer with
an ephemeral `Message`. Nothing here knows Discord or Slack.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from bot.attribution.countries import COUNTRY_NAMES, country_name, flag
from bot.commands.caller import Caller, CommandError, echo, parse_country
from bot.commands.channel_lists import bot_wide_watch_lines, status_lines
from bot.commands.samples import sample_events
from bot.commands.silences import silence_status_lines
from bot.commands.subscriptions import (
    MAX_PER_CHANNEL,
    channel_subscriptions,
    names_of,
    not_found,
    ordered,
    parse_subscription,
    subject,
    subscription_of,
)
from bot.commands.tenancy import check_rule_cap, check_subscription_cap, own_channel
from bot.config import Settings, parse_duration
from bot.domain.destination import DEFAULT_SUBSCRIPTION, Destination
from bot.domain.events import ALERT_KINDS, SUBSCRIBABLE
from bot.domain.messages import Field, Message, Span, line
from bot.domain.shares import BASES, DEFAULT_BASIS, Basis
from store import destinations as dest_store
from store import health as health_store
from store import outbox, snapshots
from store.db import Conn, Database

DEFAULT_SUBSCRIBED = ("entered", "share", "digest")  # `left`, `climber`, `digest-daily` are opt-in: named, or "all"
MAX_MUTE = timedelta(days=30)


def _require_admin(caller: Caller) -> None:
    if not caller.is_admin:
        raise CommandError("Changing alert settings needs channel-manager (admin) rights.")


def parse_kinds(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """'entered,share' / ['digest'] / None (the defaults) / 'all' → stored kinds; new #1 rides with entries."""
    if text is None or text == "":
        wanted = list(DEFAULT_SUBSCRIBED)
    elif text == "all":
        wanted = list(SUBSCRIBABLE)
    else:
        raw = text.replace(",", " ").split() if isinstance(text, str) else list(text)
        wanted = [kind.strip().lower() for kind in raw if kind.strip()]
    unknown = [kind for kind in wanted if kind not in SUBSCRIBABLE]
    if unknown:
        raise CommandError(f"Unknown alert kind {echo(', '.join(unknown), 80)}: choose from {', '.join(SUBSCRIBABLE)}.")
    kinds = [kind for kind in SUBSCRIBABLE if kind in wanted]
    if "entered" in kinds:
        kinds.insert(kinds.index("entered") + 1, "new_leader")
    return tuple(k for k in kinds if k in ALERT_KINDS)


def parse_percent(value: int | str) -> int:
    try:
        number = int(str(value).strip().rstrip("%"))
    except ValueError:
        raise CommandError(f"'{echo(value)}' is not a whole percent between 0 and 100.") from None
    if not 0 <= number <= 100:
        raise CommandError(f"{number}% is out of range: give a percent between 0 and 100.")
    return number


def parse_basis(text: str | None) -> Basis:
    """'known' / 'certain' / 'top_n' (or nothing: the default); anything else is a CommandError naming the choices."""
    if text is None or not text.strip():
        return DEFAULT_BASIS
    wanted = text.strip().lower()
    for basis in BASES:
        if wanted == basis:
            return basis
    raise CommandError(f"Unknown basis '{echo(text)}': choose {', '.join(BASES)} (default {DEFAULT_BASIS}).")


def basis_text(basis: str) -> str:
    """' (basis known)' after a rule decided on another basis than the default; nothing for the default."""
    return "" if basis == DEFAULT_BASIS else f" (basis {basis})"


def parse_mute(text: str) -> timedelta | None:
    """'30m', '2h', '1d' → how long; 'off' → None. Anything else, or more than 30 days, is a CommandError."""
    if text.strip().lower() in ("off", "0", "none", "unmute"):
        return None
    try:
        length = parse_duration(text)
    except ValueError:
        raise CommandError(f"'{echo(text)}' is not a duration like 30m, 2h, 1d or 'off' (at most 30 days).") from None
    if length <= timedelta(0) or length > MAX_MUTE:
        raise CommandError("Mute for more than 0 and at most 30 days (or use unsubscribe).")
    return length


def _ok(title: str, *lines: str) -> Message:
    return Message(kind="settings", title=title, lines=tuple(line(text) for text in lines), ephemeral=True)


class ChannelSettings:
    def __init__(self, db: Database, settings: Settings,
                 next_poll: Callable[[], datetime | None] = lambda: None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 kick_delivery: Callable[[], None] = lambda: None) -> None:
        """`kick_delivery`: a delivery pass now (the worker's), so `/alerts test` posts at once; without it
        the samples go out at the next pass (`[delivery] interval`, or at once on PostgreSQL's NOTIFY)."""
        self.db = db
        self.settings = settings
        self.next_poll = next_poll
        self.clock = clock
        self.kick_delivery = kick_delivery

    async def _subscribed(self, conn: Conn, caller: Caller, subscription: str | None = None) -> Destination:
        """The caller's channel's subscription (by name, 'default' when none is given), active and of the
        caller's tenant; anything else is a CommandError (a name that does not exist lists those that do)."""
        return await subscription_of(conn, caller, parse_subscription(subscription), self.clock())

    async def subscribe(self, caller: Caller, kinds: str | Sequence[str] | None = None,
                        subscription: str | None = None) -> Message:
        """Create or re-kind one subscription of the channel; a new name adds a subscription beside the others.

        Subscribing is also how an admin says a paused channel is fixed: the whole channel resumes (a pause
        is per channel, as the platform's "channel gone" is). A new subscription in a muted channel is muted
        with it (a mute quiets the channel)."""
        _require_admin(caller)
        chosen = parse_kinds(kinds)
        name = parse_subscription(subscription)
        now = self.clock()
        async with self.db.transaction() as conn:
            channel, tenant_id = await own_channel(conn, caller, now, record=True)
            active = [d for d in channel if d.active]
            before = next((d for d in channel if d.name == name), None)
            if before is None or not before.active:
                if len(active) >= MAX_PER_CHANNEL:
                    raise CommandError(f"This channel has {len(active)} subscriptions, the most one channel may"
                                       f" hold: unsubscribe one first ({names_of(active)}).")
                await check_subscription_cap(conn, caller, tenant_id, self.settings.tenants)
            after = await dest_store.upsert_destination(conn, caller.platform, caller.channel, chosen, "command",
                                                        now, tenant_id, name=name)
            paused = [d for d in (*active, after) if d.paused_at is not None]
            if paused:
                await dest_store.resume_channel(conn, caller.platform, caller.channel, now)
            muted = [d.muted_until for d in active if d.muted_until is not None and d.muted_until > now]
            if muted and (before is None or not before.active):
                await dest_store.mute_channel(conn, caller.platform, caller.channel, max(muted))
        shown = ", ".join(k for k in chosen if k != "new_leader")
        which = subject(name)
        if paused:
            return _ok("Resumed", f"{which} gets alerts again: {shown}.",
                       "This channel's alerts from while it was paused are dropped; the next poll is its new"
                       " baseline.")
        if before is not None and before.active:
            return _ok("Subscription updated", f"{which} now gets: {shown}.")
        others = [d.name for d in ordered(active) if d.name != name]
        beside = [f"It runs beside this channel's other subscriptions: {', '.join(others)}."] if others else []
        return _ok("Subscribed", f"{which} will get: {shown}.",
                   "The next poll is its baseline, so no backlog of old alerts arrives.", *beside)

    async def unsubscribe(self, caller: Caller, subscription: str | None = None) -> Message:
        """End one subscription (its pending alerts dropped); the channel's others go on."""
        _require_admin(caller)
        name = parse_subscription(subscription)
        async with self.db.transaction() as conn:
            found = await subscription_of(conn, caller, name, self.clock())
            await dest_store.deactivate(conn, found.id)
            left = [d for d in await channel_subscriptions(conn, caller, self.clock()) if d.id != found.id]
        if left:
            return _ok("Unsubscribed", f"Subscription {name} ends here; this channel still gets alerts through:"
                                       f" {names_of(left)}.")
        return _ok("Unsubscribed", "This channel gets no more alerts.")

    async def add_rule(self, caller: Caller, country: str, direction: str, percent: int | str,
                       basis: str | None = None, subscription: str | None = None) -> Message:
        _require_admin(caller)
        code = parse_country(country)
        if direction not in ("above", "below"):
            raise CommandError(f"'{echo(direction)}' must be 'above' or 'below'.")
        threshold = parse_percent(percent)
        decided_on = parse_basis(basis)
        async with self.db.transaction() as conn:
            destination = await self._subscribed(conn, caller, subscription)
            if not any(rule[:3] == (code, direction, threshold)
                       for rule in await dest_store.channel_rules_of(conn, destination.id)):
                await check_rule_cap(conn, caller, destination.tenant_id, self.settings.tenants)
            added = await dest_store.add_channel_rule(conn, destination.id, code, direction, threshold, self.clock(),
                                                      decided_on)
        what = (f"{flag(code)} {country_name(code)} {direction} {threshold}% of the top {self.settings.hub.top_n}"
                f"{basis_text(decided_on)}")
        who = subject(destination.name)
        if not added:
            return _ok("Rule already set", f"{who} already has: {what}.")
        note = "" if code in COUNTRY_NAMES else f" ({code} is not a country the bot has seen yet.)"
        return _ok("Rule added", f"{who} will be told when {what}.{note}",
                   "Its first poll is a baseline: an alert comes when the share crosses the line after that.")

    async def remove_rule(self, caller: Caller, country: str, direction: str, percent: int | str,
                          subscription: str | None = None) -> Message:
        _require_admin(caller)
        async with self.db.transaction() as conn:
            destination = await self._subscribed(conn, caller, subscription)
            removed = await dest_store.remove_channel_rule(
                conn, destination.id, parse_country(country), direction, parse_percent(percent))
        if not removed:
            raise CommandError("This channel has no such rule; `alerts status` lists them.")
        return _ok("Rule removed", f"{country.upper()} {direction} {percent}% no longer alerts here.")

    async def mention(self, caller: Caller, role: str | None, subscription: str | None = None) -> Message:
        """`role` is the platform's mention target (a role id, a user group); None turns pings off. Per
        subscription: a China desk's subscription pings @china, the digest beside it nobody."""
        _require_admin(caller)
        async with self.db.transaction() as conn:
            destination = await self._subscribed(conn, caller, subscription)
            await dest_store.set_mention(conn, destination.id, role)
        whose = ("Alerts here" if destination.name == DEFAULT_SUBSCRIPTION
                 else f"Alerts of subscription {destination.name}")
        if role is None:
            return _ok("Mentions off", f"{whose} ping nobody.")
        return _ok("Mention set", f"{whose} will ping the chosen role.")

    async def mute(self, caller: Caller, duration: str) -> Message:
        """Per channel, every subscription at once: a mute quiets the channel for the people in it (to quiet
        one subscription, change its kinds or unsubscribe it), as the dead-channel pause and silences do."""
        _require_admin(caller)
        length = parse_mute(duration)
        until = None if length is None else self.clock() + length
        async with self.db.transaction() as conn:
            if not await channel_subscriptions(conn, caller, self.clock()):
                raise CommandError("This channel is not subscribed: use `alerts subscribe` first.")
            await dest_store.mute_channel(conn, caller.platform, caller.channel, until)
        if until is None:
            return _ok("Unmuted", "Alerts resume with the next change.")
        return _ok("Muted", f"No alerts here until {until:%Y-%m-%d %H:%M} UTC, for every subscription of this"
                            " channel; what happens meanwhile is skipped.")

    async def test(self, caller: Caller, subscription: str | None = None) -> Message:
        """`/alerts test`: one sample of each kind this channel takes, queued for this channel only.

        The samples go through the outbox like every alert, so they are real posts through the channel's
        adapter: a bot that may not post here is found the way delivery finds it (the channel paused, with
        the platform's reason in `alerts status`). Each is marked a test (see bot/commands/samples.py).
        """
        _require_admin(caller)
        now = self.clock()
        name = parse_subscription(subscription)
        async with self.db.transaction() as conn:
            found = await subscription_of(conn, caller, name, now)
            if not found.kinds:
                raise CommandError("This channel is not subscribed to any alerts: use `alerts subscribe` first,"
                                   " then `alerts test`.")
            if found.paused_at is not None:  # delivery skips it, and a resume drops what waited: queue nothing
                raise CommandError(f"This channel is paused ({found.paused_reason}): `alerts subscribe` resumes it;"
                                   " then run `alerts test` again.")
            latest = await snapshots.latest_snapshots(conn, 1)
            newest = latest[0] if latest else None
            top_n = newest.top_n if newest is not None else self.settings.hub.top_n
            samples = sample_events(found.kinds, newest.snapshot if newest else None, top_n, now)
            for event in samples:
                await outbox.add_event(conn, event, None, [found.id], now)
        self.kick_delivery()
        kinds = ", ".join(event.kind for event in samples)
        return _ok("Test alerts queued",
                   f"Sent {len(samples)} test alert{'s' if len(samples) != 1 else ''} to this channel: {kinds}.",
                   "They arrive within moments; if not, `alerts status` says why.")

    async def status(self, caller: Caller, subscription: str | None = None) -> Message:
        """Every subscription of the channel, most important first (or the one named), after what holds for
        the whole channel (a pause, a mute); then the bot-wide rules and the bot's health."""
        conn = self.db.conn
        now = self.clock()
        subscriptions = await channel_subscriptions(conn, caller, now)
        if subscription is not None and subscription.strip():
            name = parse_subscription(subscription)
            chosen = [d for d in subscriptions if d.name == name]
            if not chosen:
                raise not_found(name, subscriptions)
            subscriptions = chosen
        lines = []
        if not subscriptions:
            lines.append(line("This channel is not subscribed."))
        paused = next((d for d in subscriptions if d.paused_at), None)
        if paused is not None:
            lines.append(line(f"⏸ Paused: {paused.paused_reason}. Subscribe again once fixed."))
        muted = max((d.muted_until for d in subscriptions if d.muted_until and d.muted_until > now), default=None)
        if muted is not None:
            lines.append(line(f"🔇 Muted until {muted:%Y-%m-%d %H:%M} UTC"))
        # silences hold back alerts of every subscription of the channel: said once, for the channel
        lines.extend(await silence_status_lines(conn, caller.platform, caller.channel,
                                                subscriptions[0].tenant_id if subscriptions else None, now))
        named = len(subscriptions) > 1 or any(d.name != DEFAULT_SUBSCRIPTION for d in subscriptions)
        for destination in subscriptions:
            if named:
                lines.append(line(Span(f"Subscription {destination.name}", bold=True)))
            kinds = ", ".join(k for k in destination.kinds if k != "new_leader")
            lines.append(line(f"Subscribed to: {kinds} (since {destination.subscribed_at:%Y-%m-%d %H:%M} UTC,"
                              f" via {destination.origin})"))
            lines.append(line("Mentions: " + ("a role is pinged" if destination.mention else "off")))
            rules = await dest_store.channel_rules_of(conn, destination.id)
            for country, direction, threshold, basis in rules:
                lines.append(line(f"Rule: {flag(country)} {country} {direction} {threshold}%{basis_text(basis)}"))

            lines.extend(await status_lines(self.db, self.settings, destination))
        if subscriptions:
            lines.extend(bot_wide_watch_lines(self.settings))
        for rule in self.settings.share_rules:
            lines.append(line(f"Bot-wide rule: {flag(rule.country)} {rule.country} {rule.direction} {rule.threshold}%"
                              f"{basis_text(rule.basis)}"))
        health = await health_store.get_health(conn)
        latest = await snapshots.latest_snapshots(conn, 1)
        last_poll = f"{latest[0].snapshot.taken_at:%Y-%m-%d %H:%M} UTC" if latest else "never"
        bot_lines = [line(f"Last good poll: {last_poll}")]
        if health.failures:
            bot_lines.append(line(f"⚠ {health.failures} failed poll(s) since; last error: {health.last_error}"))
        elif health.last_error:
            bot_lines.append(line(f"Last error: {health.last_error}"))
        upcoming = self.next_poll()
        if upcoming:
            bot_lines.append(line(f"Next poll: {upcoming:%Y-%m-%d %H:%M} UTC"))
        return Message(kind="settings", title="Alerts in this channel", lines=tuple(lines),
                       fields=(Field("Bot health", tuple(bot_lines)),), ephemeral=True)
