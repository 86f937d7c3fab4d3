"""Which trending lists the bot watches, as plain values; and the Hub request budget they cost.

The default list (`models`) is the Hub's overall trending models with `[hub] top_n` and
`depth`: today's behaviour and today's keys. `[[lists]]` add more, each its own series of
snapshots. Pure: no I/O, so config validation can use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bot.config import HUB_REQUESTS_PER_5_MIN
from bot.orgs import iso_country_codes
from bot.snapshot import DEFAULT_LIST

if TYPE_CHECKING:
    from bot.config import Settings

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


def configured_lists(settings: Settings) -> list[ListSpec]:
    """The default list first, then `[[lists]]` in config order."""
    hub = settings.hub
    found = [ListSpec(DEFAULT_LIST, "models", hub.top_n, hub.depth)]
    for declared in settings.lists:
        top_n = declared.top_n or hub.top_n
        depth = declared.depth or max(hub.depth, top_n)
        found.append(ListSpec(declared.name, declared.kind, top_n, depth, declared.pipeline_tag, declared.author,
                              declared.library))
    return found


def list_named(settings: Settings, name: str | None) -> ListSpec:
    """The list a command or CLI option names (None = the default); ValueError names the known ones."""
    wanted = (name or DEFAULT_LIST).strip().lower()
    lists = configured_lists(settings)
    for spec in lists:
        if spec.name == wanted:
            return spec
    raise ValueError(f"no list named {name!r}; configured: {', '.join(spec.name for spec in lists)}")


def requests_per_5_minutes(settings: Settings) -> float:
    """Worst-case Hub requests in 5 minutes at `[hub] poll_interval` (retries inside `retry_budget` aside)."""
    per_poll = sum(spec.hub_requests_per_poll(settings.hub.lineage_lookups) for spec in configured_lists(settings))
    polls = math.ceil(300.0 / max(settings.hub.poll_interval.total_seconds(), 1.0))  # any window holds one
    return float(per_poll * polls)


def check_lists(settings: Settings) -> None:
    """Names unique and known wherever they are used; a multi-list config within the Hub's rate limit.

    ValueError with one line; `parse_settings` turns it into a ConfigError. A config without
    `[[lists]]` is not budget-checked, so single-list configs behave exactly as before.
    """
    names = [DEFAULT_LIST]
    for declared in settings.lists:
        if declared.name in RESERVED_NAMES:
            raise ValueError(f"lists: {declared.name!r} is a command word; pick another name")
        if declared.name.isdigit() or declared.name.upper() in iso_country_codes():
            # `/trending cn 5` must keep meaning the country and the count on Slack
            raise ValueError(f"lists: {declared.name!r} reads as a count or a country code; pick another name")
        if declared.name in names:
            what = "is the default list's name" if declared.name == DEFAULT_LIST else "is declared twice"
            raise ValueError(f"lists: {declared.name!r} {what}; every list needs its own name")
        names.append(declared.name)
    for index, declared in enumerate(settings.lists):
        top_n, depth = declared.top_n or settings.hub.top_n, declared.depth or settings.hub.depth
        if depth < top_n:  # every poll would be a short answer, a counted failure, forever
            raise ValueError(f"lists[{index}].depth: {depth} is less than its top_n {top_n}"
                             " (top_n and depth default to [hub]'s)")
    known = ", ".join(names)
    for index, route in enumerate(settings.routes):
        unknown = [name for name in route.lists if name not in names]
        if unknown:
            raise ValueError(f"routes[{index}].lists: unknown list(s) {unknown}; configured: {known}")
    for index, rule in enumerate(settings.share_rules):
        if rule.list not in names:
            raise ValueError(f"share_rules[{index}].list: unknown list {rule.list!r}; configured: {known}")
    for index, watch in enumerate(settings.watch):
        if watch.list not in names:
            raise ValueError(f"watch[{index}].list: unknown list {watch.list!r}; configured: {known}")
    if settings.lists:
        budget = requests_per_5_minutes(settings)
        if budget > HUB_REQUESTS_PER_5_MIN:
            raise ValueError(
                f"lists: {len(names)} lists at hub.poll_interval {settings.hub.poll_interval} may cost"
                f" {budget:.0f} Hub requests in 5 minutes, above the Hub's limit of {HUB_REQUESTS_PER_5_MIN}:"
                " poll less often, declare fewer lists or lower hub.lineage_lookups"
            )
