"""One poll: fetch → attribute → detect → store snapshot, state, events and outbox in ONE transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import aiosqlite

from bot.attribution import current_rules, learn_lineage
from bot.config import Settings
from bot.countries import OrgTable, attribute_snapshot
from bot.detect import RuleSpec, detect
from bot.events import Event, SourceHealth
from bot.filters import describe_entries
from bot.hub import HubError, Source, describe
from bot.list_specs import configured_lists
from bot.lists import fan_out, watched_events
from bot.log import get_logger
from bot.snapshot import Snapshot
from store import health, outbox, rules, snapshots
from store.db import Database, StoreTransient
from store.destinations import current_routing

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PollResult:
    snapshot_id: int | None
    snapshot: Snapshot | None
    events: tuple[Event, ...]
    error: str | None = None


def configured_rules(settings: Settings) -> list[RuleSpec]:
    return [
        RuleSpec(
            key=rule.key,
            country=rule.country,
            direction=rule.direction,
            threshold=rule.threshold,
            for_polls=rule.for_polls,
            hysteresis=rule.hysteresis,
            notify_resolved=rule.notify_resolved,
        )
        for rule in settings.share_rules
        if rule.list == "models"  # rules of other lists run in bot.lists
    ]


def channel_rule_specs(rows: tuple[tuple[int, str, str, int], ...]) -> list[RuleSpec]:
    """Rules channels added with `/alerts rule`; their alerts go to that channel only."""
    return [
        RuleSpec(
            key=f"dest{dest_id}:{country}:{direction}:{threshold}",
            country=country,
            direction="above" if direction == "above" else "below",  # the table's CHECK allows only these
            threshold=threshold,
            scope=dest_id,
        )
        for dest_id, country, direction, threshold in rows
    ]


async def channel_rules(conn: aiosqlite.Connection) -> list[RuleSpec]:
    return channel_rule_specs((await current_routing(conn)).channel_rules)


async def _fan_out(
    conn: aiosqlite.Connection, events: list[Event], snapshot_id: int | None, previous_id: int | None,
    now: datetime,
) -> None:
    await fan_out(conn, events, snapshot_id, previous_id, now)


async def prune_outbox(db: Database, settings: Settings, now: datetime) -> int:
    """One small batch of outbox retention per poll: sent and dropped rows older than `[store] keep_outbox`.

    Its own short transaction after the poll's, so a large backlog (a first run on an old file)
    is worked off a batch a poll without holding up alerts.
    """
    async with db.transaction() as conn:
        removed = await outbox.prune(conn, now - settings.store.keep_outbox)
    if removed:
        log.info("pruned %d outbox row(s) older than %s", removed, settings.store.keep_outbox)
    return removed


async def _record_failure(db: Database, settings: Settings, error: str, now: datetime) -> list[Event]:
    """Count the failure; the Nth in a row raises one 'failing' notice. Snapshots and rule state stay as they were."""
    async with db.transaction() as conn:
        state = await health.record_failure(conn, error, now)
        if state.failures < settings.hub.failures_before_notice or state.failing_announced:
            return []
        notice: Event = SourceHealth(taken_at=now, state="failing", failures=state.failures, error=error)
        await health.set_failing_announced(conn, True)
        await _fan_out(conn, [notice], None, None, now)
        return [notice]


async def poll_once(
    db: Database,
    source: Source,
    settings: Settings,
    table: OrgTable,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> PollResult:
    """Never raises for a bad Hub answer: it is recorded and reported in `PollResult.error`."""
    top_n = settings.hub.top_n
    latest = await snapshots.latest_snapshots(db.conn, 1)
    previous = latest[0] if latest else None
    now: datetime | None = None  # one clock reading per poll: when the answer came in
    try:
        raw = await source.fetch(previous.snapshot.taken_at if previous else None)
        if len(raw.entries) < top_n:
            # Stored, it would read as a real collapse of every share (then a surge at the next good poll).
            listed = f"{len(raw.entries)} model{'s' if len(raw.entries) != 1 else ''}"
            raise HubError(f"the Hub listed only {listed}, fewer than the top {top_n}")
        now = clock()
        attribution_rules = await current_rules(db.conn, settings, table)
        lineage = await learn_lineage(db, source, attribution_rules, raw, settings, now)
        snapshot = attribute_snapshot(raw, attribution_rules, extra_tags=lineage)
    except HubError as exc:
        error = describe(exc)
        log.info("poll failed: %s", error)
        try:
            notices = await _record_failure(db, settings, error, now or clock())
        except StoreTransient as store_exc:
            log.error("%s; the failure is not counted", store_exc)
            notices = []
        return PollResult(None, None, tuple(notices), error)

    try:
        result = await _store(db, source, settings, table, snapshot, previous, now)
    except StoreTransient as exc:
        # The transaction rolled back whole: no snapshot, no rule state, no outbox row. The next poll tries again.
        log.error("poll not stored: %s; retrying at the next poll", exc)
        return PollResult(None, None, (), f"not stored: {exc}")
    try:  # housekeeping after the poll's commit: its failure must not make a stored poll look lost
        await prune_outbox(db, settings, now)
    except StoreTransient as exc:
        log.warning("outbox not pruned this time: %s", exc)
    return result


async def _store(
    db: Database, source: Source, settings: Settings, table: OrgTable, snapshot: Snapshot,
    previous: snapshots.StoredSnapshot | None, now: datetime,
) -> PollResult:
    top_n = settings.hub.top_n
    async with db.transaction() as conn:
        history = await snapshots.model_history(conn, [entry.id for entry in snapshot.top(top_n)])
        all_rules = configured_rules(settings) + await channel_rules(conn)
        detection = detect(
            previous.snapshot if previous else None,
            snapshot,
            top_n=top_n,
            rules=all_rules,
            states=await rules.load_rule_states(conn),
            history=history,
            cooldown=settings.alerts.reentry_cooldown,
            announce_leader=settings.alerts.new_leader,
        )
        watched = await watched_events(conn, settings, configured_lists(settings)[0],
                                       previous.snapshot if previous else None, snapshot)
        snapshot_id = await snapshots.save_snapshot(conn, snapshot, top_n, source.name)
        await rules.save_rule_states(conn, detection.rule_states, now)
        events: list[Event] = [describe_entries(event, snapshot, table) for event in detection.events]
        events += watched
        before = await health.get_health(conn)
        if before.failing_announced:
            events.append(SourceHealth(taken_at=now, state="recovered", failures=before.failures))
        await health.record_success(conn, now)
        await _fan_out(conn, events, snapshot_id, previous.id if previous else None, now)
    log.info("stored snapshot %d (%d entries), %d event(s)", snapshot_id, len(snapshot.entries), len(events))
    return PollResult(snapshot_id, snapshot, tuple(events))
