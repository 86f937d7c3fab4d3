"""Several trending lists in one bot: fetch each with the official client, store and detect per list.

Every list, the default one included, is polled by `bot.poll.poll_list` over its own series in
the store (`store.series`): its own snapshots, rule state, health and "source failing" notice.
This module fetches the other lists, finds watched items and fans events out through the
channel filters (`bot.filters`), never in `detect`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

import httpx2
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils._pagination import paginate

from bot.config import Route, Secrets, Settings
from bot.countries import Rules
from bot.events import Event, ListSection
from bot.filters import ChannelFilter, on_list, route_events
from bot.hub import HubError, HubSource, Source
from bot.list_specs import ListSpec, configured_lists
from bot.log import get_logger
from bot.snapshot import Snapshot
from bot.watch import WatchSpec, detect_watched
from store import channel_filters, outbox, reattribution, watches
from store import lists as list_store
from store.db import Conn, utc_iso
from store.destinations import current_routing

if TYPE_CHECKING:
    pass

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
                              poll_interval=settings.hub.poll_interval,
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


async def all_watches(conn: Conn, settings: Settings) -> list[WatchSpec]:
    stored = [WatchSpec("author" if w.target_kind == "author" else "model", w.target, w.list, w.destination_id)
              for w in await watches.all_watches(conn)]
    return config_watches(settings) + stored


async def watched_events(
    conn: Conn, settings: Settings, spec: ListSpec, previous: Snapshot | None, current: Snapshot,
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


async def sync_route_filters(conn: Conn, settings: Settings, now: datetime) -> None:
    await channel_filters.sync_route_filters(
        conn, [(route.platform, route.channel, route_filter(route)) for route in settings.routes], now)


async def channel_filter_map(conn: Conn) -> dict[int, ChannelFilter]:
    return {dest: ChannelFilter(f.lists, f.countries, f.tasks, f.authors, f.derivatives)
            for dest, f in (await channel_filters.all_filters(conn)).items()}


async def fan_out(
    conn: Conn, events: Sequence[Event], snapshot_id: int | None, previous_id: int | None,
    now: datetime,
) -> None:
    """Outbox rows per destination, through the channel filters: a filtered channel may get its own copy."""
    destinations = (await current_routing(conn)).destinations
    filters = await channel_filter_map(conn)
    for event, ids in route_events(events, destinations, filters, previous_id, now):
        await outbox.add_event(conn, event, snapshot_id, ids, now)


# --- the weekly digest's short section per non-default list -------------------------------------------

SECTION_NAMED = 5  # a section names at most this many newcomers


async def list_sections(conn: Conn, settings: Settings, start: datetime, end: datetime
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


async def reattribute_lists(conn: Conn, rules: Rules, known: Mapping[str, Sequence[str]]) -> int:
    """The other lists' stored entries re-decided with today's rules (called by `bot.attribution.reattribute`
    in its transaction); Spaces and datasets go by their namespace, labels and overrides."""
    items = await list_store.stored_item_tags(conn)
    decided = {(name, item_id): rules.attribute(item_id, tags, known) for (name, item_id), tags in items.items()}
    changed = (await reattribution.reattribute_list_entries(conn, decided)).entries
    if changed:
        log.info("re-attributed %d entr%s of the other lists", changed, "y" if changed == 1 else "ies")
    return changed
