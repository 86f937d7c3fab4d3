"""Several trending lists in one bot: fetch each with the official client, store and detect per list.

The default list (`models`) runs through `bot.poll.poll_once` exactly as before; each
`[[lists]]` entry runs through `poll_list` here, with its own snapshots, rule state, health
and "source failing" notice. One list failing never stops the others (`poll_lists`).
Watches and channel filters are applied here and in `bot.filters`, at fan-out, never in `detect`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

import aiosqlite
import httpx2
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils._pagination import paginate

from bot.attribution import current_rules, learn_lineage
from bot.config import Route, Secrets, Settings
from bot.countries import OrgTable, Rules, attribute_snapshot
from bot.detect import RuleSpec, detect
from bot.events import Event, ListSection, SourceHealth
from bot.filters import ChannelFilter, describe_entries, on_list, route_events
from bot.hub import HubError, HubSource, Source, describe
from bot.list_specs import ListSpec, configured_lists
from bot.log import get_logger
from bot.orgs import load_org_table
from bot.snapshot import Snapshot
from bot.watch import WatchSpec, detect_watched
from store import channel_filters, outbox, reattribution, rules, watches
from store import lists as list_store
from store.db import Database, StoreTransient, utc_iso
from store.destinations import current_routing

if TYPE_CHECKING:
    from bot.poll import PollResult

log = get_logger(__name__)


def _info_item(info: Any) -> dict[str, Any]:
    """A `ModelInfo`/`SpaceInfo`/`DatasetInfo` back into the Hub's item shape, for `snapshot_from_json`.

    The official client parses the answer; our parser still checks every field's type, so a drifting
    field becomes unknown instead of garbage. A Space's SDK is kept as its `library_name`.
    """
    created = getattr(info, "created_at", None)
    return {
        "id": info.id,
        "likes": getattr(info, "likes", None),
        "downloads": getattr(info, "downloads", None),
        "trendingScore": getattr(info, "trending_score", None),
        "pipeline_tag": getattr(info, "pipeline_tag", None),
        "library_name": getattr(info, "library_name", None) or getattr(info, "sdk", None),
        "createdAt": created.isoformat().replace("+00:00", "Z") if isinstance(created, datetime) else None,
        "tags": getattr(info, "tags", None),
    }


class ListSource(HubSource):
    """A `[[lists]]` entry: `list_models`/`list_spaces`/`list_datasets` sorted by trending score, filters sent
    to the Hub. Retries, timeouts and lineage lookups are `HubSource`'s."""

    def __init__(self, spec: ListSpec, **kwargs: Any) -> None:
        super().__init__(depth=spec.depth, **kwargs)
        self.spec = spec
        self.name = f"hub:{spec.name}"

    def _listing(self) -> Any:
        spec = self.spec
        if spec.kind == "spaces":
            return self._api.list_spaces(sort="trending_score", limit=spec.depth, author=spec.author)
        if spec.kind == "datasets":
            return self._api.list_datasets(sort="trending_score", limit=spec.depth, author=spec.author)
        return self._api.list_models(sort="trending_score", limit=spec.depth, author=spec.author,
                                     pipeline_tag=spec.pipeline_tag, filter=spec.library)

    def _raw_params(self) -> dict[str, Any]:
        """The query `_listing` sends, for the raw fallback."""
        spec = self.spec
        params: dict[str, Any] = {"sort": "trendingScore", "limit": spec.depth}
        found = {"author": spec.author, "pipeline_tag": spec.pipeline_tag, "filter": spec.library}
        params.update({key: value for key, value in found.items() if value})
        return params

    def _list(self) -> list[Any]:
        try:
            try:
                return [_info_item(info) for info in islice(self._listing(), self.spec.depth)]
            except (json.JSONDecodeError, HubError, httpx2.HTTPError):
                raise
            except (ValueError, TypeError, AttributeError, KeyError) as exc:
                # The client could not build its `SpaceInfo`/`DatasetInfo`/`ModelInfo` (a drifting optional
                # field, e.g. a `createdAt` it cannot parse): read the same page raw, and let our parser turn
                # that field into unknown with one warning instead of losing the whole answer.
                log.warning("list %s: the Hub client could not read the answer (%s); reading it raw",
                            self.spec.name, exc)
                headers = self._api._build_hf_headers()
                url = f"{self.endpoint}/api/{self.spec.kind}"
                return list(islice(paginate(url, params=self._raw_params(), headers=headers), self.spec.depth))
        except HubError:
            raise
        except (httpx2.HTTPStatusError, HfHubHTTPError) as exc:
            status = getattr(exc.response, "status_code", None)
            raise HubError(f"the Hub answered HTTP {status}" if status else f"the Hub refused: {exc}") from exc
        except ValueError as exc:  # includes JSONDecodeError and a bad date the client could not parse
            raise HubError(f"the Hub's answer is not the expected JSON ({exc})") from exc
        except (KeyError, TypeError, AttributeError) as exc:
            raise HubError(f"the Hub's answer is not a list of {self.spec.kind}") from exc
        except OSError as exc:
            raise HubError(f"cannot reach the Hub: {exc}") from exc


def build_list_sources(settings: Settings, secrets: Secrets) -> dict[str, Source]:
    """One source per `[[lists]]` entry; with `[hub] replay` the other lists are not polled."""
    if settings.hub.replay is not None:
        return {}
    token = secrets.hf_token.get_secret_value() if secrets.hf_token else None
    return {
        spec.name: ListSource(spec, endpoint=settings.hub.endpoint, token=token,
                              timeout=settings.hub.request_timeout, budget=settings.hub.retry_budget,
                              lineage_lookups=settings.hub.lineage_lookups if spec.kind == "models" else 0)
        for spec in configured_lists(settings) if not spec.is_default
    }


# --- watches and fan-out ------------------------------------------------------------------------------


def config_watches(settings: Settings) -> list[WatchSpec]:
    found: list[WatchSpec] = []
    for watch in settings.watch:
        if watch.author is not None:
            found.append(WatchSpec("author", watch.author, watch.list))
        elif watch.model is not None:
            found.append(WatchSpec("model", watch.model, watch.list))
    return found


async def all_watches(conn: aiosqlite.Connection, settings: Settings) -> list[WatchSpec]:
    stored = [WatchSpec("author" if w.target_kind == "author" else "model", w.target, w.list, w.destination_id)
              for w in await watches.all_watches(conn)]
    return config_watches(settings) + stored


async def watched_events(
    conn: aiosqlite.Connection, settings: Settings, spec: ListSpec, previous: Snapshot | None, current: Snapshot,
) -> list[Event]:
    """Call before the snapshot is stored: 'first appearance' reads which ids the list held so far."""
    wanted = [w for w in await all_watches(conn, settings) if w.list == spec.name]
    if previous is None or not wanted:
        return []
    seen = await list_store.seen_before(conn, spec.name, [entry.id for entry in current.entries])
    found = detect_watched(previous, current, watches=wanted, top_n=spec.top_n, seen_before=seen)
    return [on_list(event, spec) for event in found]


def route_filter(route: Route) -> channel_filters.StoredFilter | None:
    """A route's filter keys as stored; None when the route sets none (what commands set is kept)."""
    if not {"lists", "countries", "tasks", "authors", "derivatives"} & route.model_fields_set:
        return None
    return channel_filters.StoredFilter(route.lists, route.countries, route.tasks, route.authors, route.derivatives)


async def sync_route_filters(conn: aiosqlite.Connection, settings: Settings, now: datetime) -> None:
    await channel_filters.sync_route_filters(
        conn, [(route.platform, route.channel, route_filter(route)) for route in settings.routes], now)


async def channel_filter_map(conn: aiosqlite.Connection) -> dict[int, ChannelFilter]:
    return {dest: ChannelFilter(f.lists, f.countries, f.tasks, f.authors, f.derivatives)
            for dest, f in (await channel_filters.all_filters(conn)).items()}


async def fan_out(
    conn: aiosqlite.Connection, events: Sequence[Event], snapshot_id: int | None, previous_id: int | None,
    now: datetime,
) -> None:
    """Outbox rows per destination, through the channel filters: a filtered channel may get its own copy."""
    destinations = (await current_routing(conn)).destinations
    filters = await channel_filter_map(conn)
    for event, ids in route_events(events, destinations, filters, previous_id, now):
        await outbox.add_event(conn, event, snapshot_id, ids, now)


# --- polling one non-default list ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListPoll:
    name: str
    snapshot_id: int | None
    events: tuple[Event, ...]
    error: str | None = None


def list_rules(settings: Settings, spec: ListSpec) -> list[RuleSpec]:
    return [
        RuleSpec(key=rule.key, country=rule.country, direction=rule.direction, threshold=rule.threshold,
                 for_polls=rule.for_polls, hysteresis=rule.hysteresis, notify_resolved=rule.notify_resolved)
        for rule in settings.share_rules if rule.list == spec.name
    ]


async def _list_failure(db: Database, settings: Settings, spec: ListSpec, error: str, now: datetime) -> list[Event]:
    async with db.transaction() as conn:
        state = await list_store.record_list_failure(conn, spec.name, error, now)
        if state.failures < settings.hub.failures_before_notice or state.failing_announced:
            return []
        notice = on_list(SourceHealth(taken_at=now, state="failing", failures=state.failures, error=error), spec)
        await list_store.set_list_failing_announced(conn, spec.name, True)
        await fan_out(conn, [notice], None, None, now)
        return [notice]


async def poll_list(
    db: Database, source: Source, settings: Settings, table: OrgTable, spec: ListSpec,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ListPoll:
    """One poll of one non-default list; never raises for a bad Hub answer (recorded, counted, reported)."""
    latest = await list_store.latest_list_snapshots(db.conn, spec.name, 1)
    previous = latest[0] if latest else None
    try:
        raw = await source.fetch(previous.snapshot.taken_at if previous else None)
        if len(raw.entries) < spec.top_n and not spec.filters:
            # A filtered list (one author, a narrow task) may really hold fewer; the overall lists never do.
            raise HubError(f"the Hub listed only {len(raw.entries)} {spec.kind}, fewer than the top {spec.top_n}")
        attribution_rules = await current_rules(db.conn, settings, table)
        lineage = (await learn_lineage(db, source, attribution_rules, raw, settings, clock())
                   if spec.kind == "models" else {})
        snapshot = attribute_snapshot(raw, attribution_rules, extra_tags=lineage)
    except HubError as exc:
        error = describe(exc)
        log.info("poll of list %s failed: %s", spec.name, error)
        try:
            notices = await _list_failure(db, settings, spec, error, clock())
        except StoreTransient as store_exc:
            log.error("%s; the failure is not counted", store_exc)
            notices = []
        return ListPoll(spec.name, None, tuple(notices), error)
    now = clock()
    async with db.transaction() as conn:
        history = await list_store.list_history(conn, spec.name, [entry.id for entry in snapshot.top(spec.top_n)])
        detection = detect(
            previous.snapshot if previous else None, snapshot, top_n=spec.top_n, rules=list_rules(settings, spec),
            states=await rules.load_rule_states(conn), history=history, cooldown=settings.alerts.reentry_cooldown,
            announce_leader=settings.alerts.new_leader,
        )
        events: list[Event] = [on_list(describe_entries(event, snapshot, table), spec) for event in detection.events]
        events += await watched_events(conn, settings, spec, previous.snapshot if previous else None, snapshot)
        snapshot_id = await list_store.save_list_snapshot(conn, spec.name, snapshot, spec.top_n, source.name)
        await rules.save_rule_states(conn, detection.rule_states, now)
        before = await list_store.list_health(conn, spec.name)
        if before.failing_announced:
            events.append(on_list(SourceHealth(taken_at=now, state="recovered", failures=before.failures), spec))
        await list_store.record_list_success(conn, spec.name, now)
        await fan_out(conn, events, snapshot_id, previous.id if previous else None, now)
    log.info("stored snapshot %d of list %s (%d entries), %d event(s)", snapshot_id, spec.name,
             len(snapshot.entries), len(events))
    return ListPoll(spec.name, snapshot_id, tuple(events))


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
            results.append(await poll_list(db, source, settings, table, spec, clock))
        except StoreTransient as exc:
            log.error("list %s not stored: %s; retrying at the next poll", spec.name, exc)
            results.append(ListPoll(spec.name, None, (), f"not stored: {exc}"))
    return results


def with_lists(result: PollResult, listed: Sequence[ListPoll]) -> PollResult:
    """The default list's result with the other lists' events; their failures named in `error`."""
    errors = [result.error] if result.error else []
    errors += [f"list {poll.name}: {poll.error}" for poll in listed if poll.error]
    events = result.events + tuple(event for poll in listed for event in poll.events)
    return replace(result, events=events, error="; ".join(errors) or None)


# --- the weekly digest's short section per non-default list -------------------------------------------

SECTION_NAMED = 5  # a section names at most this many newcomers


async def list_sections(conn: aiosqlite.Connection, settings: Settings, start: datetime, end: datetime
                        ) -> tuple[ListSection, ...]:
    """Each non-default list's week in [start, end): what entered its top N for the first time, who led."""
    sections = []
    for spec in configured_lists(settings):
        if spec.is_default:
            continue
        async with conn.execute(
            "SELECT s.id, e.rank, e.item_id FROM snapshots s JOIN list_entries e ON e.snapshot_id = s.id"
            " WHERE s.list = ? AND s.taken_at >= ? AND s.taken_at < ? AND e.rank <= s.top_n"
            " ORDER BY s.taken_at, s.id, e.rank",
            (spec.name, utc_iso(start), utc_iso(end)),
        ) as cursor:
            week = [(int(sid), int(rank), str(item)) for sid, rank, item in await cursor.fetchall()]
        async with conn.execute(
            "SELECT DISTINCT e.item_id FROM snapshots s JOIN list_entries e ON e.snapshot_id = s.id"
            " WHERE s.list = ? AND s.taken_at < ? AND e.rank <= s.top_n",
            (spec.name, utc_iso(start)),
        ) as cursor:
            before = {str(item) for (item,) in await cursor.fetchall()}
        sections.append(list_section(spec, week, before))
    return tuple(sections)


def list_section(spec: ListSpec, week: Sequence[tuple[int, int, str]], before: set[str]) -> ListSection:
    """Pure: (snapshot id, rank, item) rows of the week's top N, and items in the top N before the week."""
    newcomers = [item for _, _, item in week if item not in before]
    leaders = [item for _, rank, item in week if rank == 1]
    return ListSection(name=spec.name, kind=spec.kind, top_n=spec.top_n, snapshots=len({sid for sid, _, _ in week}),
                       newcomers=tuple(dict.fromkeys(newcomers)), leaders=tuple(dict.fromkeys(leaders)))


async def reattribute_lists(conn: aiosqlite.Connection, rules: Rules, known: Mapping[str, Sequence[str]]) -> int:
    """The other lists' stored entries re-decided with today's rules (called by `bot.attribution.reattribute`
    in its transaction); Spaces and datasets go by their namespace, labels and overrides."""
    items = await list_store.stored_item_tags(conn)
    decided = {item_id: rules.attribute(item_id, tags, known) for item_id, tags in items.items()}
    changed = (await reattribution.reattribute_list_entries(conn, decided)).entries
    if changed:
        log.info("re-attributed %d entr%s of the other lists", changed, "y" if changed == 1 else "ies")
    return changed
