"""Watchlists: an author's item appearing anywhere in the fetched depth for the first time, or a watched
item entering the top N. Pure: the caller says which ids the list ever held before."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.domain.events import Watched
from bot.domain.snapshot import DEFAULT_LIST, Snapshot


@dataclass(frozen=True, slots=True)
class WatchSpec:
    """One watch: from `[[watch]]` (scope None) or a channel's `/alerts watch` (scope = destination id)."""

    target_kind: Literal["author", "model"]
    target: str
    list: str = DEFAULT_LIST
    scope: int | None = None

    @property
    def label(self) -> str:
        return f"{self.target_kind} {self.target}"


def parse_target(text: str) -> tuple[Literal["author", "model"], str]:
    """'deepseek-ai' → an author; 'org/name' → a model; ValueError for anything else."""
    value = text.strip().strip("/")
    if value.count("/") == 1 and all(part and not any(c.isspace() for c in part) for part in value.split("/")):
        return "model", value
    if value and "/" not in value and not any(c.isspace() for c in value) and len(value) <= 100:
        return "author", value
    raise ValueError(f"'{text}' is neither an author (like 'deepseek-ai') nor a model id (like 'org/name')")


def detect_watched(
    previous: Snapshot | None, current: Snapshot, *, watches: Sequence[WatchSpec], top_n: int,
    seen_before: Collection[str],
) -> list[Watched]:
    """Alerts for `watches` (already only those of this list). The first snapshot of a list is its baseline.

    `seen_before`: ids any earlier snapshot of this list held, at any rank. An author's item is
    announced once, when it first shows up; a watched item each time it enters the top N.
    """
    if previous is None or not watches:
        return []
    before_top = {entry.id for entry in previous.top(top_n)}
    depth = len(current.entries)
    found: list[Watched] = []
    for watch in watches:
        wanted = watch.target.lower()
        for entry in current.entries:
            if watch.target_kind == "author":
                if entry.namespace.lower() != wanted or entry.id in seen_before:
                    continue
                reason: Literal["appeared", "entered"] = "appeared"
            else:
                if entry.id.lower() != wanted or entry.rank > top_n or entry.id in before_top:
                    continue
                reason = "entered"
            found.append(Watched(taken_at=current.taken_at, id=entry.id, rank=entry.rank, country=entry.country,
                                 watch=watch.label, reason=reason, top_n=top_n, depth=depth, scope=watch.scope,
                                 likes=entry.likes, downloads=entry.downloads))
    return found
