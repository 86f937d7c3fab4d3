"""The domain's core values: a ranked snapshot of the Hub's trending list."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

UNKNOWN = "unknown"
DEFAULT_LIST = "models"  # the Hub's overall trending models: the list every alert was about before [[lists]]


@dataclass(frozen=True, slots=True)
class Attribution:
    """Which country a model is credited to, and how that was decided.

    `method` is one of "label" (an operator's label), "override" (config),
    "base_model" (lineage), "namespace" (a lab in orgs.toml), "family" (a family
    name in the id) or "unknown"; `via` names the label key, base model,
    namespace or family the decision went through.
    """

    country: str = UNKNOWN
    method: str = "unknown"
    via: str | None = None

    def explain(self) -> str:
        if self.method == "base_model" and self.via:
            return f"via base model {self.via}"
        if self.method == "family" and self.via:
            return f"via family {self.via}"
        if self.method == "namespace" and self.via:
            return f"namespace {self.via}"
        if self.method == "label":
            return "operator label"
        if self.method == "override":
            return "config override"
        return "no known origin"


@dataclass(frozen=True, slots=True)
class Entry:
    rank: int
    id: str
    likes: int | None = None
    downloads: int | None = None
    trending_score: float | None = None
    pipeline_tag: str | None = None
    library_name: str | None = None
    created_at: datetime | None = None
    tags: tuple[str, ...] = ()
    attribution: Attribution = field(default_factory=Attribution)

    @property
    def namespace(self) -> str:
        return self.id.split("/", 1)[0] if "/" in self.id else ""

    @property
    def country(self) -> str:
        return self.attribution.country

    @property
    def url(self) -> str:
        return f"https://huggingface.co/{self.id}"


@dataclass(frozen=True, slots=True)
class Snapshot:
    taken_at: datetime
    entries: tuple[Entry, ...]

    def top(self, n: int) -> tuple[Entry, ...]:
        return self.entries[:n]

    def rank_of(self, model_id: str) -> int | None:
        for entry in self.entries:
            if entry.id == model_id:
                return entry.rank
        return None
