"""A trending list as plain values: which Hub listing, how deep, how many count as its top.

Every list (the overall `models` list, Spaces, datasets, filtered model lists) is one series of
snapshots with the same rules; every alert names its list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from bot.domain.snapshot import DEFAULT_LIST

ListKind = Literal["models", "datasets", "spaces"]


RESERVED_NAMES = frozenset({"share", "model", "alerts", "help", "all", "any"})  # words slash commands take


_REPO_PATH = {"models": "", "datasets": "datasets/", "spaces": "spaces/"}


@dataclass(frozen=True, slots=True)
class ListSpec:
    """One trending list as the poller sees it."""

    name: str
    kind: ListKind
    top_n: int
    depth: int
    pipeline_tag: str | None = None
    author: str | None = None
    library: str | None = None

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_LIST

    @property
    def filters(self) -> dict[str, str]:
        """The Hub filters of this list, by name, for messages and docs."""
        found = {"pipeline_tag": self.pipeline_tag, "author": self.author, "library": self.library}
        return {key: value for key, value in found.items() if value}

    def hub_requests_per_poll(self, lineage_lookups: int) -> int:
        """One listing (the Hub pages at 1,000, `depth` is at most that) plus, for models, the lineage bound."""
        return math.ceil(self.depth / 1000) + (lineage_lookups if self.kind == "models" else 0)


def item_url(kind: str, item_id: str) -> str:
    """The Hub page of a model, dataset or Space."""
    return f"https://huggingface.co/{_REPO_PATH.get(kind, '')}{item_id}"


def list_url(kind: str) -> str:
    return f"https://huggingface.co/{kind}?sort=trending"
