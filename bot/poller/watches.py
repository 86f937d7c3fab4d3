"""Watches for one poll: the config's and the channels' (`/alerts watch`), matched by the pure rule."""

from __future__ import annotations

from bot.config import Settings
from bot.domain.events import Event
from bot.domain.lists import ListSpec
from bot.domain.snapshot import Snapshot
from bot.rules.filters import on_list
from bot.rules.watches import WatchSpec, detect_watched
from store import watches
from store.db import Conn
from store.series import Series


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
    seen = await Series(spec.name).seen_before(conn, [entry.id for entry in current.entries])
    found = detect_watched(previous, current, watches=wanted, top_n=spec.top_n, seen_before=seen)
    return [on_list(event, spec) for event in found]
