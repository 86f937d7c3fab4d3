"""Which country a trending model comes from. Pure: no I/O.

One rule (the README's "Country of a model", `orgs.toml`'s header and this code say
the same), first answer wins:

1. an operator's label, then a config override (model id before namespace);
2. a re-upload or quantization (relation `quantized`, a re-uploader namespace, or a
   name ending in a format suffix such as GGUF/AWQ/NVFP4) takes its base model's
   country, whoever publishes it;
3. a lab namespace from `orgs.toml`: the lab's own models, fine-tunes, adapters and
   merges are the lab's;
4. anyone else's derivative takes its base's country, lineage walked a few hops
   through the tags we know;
5. a family name in the id (`families.toml`): "CN via family Qwen";
6. a lab's re-upload whose base cannot be seen stays with the lab; otherwise unknown.

`derivatives = "base"` sends every derivative (a lab's fine-tunes too) to its base;
`"publisher"` credits every model of a known lab to that lab. The Hub's `region:*`
tag is the storage region, not the origin, and is never read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from bot.domain.shares import Hold, holds
from bot.domain.snapshot import UNKNOWN, Attribution, Entry, Snapshot

BASE = "base"
RELATIONS = frozenset({"quantized", "finetune", "adapter", "merge"})
MAX_HOPS = 4
Derivatives = Literal["standard", "base", "publisher"]

# Formats a re-upload is named after: "Qwen3-8B-GGUF", "gemma-4-31B-it-NVFP4", "x-AWQ-INT4", "y-bnb-4bit".
FORMAT_TOKENS = frozenset({
    "gguf", "ggml", "awq", "gptq", "mlx", "fp8", "fp4", "nvfp4", "mxfp4", "int4", "int8", "exl2", "exl3",
    "bnb", "hqq", "eetq", "quantized", "quant", "imatrix", "onnx", "openvino", "ov", "nf4", "dwq",
})
_FORMAT_PATTERN = re.compile(r"^(?:\d+bit|\d+(?:\.\d+)?bpw|q\d(?:_k)?(?:_[sml])?|iq\d\w*|w\d+a\d+)$")
_SUFFIX_TOKENS = 3  # a format names a re-upload when it is among the last few tokens of the name


@dataclass(frozen=True, slots=True)
class Org:
    namespace: str
    name: str
    country: str  # ISO alpha-2, "base" (take the base model's) or "unknown"
    kind: str  # "lab" or "reuploader"
    confidence: str = "medium"
    renamed_to: str | None = None


@dataclass(frozen=True, slots=True)
class OrgTable:
    """Namespaces looked up case-insensitively, as the Hub resolves them."""

    orgs: Mapping[str, Org]

    @classmethod
    def of(cls, orgs: Iterable[Org]) -> OrgTable:
        return cls({org.namespace.lower(): org for org in orgs})

    def get(self, namespace: str) -> Org | None:
        return self.orgs.get(namespace.lower())

    def lab_country(self, namespace: str) -> str | None:
        """The country of a lab namespace; None for re-uploaders, unknown countries and strangers."""
        org = self.get(namespace)
        if org is not None and org.kind == "lab" and org.country not in (BASE, UNKNOWN):
            return org.country
        return None


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    names: tuple[str, ...]
    country: str
    lab: str
    needs_version: bool = False


@dataclass(frozen=True, slots=True)
class FamilyTable:
    """Family names found in a model's name (never its namespace), leftmost match first."""

    families: tuple[Family, ...] = ()
    _patterns: tuple[tuple[re.Pattern[str], Family], ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def of(cls, families: Iterable[Family]) -> FamilyTable:
        kept = tuple(families)
        patterns = []
        for family in kept:
            tail = r"[-_. ]?v?\d" if family.needs_version else r"(?![a-z])"
            for spelling in sorted(family.names, key=len, reverse=True):
                patterns.append((re.compile(r"(?:^|[-_. ])(" + re.escape(spelling.lower()) + ")" + tail), family))
        return cls(kept, tuple(patterns))

    def find(self, model_id: str) -> Family | None:
        name = model_id.rsplit("/", 1)[-1].lower()
        best: tuple[int, int, Family] | None = None
        for pattern, family in self._patterns:
            if (match := pattern.search(name)) is not None:
                key = (match.start(1), -len(match.group(1)), family)
                if best is None or key[:2] < best[:2]:
                    best = key
        return best[2] if best else None


NO_FAMILIES = FamilyTable()


def namespace_of(model_id: str) -> str:
    return model_id.split("/", 1)[0] if "/" in model_id else ""


def lineage(tags: Iterable[str]) -> list[tuple[str, str | None]]:
    """(base id, relation or None) from `base_model:<id>` and `base_model:<relation>:<id>` tags, in tag order."""
    found: dict[str, str | None] = {}
    for tag in tags:
        if not tag.startswith("base_model:"):
            continue
        rest = tag.removeprefix("base_model:")
        relation, sep, target = rest.partition(":")
        if sep and relation in RELATIONS:
            model_id, kind = target, relation
        else:
            model_id, kind = rest, None
        if "/" not in model_id:
            continue
        if model_id not in found or found[model_id] is None:
            found[model_id] = kind
    return list(found.items())


def base_models(tags: Iterable[str]) -> list[str]:
    """Base model ids from `base_model:*` tags, in tag order, once each."""
    return [model_id for model_id, _ in lineage(tags)]


def lineage_tags(bases: Iterable[tuple[str, str | None]]) -> list[str]:
    """The Hub's tag form of known bases: what a cached lookup turns back into."""
    return [f"base_model:{relation}:{model_id}" if relation else f"base_model:{model_id}"
            for model_id, relation in bases]


def has_format_suffix(model_id: str) -> bool:
    """True for names like `Qwen3-8B-GGUF`, `x-AWQ`, `gemma-4-31B-it-NVFP4-turbo`, `y-4bit`."""
    tokens = [t for t in re.split(r"[-_.]", model_id.rsplit("/", 1)[-1].lower()) if t]
    return any(t in FORMAT_TOKENS or _FORMAT_PATTERN.match(t) for t in tokens[1:][-_SUFFIX_TOKENS:])


def is_reupload(model_id: str, tags: Sequence[str], table: OrgTable) -> bool:
    org = table.get(namespace_of(model_id))
    return (
        any(relation == "quantized" for _, relation in lineage(tags))
        or (org is not None and org.kind == "reuploader")
        or has_format_suffix(model_id)
    )


@dataclass(frozen=True, slots=True)
class Rules:
    """Everything attribution reads: tables, operator labels and overrides, and the derivatives switch."""

    table: OrgTable
    families: FamilyTable = NO_FAMILIES
    overrides: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    derivatives: Derivatives = "standard"
    max_hops: int = MAX_HOPS
    _labels: Mapping[str, str] = field(init=False, repr=False, compare=False)
    _overrides: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Keys as the Hub resolves them (case-insensitively), lowered once, not at every lookup.
        object.__setattr__(self, "_labels", {key.lower(): value for key, value in self.labels.items()})
        object.__setattr__(self, "_overrides", {key.lower(): value for key, value in self.overrides.items()})

    def operator(self, model_id: str) -> Attribution | None:
        """A label (the operator's CLI act) or a config override; a model id wins over its namespace."""
        labels, overrides = self._labels, self._overrides
        for key in (model_id.lower(), namespace_of(model_id).lower()):
            if key and key in labels:
                return Attribution(labels[key], "label", key)
            if key and key in overrides:
                return Attribution(overrides[key], "override", key)
        return None

    def attribute(
        self, model_id: str, tags: Sequence[str], known_tags: Mapping[str, Sequence[str]] | None = None,
        missing: list[str] | None = None,
    ) -> Attribution:
        """Decide one model's country. `known_tags` holds other models' tags (the snapshot, cached lookups).

        `missing` collects bases whose tags we lack and which could have changed the answer:
        what the poll looks up on the Hub.
        """
        return self._decide(model_id, tags, known_tags or {}, self.max_hops, {model_id.lower()}, missing)

    def _decide(
        self, model_id: str, tags: Sequence[str], known: Mapping[str, Sequence[str]], hops: int,
        visited: set[str], missing: list[str] | None,
    ) -> Attribution:
        if (decided := self.operator(model_id)) is not None:
            return decided
        org = self.table.get(namespace_of(model_id))
        lab = Attribution(org.country, "namespace", org.namespace) \
            if org is not None and self.table.lab_country(org.namespace) else None
        bases = lineage(tags)
        reupload = is_reupload(model_id, tags, self.table)
        if lab is not None:
            keeps = self.derivatives == "publisher" or not (reupload or (self.derivatives == "base" and bases))
            if keeps:
                return lab
        for base, _relation in bases:
            if hops <= 0 or base.lower() in visited:
                continue
            visited.add(base.lower())
            base_tags = known.get(base)
            if base_tags is None and missing is not None and self._could_learn(base) and base not in missing:
                missing.append(base)
            found = self._decide(base, base_tags or (), known, hops - 1, visited, missing)
            if found.country != UNKNOWN:  # name the model that decided, at the root of the chain
                return Attribution(found.country, "base_model", found.via if found.method == "base_model" else base)
        if (family := self.families.find(model_id)) is not None:
            return Attribution(family.country, "family", family.name)
        return lab or Attribution()  # a lab's re-upload of a base we cannot see stays the lab's

    def _could_learn(self, model_id: str) -> bool:
        """Would this base's own tags matter? Not when an operator or its lab already decides it."""
        if self.operator(model_id) is not None:
            return False
        lab = self.table.lab_country(namespace_of(model_id))
        return lab is None or self.derivatives == "base" or has_format_suffix(model_id)


def attribute(
    model_id: str,
    tags: Sequence[str],
    table: OrgTable,
    overrides: Mapping[str, str] | None = None,
    known_tags: Mapping[str, Sequence[str]] | None = None,
    max_hops: int = MAX_HOPS,
) -> Attribution:
    """`Rules(...).attribute` with the org table only (no families, no labels, standard derivatives)."""
    return Rules(table, overrides=overrides or {}, max_hops=max_hops).attribute(model_id, tags, known_tags)


def snapshot_tags(
    snapshot: Snapshot, extra_tags: Mapping[str, Sequence[str]] | None = None
) -> dict[str, Sequence[str]]:
    known: dict[str, Sequence[str]] = dict(extra_tags or {})
    known.update({entry.id: entry.tags for entry in snapshot.entries})
    return known


def bases_to_look_up(snapshot: Snapshot, rules: Rules, known_tags: Mapping[str, Sequence[str]]) -> list[str]:
    """Base models whose tags we would need to finish attributing `snapshot`, in list order."""
    known = snapshot_tags(snapshot, known_tags)
    missing: list[str] = []
    for entry in snapshot.entries:
        rules.attribute(entry.id, entry.tags, known, missing)
    return missing


def attribute_snapshot(
    snapshot: Snapshot,
    rules: Rules | OrgTable,
    overrides: Mapping[str, str] | None = None,
    extra_tags: Mapping[str, Sequence[str]] | None = None,
) -> Snapshot:
    if isinstance(rules, OrgTable):
        rules = Rules(rules, overrides=overrides or {})
    known = snapshot_tags(snapshot, extra_tags)

    def attributed(entry: Entry) -> Entry:
        return replace(entry, attribution=rules.attribute(entry.id, entry.tags, known))

    return replace(snapshot, entries=tuple(attributed(e) for e in snapshot.entries))


def country_holds(entries: Sequence[Entry], top_n: int) -> dict[str, Hold]:
    """Each country's hold on the top N, with the unknown entries beside it (`bot.domain.shares`)."""
    return holds((entry.country for entry in entries), top_n)


def shares(entries: Sequence[Entry], top_n: int) -> dict[str, float]:
    """Percent of the top N held by each country (unknown included), over N, not over len(entries)."""
    return {country: hold.percent for country, hold in country_holds(entries, top_n).items()}


FLAGS_UNKNOWN = "🏳️"


def flag(country: str) -> str:
    """Regional-indicator emoji for an ISO code; a white flag for unknown."""
    if len(country) != 2 or not country.isalpha():
        return FLAGS_UNKNOWN
    return "".join(chr(0x1F1E6 + ord(ch) - ord("A")) for ch in country.upper())


COUNTRY_NAMES = {
    "AE": "United Arab Emirates", "AU": "Australia", "CA": "Canada", "CH": "Switzerland", "CN": "China",
    "DE": "Germany", "ES": "Spain", "FI": "Finland", "FR": "France", "GB": "United Kingdom", "HK": "Hong Kong",
    "IL": "Israel", "IN": "India", "IT": "Italy", "JP": "Japan", "KR": "South Korea", "NL": "Netherlands",
    "PL": "Poland", "RU": "Russia", "SA": "Saudi Arabia", "SE": "Sweden", "SG": "Singapore", "TW": "Taiwan",
    "US": "United States", "VN": "Vietnam",
}


def country_name(country: str) -> str:
    if country == UNKNOWN:
        return "unknown origin"
    return COUNTRY_NAMES.get(country, country)
