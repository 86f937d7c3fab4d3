"""Which country a trending model comes from. Pure: no I/O.

Order (DESIGN.md): config override → lab namespace → the base model's country
through `base_model:*` tags (for re-uploaders, quantizers and derivatives of
unknown namespaces; a few hops) → unknown. The Hub's `region:*` tag is the
storage region, not the origin, and is never read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from bot.snapshot import UNKNOWN, Attribution, Entry, Snapshot

BASE = "base"
RELATIONS = frozenset({"quantized", "finetune", "adapter", "merge"})
MAX_HOPS = 4


@dataclass(frozen=True, slots=True)
class Org:
    namespace: str
    name: str
    country: str  # ISO alpha-2, "base" (take the base model's) or "unknown"
    kind: str  # "lab" or "reuploader"


@dataclass(frozen=True, slots=True)
class OrgTable:
    """Namespaces looked up case-insensitively, as the Hub resolves them."""

    orgs: Mapping[str, Org]

    @classmethod
    def of(cls, orgs: Iterable[Org]) -> OrgTable:
        return cls({org.namespace.lower(): org for org in orgs})

    def get(self, namespace: str) -> Org | None:
        return self.orgs.get(namespace.lower())


def namespace_of(model_id: str) -> str:
    return model_id.split("/", 1)[0] if "/" in model_id else ""


def base_models(tags: Iterable[str]) -> list[str]:
    """Base model ids from `base_model:<id>` and `base_model:<relation>:<id>` tags, in tag order."""
    bases: list[str] = []
    for tag in tags:
        if not tag.startswith("base_model:"):
            continue
        rest = tag.removeprefix("base_model:")
        relation, sep, target = rest.partition(":")
        model_id = target if sep and relation in RELATIONS else rest
        if "/" in model_id and model_id not in bases:
            bases.append(model_id)
    return bases


def _direct(model_id: str, table: OrgTable, overrides: Mapping[str, str]) -> Attribution | None:
    """A decision that needs no lineage: override, or a lab namespace with a country."""
    lowered = {key.lower(): value for key, value in overrides.items()}
    namespace = namespace_of(model_id)
    for key in (model_id.lower(), namespace.lower()):
        if key and key in lowered:
            return Attribution(lowered[key], "override", key)
    org = table.get(namespace)
    if org is not None and org.kind == "lab" and org.country not in (BASE, UNKNOWN):
        return Attribution(org.country, "namespace", org.namespace)
    return None


def attribute(
    model_id: str,
    tags: Sequence[str],
    table: OrgTable,
    overrides: Mapping[str, str] | None = None,
    known_tags: Mapping[str, Sequence[str]] | None = None,
    max_hops: int = MAX_HOPS,
) -> Attribution:
    """Decide one model's country.

    `known_tags` holds the tags of other models we know (the rest of the
    snapshot, looked-up bases), so lineage can be walked more than one hop.
    A merge of bases from several countries takes the first listed base.
    """
    overrides = overrides or {}
    known = known_tags or {}
    if (decided := _direct(model_id, table, overrides)) is not None:
        return decided

    visited = {model_id.lower()}
    frontier = base_models(tags)
    for _hop in range(max_hops):
        next_frontier: list[str] = []
        for base in frontier:
            if base.lower() in visited:
                continue
            visited.add(base.lower())
            if (decided := _direct(base, table, overrides)) is not None:
                return Attribution(decided.country, "base_model", base)
            next_frontier.extend(base_models(known.get(base, ())))
        if not next_frontier:
            break
        frontier = next_frontier
    return Attribution()


def unresolved_bases(
    snapshot: Snapshot, table: OrgTable, overrides: Mapping[str, str], known_tags: Mapping[str, Sequence[str]]
) -> list[str]:
    """Base models whose tags we would need to finish attributing `snapshot`."""
    wanted: list[str] = []
    for entry in snapshot.entries:
        if _direct(entry.id, table, overrides) is not None:
            continue
        for base in base_models(entry.tags):
            if _direct(base, table, overrides) is None and base not in known_tags and base not in wanted:
                wanted.append(base)
    return wanted


def attribute_snapshot(
    snapshot: Snapshot,
    table: OrgTable,
    overrides: Mapping[str, str] | None = None,
    extra_tags: Mapping[str, Sequence[str]] | None = None,
) -> Snapshot:
    known: dict[str, Sequence[str]] = dict(extra_tags or {})
    known.update({entry.id: entry.tags for entry in snapshot.entries})

    def attributed(entry: Entry) -> Entry:
        return replace(entry, attribution=attribute(entry.id, entry.tags, table, overrides, known))

    return replace(snapshot, entries=tuple(attributed(e) for e in snapshot.entries))


def shares(entries: Sequence[Entry], top_n: int) -> dict[str, float]:
    """Percent of the top N held by each country (unknown included), over N, not over len(entries)."""
    counts: dict[str, int] = {}
    for entry in entries[:top_n]:
        counts[entry.country] = counts.get(entry.country, 0) + 1
    return {country: 100.0 * count / top_n for country, count in counts.items()}


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
