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
from bot.commands.channel_lists import status_lines
from bot.commands.samples import sample_events
from bot.commands.tenancy import check_rule_cap, check_subscription_cap, own_destination
from bot.config import Settings, parse_duration
from bot.domain.destination import Destination
from bot.domain.events import ALERT_KINDS, SUBSCRIBABLE
from bot.domain.messages import Field, Message, line
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

    async def _subscribed(self, conn: Conn, caller: Caller) -> Destination:
        """The caller's channel, subscribed and of the caller's tenant; anything else is a CommandError."""
        found, _ = await own_destination(conn, caller, self.clock())
        if found is None or not found.active:
            raise CommandError("This channel is not subscribed: use `alerts subscribe` first.")
        return found

    async def subscribe(self, caller: Caller, kinds: str | Sequence[str] | None = None) -> Message:
        _require_admin(caller)
        chosen = parse_kinds(kinds)
        async with self.db.transaction() as conn:
            before, tenant_id = await own_destination(conn, caller, self.clock(), record=True)
            if before is None or not before.active:
                await check_subscription_cap(conn, caller, tenant_id, self.settings.tenants)
            after = await dest_store.upsert_destination(conn, caller.platform, caller.channel, chosen, "command",
                                                        self.clock(), tenant_id)
            if after.paused_at is not None:
                await dest_store.resume(conn, after.id, self.clock())
        shown = ", ".join(k for k in chosen if k != "new_leader")
        if after.paused_at is not None:
            return _ok("Resumed", f"This channel gets alerts again: {shown}.",
                       "Alerts from while it was paused are dropped; the next poll is its new baseline.")
        if before is not None and before.active:
            return _ok("Subscription updated", f"This channel now gets: {shown}.")
        return _ok("Subscribed", f"This channel will get: {shown}.",
                   "The next poll is its baseline, so no backlog of old alerts arrives.")

    async def unsubscribe(self, caller: Caller) -> Message:
        _require_admin(caller)
        async with self.db.transaction() as conn:
            found, _ = await own_destination(conn, caller, self.clock())
            if found is None or not found.active:
                raise CommandError("This channel is not subscribed.")
            await dest_store.deactivate(conn, found.id)
        return _ok("Unsubscribed", "This channel gets no more alerts.")

    async def add_rule(self, caller: Caller, country: str, direction: str, percent: int | str,
                       basis: str | None = None) -> Message:
        _require_admin(caller)
        code = parse_country(country)
        if direction not in ("above", "below"):
            raise CommandError(f"'{echo(direction)}' must be 'above' or 'below'.")
        threshold = parse_percent(percent)
        decided_on = parse_basis(basis)
        async with self.db.transaction() as conn:
            destination = await self._subscribed(conn, caller)
            if not any(rule[:3] == (code, direction, threshold)
                       for rule in await dest_store.channel_rules_of(conn, destination.id)):
                await check_rule_cap(conn, caller, destination.tenant_id, self.settings.tenants)
            added = await dest_store.add_channel_rule(conn, destination.id, code, direction, threshold, self.clock(),
                                                      decided_on)
        what = (f"{flag(code)} {country_name(code)} {direction} {threshold}% of the top {self.settings.hub.top_n}"
                f"{basis_text(decided_on)}")
        if not added:
            return _ok("Rule already set", f"This channel already has: {what}.")
        note = "" if code in COUNTRY_NAMES else f" ({code} is not a country the bot has seen yet.)"
        return _ok("Rule added", f"This channel will be told when {what}.{note}",
                   "Its first poll is a baseline: an alert comes when the share crosses the line after that.")

    async def remove_rule(self, caller: Caller, country: str, direction: str, percent: int | str) -> Message:
        _require_admin(caller)
        async with self.db.transaction() as conn:
            destination = await self._subscribed(conn, caller)
            removed = await dest_store.remove_channel_rule(
                conn, destination.id, parse_country(country), direction, parse_percent(percent))
        if not removed:
            raise CommandError("This channel has no such rule; `alerts status` lists them.")
        return _ok("Rule removed", f"{country.upper()} {direction} {percent}% no longer alerts here.")

    async def mention(self, caller: Caller, role: str | None) -> Message:
        """`role` is the platform's mention target (a role id, a user group); None turns pings off."""
        _require_admin(caller)
        async with self.db.transaction() as conn:
            destination = await self._subscribed(conn, caller)
            await dest_store.set_mention(conn, destination.id, role)
        if role is None:
            return _ok("Mentions off", "Alerts here ping nobody.")
        return _ok("Mention set", "Alerts here will ping the chosen role.")

    async def mute(self, caller: Caller, duration: str) -> Message:
        _require_admin(caller)
        length = parse_mute(duration)
        until = None if length is None else self.clock() + length
        async with self.db.transaction() as conn:
            destination = await self._subscribed(conn, caller)
            await dest_store.set_muted_until(conn, destination.id, until)
        if until is None:
            return _ok("Unmuted", "Alerts resume with the next change.")
        return _ok("Muted", f"No alerts here until {until:%Y-%m-%d %H:%M} UTC; what happens meanwhile is skipped.")

    async def test(self, caller: Caller) -> Message:
        """`/alerts test`: one sample of each kind this channel takes, queued for this channel only.

        The samples go through the outbox like every alert, so they are real posts through the channel's
        adapter: a bot that may not post here is found the way delivery finds it (the channel paused, with
        the platform's reason in `alerts status`). Each is marked a test (see bot/commands/samples.py).
        """
        _require_admin(caller)
        now = self.clock()
        async with self.db.transaction() as conn:
            found, _ = await own_destination(conn, caller, now)
            if found is None or not found.active or not found.kinds:
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

    async def status(self, caller: Caller) -> Message:
        conn = self.db.conn
        now = self.clock()
        destination, _ = await own_destination(conn, caller, now)
        lines = []
        if destination is None or not destination.active:
            lines.append(line("This channel is not subscribed."))
        else:
            kinds = ", ".join(k for k in destination.kinds if k != "new_leader")
            lines.append(line(f"Subscribed to: {kinds} (since {destination.subscribed_at:%Y-%m-%d %H:%M} UTC,"
                              f" via {destination.origin})"))
            if destination.paused_at:
                lines.append(line(f"⏸ Paused: {destination.paused_reason}. Subscribe again once fixed."))
            if destination.muted_until and destination.muted_until > now:
                lines.append(line(f"🔇 Muted until {destination.muted_until:%Y-%m-%d %H:%M} UTC"))
            lines.append(line("Mentions: " + ("a role is pinged" if destination.mention else "off")))
            rules = await dest_store.channel_rules_of(conn, destination.id)
            for country, direction, threshold, basis in rules:
                lines.append(line(f"Rule: {flag(country)} {country} {direction} {threshold}%{basis_text(basis)}"))

            lines.extend(await status_lines(self.db, self.settings, destination, now))
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
