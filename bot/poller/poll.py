"""One poll of one list: fetch → attribute → detect → store snapshot, state, events and outbox in ONE transaction.

The default list and every `[[lists]]` entry run through the same `poll_list` over the same tables,
keyed by list (`store.series`); the default list's poll also prunes the outbox, once per cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bot.attribution.countries import OrgTable, attribute_snapshot
from bot.attribution.orgs import load_org_table
from bot.attribution.upkeep import current_rules, learn_lineage
from bot.config import Settings, configured_lists
from bot.domain.events import Event, SourceHealth
from bot.domain.lists import ListSpec
from bot.domain.outcomes import Failure, PollFailure
from bot.domain.shares import DEFAULT_BASIS, basis_of
from bot.domain.snapshot import Snapshot
from bot.log import get_logger
from bot.poller.fan_out import fan_out
from bot.poller.watches import watched_events
from bot.rules.churn import climb_candidates, leavers
from bot.rules.detect import RuleSpec, detect
from bot.rules.filters import describe_entries, on_list
from bot.source.hub import HubError, Source, describe
from store import outbox, rules
from store.db import Conn, Database, StoreTransient
from store.destinations import current_routing
from store.series import Series, series_of

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PollResult:
    """One poll cycle's outcome: what was stored and decided, and each list's failure with its reason."""

    snapshot_id: int | None
    snapshot: Snapshot | None
    events: tuple[Event, ...]
    failures: tuple[Failure, ...] = ()

    @property
    def error(self) -> str | None:
        """The failures as one line for people (logs, `once`'s stderr); code reads `failures`."""
        return "; ".join(failure.message for failure in self.failures) or None


def list_rules(settings: Settings, spec: ListSpec) -> list[RuleSpec]:
    """The configured share rules of one list (`[[share_rules]] list = NAME`, default `models`)."""
    return [
        RuleSpec(key=rule.key, country=rule.country, direction=rule.direction, threshold=rule.threshold,
                 for_polls=rule.for_polls, hysteresis=rule.hysteresis, notify_resolved=rule.notify_resolved,
                 basis=rule.basis)
        for rule in settings.share_rules if rule.list == spec.name
    ]


def channel_rule_specs(rows: tuple[tuple[int, str, str, int, str], ...]) -> list[RuleSpec]:
    """Rules channels added with `/alerts rule`; their alerts go to that channel only.

    A rule on the default basis keeps the key it always had; another basis is another key (a fresh baseline).
    """
    return [
        RuleSpec(
            key=f"dest{dest_id}:{country}:{direction}:{threshold}" + ("" if basis == DEFAULT_BASIS else f":{basis}"),
            country=country,
            direction="above" if direction == "above" else "below",  # the table's CHECK allows only these
            threshold=threshold,
            scope=dest_id,
            basis=basis_of(basis),
        )
        for dest_id, country, direction, threshold, basis in rows
    ]


async def channel_rules(conn: Conn) -> list[RuleSpec]:
    return channel_rule_specs((await current_routing(conn)).channel_rules)


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


async def _record_failure(
    db: Database, series: Series, settings: Settings, spec: ListSpec, failure: Failure, now: datetime
) -> list[Event]:
    """Count the failure; the Nth in a row raises one 'failing' notice. Snapshots and rule state stay as they were."""
    async with db.transaction() as conn:
        state = await series.record_failure(conn, failure.message, now)
        if state.failures < settings.hub.failures_before_notice or state.failing_announced:
            return []
        notice = on_list(SourceHealth(taken_at=now, state="failing", failures=state.failures, error=failure.message,
                                      reason=failure.reason), spec)
        await series.set_failing_announced(conn, True)
        await fan_out(conn, [notice], None, None, now)
        return [notice]


async def poll_once(
    db: Database,
    source: Source,
    settings: Settings,
    table: OrgTable,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> PollResult:
    """The default list's poll. Never raises for a bad Hub answer or a retryable store fault: both are reported
    in `PollResult.error` (a store fault rolled the poll back whole; the next poll tries again)."""
    try:
        return await poll_list(db, source, settings, table, configured_lists(settings)[0], clock)
    except StoreTransient as exc:
        log.error("poll not stored: %s; retrying at the next poll", exc)
        return PollResult(None, None, (), (Failure(PollFailure.STORE, f"not stored: {exc}"),))


async def poll_list(
    db: Database, source: Source, settings: Settings, table: OrgTable, spec: ListSpec,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> PollResult:
    """One poll of one list: fetch → attribute → detect → store snapshot, rule state, events and outbox in ONE
    transaction. A bad Hub answer is recorded, counted and reported, never raised."""
    series = series_of(spec.name)
    previous = await series.latest(db.conn)
    now: datetime | None = None  # one clock reading per poll: when the answer came in
    try:
        raw = await source.fetch(previous.snapshot.taken_at if previous else None)
        if len(raw.entries) < spec.top_n and not spec.filters:
            # Stored, it would read as a real collapse of every share (then a surge at the next good poll). A
            # filtered list (one author, a narrow task) may really hold fewer; the overall lists never do.
            count = len(raw.entries)
            listed = f"{count} {spec.kind if count != 1 else spec.kind.removesuffix('s')}"
            raise HubError(f"the Hub listed only {listed}, fewer than the top {spec.top_n}", PollFailure.SHORT_LIST)
        now = clock()
        attribution_rules = await current_rules(db.conn, settings, table)
        lineage = (await learn_lineage(db, source, attribution_rules, raw, settings, now)
                   if spec.kind == "models" else {})
        snapshot = attribute_snapshot(raw, attribution_rules, extra_tags=lineage)
    except HubError as exc:
        failure = Failure(exc.reason, describe(exc))
        log.info("poll of %s failed (%s): %s", spec.name, failure.reason, failure.message)
        try:
            notices = await _record_failure(db, series, settings, spec, failure, now or clock())
        except StoreTransient as store_exc:
            log.error("%s; the failure is not counted", store_exc)
            notices = []
        return PollResult(None, None, tuple(notices), (failure,))

    previous_snapshot = previous.snapshot if previous else None
    async with db.transaction() as conn:
        history = await series.history(conn, [entry.id for entry in snapshot.top(spec.top_n)])
        if previous_snapshot is not None:
            history = await series.churn_history(
                conn, history, leavers(previous_snapshot, snapshot, spec.top_n),
                climb_candidates(previous_snapshot, snapshot, spec.top_n, settings.alerts.climb), spec.top_n,
                snapshot.taken_at, settings.alerts.reentry_cooldown)
        # Channels' own `/alerts rule`s watch the default list.
        all_rules = list_rules(settings, spec) + (await channel_rules(conn) if spec.is_default else [])
        detection = detect(
            previous_snapshot,
            snapshot,
            top_n=spec.top_n,
            rules=all_rules,
            states=await rules.load_rule_states(conn),
            history=history,
            cooldown=settings.alerts.reentry_cooldown,
            announce_leader=settings.alerts.new_leader,
            climb=settings.alerts.climb,
        )
        events: list[Event] = [on_list(describe_entries(event, snapshot, table, previous_snapshot), spec)
                               for event in detection.events]
        events += await watched_events(conn, settings, spec, previous_snapshot, snapshot)
        snapshot_id = await series.save(conn, snapshot, spec.top_n, source.name)
        await rules.save_rule_states(conn, detection.rule_states, now)
        before = await series.health(conn)
        if before.failing_announced:
            events.append(on_list(SourceHealth(taken_at=now, state="recovered", failures=before.failures), spec))
        await series.record_success(conn, now)
        await fan_out(conn, events, snapshot_id, previous.id if previous else None, now)
    of_list = "" if spec.is_default else f" of list {spec.name}"
    log.info("stored snapshot %d%s (%d entries), %d event(s)", snapshot_id, of_list, len(snapshot.entries),
             len(events))
    if spec.is_default:  # outbox housekeeping, once per poll cycle, after the poll's commit
        try:
            await prune_outbox(db, settings, now)
        except StoreTransient as exc:  # must not make a stored poll look lost
            log.warning("outbox not pruned this time: %s", exc)
    return PollResult(snapshot_id, snapshot, tuple(events))


@dataclass(frozen=True, slots=True)
class ListPoll:
    name: str
    snapshot_id: int | None
    events: tuple[Event, ...]
    failure: Failure | None = None

    @property
    def error(self) -> str | None:
        return self.failure.message if self.failure else None


async def poll_lists(
    db: Database, sources: dict[str, Source], settings: Settings, table: OrgTable | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[ListPoll]:
    """Every non-default list once, in config order; one failing (even the store) does not stop the next."""
    table = table or load_org_table()
    results = []
    for spec in configured_lists(settings):
        source = sources.get(spec.name)
        if spec.is_default or source is None:
            continue
        try:
            polled = await poll_list(db, source, settings, table, spec, clock)
        except StoreTransient as exc:
            log.error("list %s not stored: %s; retrying at the next poll", spec.name, exc)
            results.append(ListPoll(spec.name, None, (), Failure(PollFailure.STORE, f"not stored: {exc}")))
            continue
        failure = polled.failures[0] if polled.failures else None
        results.append(ListPoll(spec.name, polled.snapshot_id, polled.events, failure))
    return results


def with_lists(result: PollResult, listed: Sequence[ListPoll]) -> PollResult:
    """The default list's result with the other lists' events and failures (each named by its list)."""
    failures = result.failures + tuple(replace(poll.failure, message=f"list {poll.name}: {poll.failure.message}")
                                       for poll in listed if poll.failure)
    events = result.events + tuple(event for poll in listed for event in poll.events)
    return replace(result, events=events, failures=failures)
