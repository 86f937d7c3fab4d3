"""The 2026 trending data in `bench/data/`, and the tagged replay built from it.

    python -m bench.trending_data      # rewrites bench/data/trending-2026-03-to-05-tagged.jsonl

The archive keeps ids only. The tagged replay adds the `base_model:*` tags the Hub would carry
for derivatives whose base is clear from the ids (rule in bench/data/README.md): it measures
what lineage adds, and it is what the fake Hub serves in `python -m bench.attribution`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.attribution.countries import OrgTable, has_format_suffix, namespace_of

DATA = Path(__file__).resolve().parent / "data"
TRENDING = DATA / "trending-2026-03-to-05.jsonl"
TAGGED = DATA / "trending-2026-03-to-05-tagged.jsonl"
_INSTRUCT = re.compile(r"[-_.](it|instruct|chat)$")


@dataclass(frozen=True, slots=True)
class ArchivedSnapshot:
    taken_at: str
    model_ids: tuple[str, ...]  # by rank


def load_snapshots(path: Path = TRENDING) -> list[ArchivedSnapshot]:
    """Snapshots in time order, each with its ids by rank."""
    rows: dict[str, list[tuple[int, str]]] = {}
    with path.open(encoding="utf-8") as handle:
        for text in handle:
            if text.strip():
                row = json.loads(text)
                rows.setdefault(row["snapshot_time"], []).append((int(row["rank"]), row["model_id"]))
    return [ArchivedSnapshot(t, tuple(m for _, m in sorted(ranked))) for t, ranked in sorted(rows.items())]


def _name(model_id: str) -> str:
    return model_id.rsplit("/", 1)[-1].lower()


def _contains(haystack: str, needle: str) -> bool:
    return re.search(r"(?:^|[-_.])" + re.escape(needle) + r"(?:$|[-_.])", haystack) is not None


def clear_base(model_id: str, candidates: Iterable[str], table: OrgTable) -> tuple[str, str] | None:
    """(base id, relation) when another listed model's name is plainly inside this one's; else None."""
    quantized = has_format_suffix(model_id)
    if table.lab_country(namespace_of(model_id)) is not None and not quantized:
        return None  # a lab's own model is the original, unless it is a format-suffixed copy
    best: tuple[int, str] | None = None
    for candidate in candidates:
        if candidate == model_id:
            continue
        if namespace_of(candidate).lower() == namespace_of(model_id).lower() and not quantized:
            continue  # a lab's "X-Base" next to "X" says nothing about which came first
        for needle in {_name(candidate), _INSTRUCT.sub("", _name(candidate))}:
            if _contains(_name(model_id), needle) and (best is None or len(needle) > best[0]):
                best = (len(needle), candidate)
    if best is None:
        return None
    return best[1], "quantized" if quantized else "finetune"


def lineage_of(model_ids: Sequence[str], table: OrgTable) -> dict[str, list[str]]:
    """model id → the `base_model:` tags the tagged replay gives it."""
    tags: dict[str, list[str]] = {}
    for model_id in model_ids:
        if (found := clear_base(model_id, model_ids, table)) is not None:
            base, relation = found
            tags[model_id] = [f"base_model:{base}", f"base_model:{relation}:{base}"]
    return tags


def hub_models(model_ids: Sequence[str], tags: dict[str, list[str]]) -> list[dict[str, Any]]:
    from tests.fakes.hub import hub_model

    return [hub_model(m, score=1000 - 10 * i, tags=tags.get(m, [])) for i, m in enumerate(model_ids)]


def tagged_records(snapshots: Sequence[ArchivedSnapshot], table: OrgTable) -> list[dict[str, Any]]:
    distinct = list(dict.fromkeys(m for s in snapshots for m in s.model_ids))
    tags = lineage_of(distinct, table)
    return [{"taken_at": s.taken_at, "models": hub_models(s.model_ids, tags)} for s in snapshots]


def read_tagged(path: Path = TAGGED) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(text) for text in handle if text.strip()]


def main() -> None:
    from bot.attribution.orgs import load_org_table

    records = tagged_records(load_snapshots(), load_org_table())
    with TAGGED.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    tagged = {m["id"] for r in records for m in r["models"] if any(t.startswith("base_model:") for t in m["tags"])}
    print(f"wrote {TAGGED.relative_to(DATA.parent.parent)}: {len(records)} snapshots, {len(tagged)} tagged models")


if __name__ == "__main__":
    main()
