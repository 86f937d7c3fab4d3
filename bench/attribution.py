"""Country attribution on 141 real trending snapshots of March–May 2026 (bench/data/).

    python -m bench.attribution
    python -m bench.attribution --archive PATH [--top N] [--by-month]   # an archive's ids, by year (`by_year`)

Prints, for ids alone (the archive keeps no tags) and for the tagged replay served by the fake
Hub to the real huggingface_hub client through the bot's own poll: the share of top-10 entries
(and of distinct models) whose country is unknown, how each entry was decided, and the most
frequent unknown namespaces. The baseline is the rule and table from before issue 9, measured
in the same run. Goals: unknown under 10% from ids alone, under 5% with tags.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.measure import VERDICTS
from bench.trending_data import DATA, TAGGED, ArchivedSnapshot, load_snapshots, read_tagged
from bot.archive.reading import ArchiveError as ReadError
from bot.archive.reading import read_source
from bot.attribution.countries import Rules, attribute_snapshot, base_models, has_format_suffix, namespace_of
from bot.attribution.orgs import load_family_table, load_org_table
from bot.domain.snapshot import DEFAULT_LIST, UNKNOWN, Attribution, Entry, Snapshot

GOAL_IDS_ONLY = 10.0
GOAL_WITH_TAGS = 5.0
TOP_N = 10
BEFORE_TABLE = DATA / "orgs-before-issue9.tsv"


@dataclass
class Measure:
    entries: int = 0
    unknown_entries: int = 0
    models: dict[str, str] = field(default_factory=dict)  # model → country (the last decision)
    methods: Counter[str] = field(default_factory=Counter)
    unknown_namespaces: Counter[str] = field(default_factory=Counter)
    by_month: dict[str, Counter[str]] = field(default_factory=dict)  # "2026-03" → entries per country

    def add(self, model_id: str, attribution: Attribution, month: str = "") -> None:
        self.entries += 1
        self.by_month.setdefault(month, Counter())[attribution.country] += 1
        self.methods[attribution.method] += 1
        self.models[model_id] = attribution.country
        if attribution.country == UNKNOWN:
            self.unknown_entries += 1
            self.unknown_namespaces[namespace_of(model_id) or model_id] += 1

    def share_by_month(self, country: str) -> dict[str, float]:
        months = sorted(self.by_month.items())
        return {month: 100.0 * counts[country] / sum(counts.values()) for month, counts in months}

    @property
    def unknown_share(self) -> float:
        return 100.0 * self.unknown_entries / self.entries if self.entries else 0.0

    @property
    def unknown_model_share(self) -> float:
        return 100.0 * sum(c == UNKNOWN for c in self.models.values()) / len(self.models) if self.models else 0.0


def current_rules() -> Rules:
    return Rules(load_org_table(), load_family_table())


# --- the rule before issue 9, kept small so the baseline is measured in the same run --------------

def _before_table() -> dict[str, tuple[str, str]]:
    table = {}
    for text in BEFORE_TABLE.read_text(encoding="utf-8").splitlines():
        if text and not text.startswith("#"):
            namespace, country, kind = text.split("\t")
            table[namespace.lower()] = (country, kind)
    return table


def before_attribute(model_id: str, tags: Sequence[str], table: Mapping[str, tuple[str, str]],
                     known: Mapping[str, Sequence[str]], max_hops: int = 4) -> str:
    """The old order: a lab namespace first (whatever the model is), then base_model tags, else unknown."""
    def direct(model: str) -> str | None:
        country, kind = table.get(namespace_of(model).lower(), ("", ""))
        return country if kind == "lab" and country not in ("base", UNKNOWN, "") else None

    if (country := direct(model_id)) is not None:
        return country
    visited, frontier = {model_id.lower()}, base_models(tags)
    for _ in range(max_hops):
        following: list[str] = []
        for base in frontier:
            if base.lower() in visited:
                continue
            visited.add(base.lower())
            if (country := direct(base)) is not None:
                return country
            following.extend(base_models(known.get(base, ())))
        frontier = following
    return UNKNOWN


# --- measures -------------------------------------------------------------------------------------

def _snapshot(ids: Sequence[str], tags: Mapping[str, Sequence[str]]) -> Snapshot:
    return Snapshot(datetime.fromtimestamp(0).astimezone(),
                    tuple(Entry(rank=i, id=m, tags=tuple(tags.get(m, ()))) for i, m in enumerate(ids, start=1)))


def tagged_lineage(records: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Every model's tags in the tagged replay: what lookups of bases would answer."""
    return {m["id"]: list(m["tags"]) for record in records for m in record["models"]}


def measure_rules(snapshots: Sequence[ArchivedSnapshot], rules: Rules,
                  tags: Mapping[str, Sequence[str]] | None = None) -> Measure:
    """The pure rule on each snapshot; with `tags`, entries carry them and bases' tags are known."""
    known = dict(tags or {})
    result = Measure()
    for archived in snapshots:
        snapshot = attribute_snapshot(_snapshot(archived.model_ids[:TOP_N], known), rules, extra_tags=known)
        for entry in snapshot.entries:
            result.add(entry.id, entry.attribution, archived.taken_at[:7])
    return result


def measure_before(snapshots: Sequence[ArchivedSnapshot], tags: Mapping[str, Sequence[str]] | None = None) -> Measure:
    table, known = _before_table(), dict(tags or {})
    result = Measure()
    for archived in snapshots:
        for model_id in archived.model_ids[:TOP_N]:
            country = before_attribute(model_id, known.get(model_id, ()), table, known)
            result.add(model_id, Attribution(country, "before" if country != UNKNOWN else "unknown"),
                       archived.taken_at[:7])
    return result


async def measure_through_hub(records: Sequence[Mapping[str, Any]]) -> tuple[Measure, int]:
    """The tagged replay served by the fake Hub, polled by the bot (real huggingface_hub client, SQLite)."""
    from bot.app import Trendwatch
    from bot.config import Secrets, parse_settings
    from tests.fakes.hub import FakeHub

    os.environ.setdefault("HF_HOME", tempfile.mkdtemp(prefix="bench-hf-"))
    result = Measure()
    with tempfile.TemporaryDirectory(prefix="bench-attribution-") as tmp:
        async with FakeHub() as hub:
            hub.describe([m for record in records for m in record["models"]])
            settings = parse_settings({
                "hub": {"endpoint": hub.endpoint, "depth": TOP_N, "top_n": TOP_N},
                "store": {"path": str(Path(tmp) / "bench.db")},
                "console": {"enabled": False},
            }, env={})
            app = await Trendwatch.open(settings, Secrets.from_env({}), {})
            try:
                await app.acquire_lease()
                for record in records:
                    hub.models = list(record["models"])
                    polled = await app.poll()
                    assert polled.snapshot is not None, polled.error
                    for entry in polled.snapshot.top(TOP_N):
                        result.add(entry.id, entry.attribution)
            finally:
                await app.close()
            lookups = len(hub.detail_requests)
    return result, lookups


def _report(label: str, measured: Measure, baseline: Measure, goal: float | None) -> None:
    ratio = measured.unknown_share / baseline.unknown_share if baseline.unknown_share else float("nan")
    verdict = "" if goal is None else ("  PASS" if measured.unknown_share < goal else "  FAIL")
    goal_text = "" if goal is None else f" (goal < {goal:g}%)"
    print(f"{label}: unknown {measured.unknown_share:.1f}% of {measured.entries} entries{goal_text},"
          f" {measured.unknown_model_share:.1f}% of {len(measured.models)} models;"
          f" ratio to baseline {ratio:.2f}x{verdict}")
    if goal is not None:
        VERDICTS.append((f"attribution: {label.strip()}", measured.unknown_share < goal))
        print("    methods: " + ", ".join(f"{m} {n}" for m, n in measured.methods.most_common()))
        print("    top unknown namespaces: " + (", ".join(
            f"{ns} {n}" for ns, n in measured.unknown_namespaces.most_common(10)) or "none"))


async def main() -> None:
    snapshots = load_snapshots()
    records = read_tagged(TAGGED)
    tags = tagged_lineage(records)
    rules = current_rules()
    print(f"{len(snapshots)} real trending snapshots, 2026-03..05 (bench/data), top {TOP_N}")
    before_ids, before_tags = measure_before(snapshots), measure_before(snapshots, tags)
    _report("baseline, rule before issue 9, ids only ", before_ids, before_ids, None)
    _report("baseline, rule before issue 9, with tags", before_tags, before_tags, None)
    _report("ids only (pure rule)                    ", measure_rules(snapshots, rules), before_ids, GOAL_IDS_ONLY)
    _report("with tags (pure rule)                   ", measure_rules(snapshots, rules, tags), before_tags,
            GOAL_WITH_TAGS)
    through_hub, lookups = await measure_through_hub(records)
    _report("with tags, fake Hub + huggingface_hub   ", through_hub, before_tags, GOAL_WITH_TAGS)
    print(f"    {lookups} Hub lookup(s) of base models over {len(records)} polls (bases in the list or seen in an"
          " earlier one need none; looked-up ones are cached)")
    now = measure_rules(snapshots, rules)
    print("CN share of the top 10 by month, ids only, before → now: " + ", ".join(
        f"{month} {before:.0f}% → {after:.0f}%" for (month, before), after in
        zip(before_ids.share_by_month("CN").items(), now.share_by_month("CN").values(), strict=True)))


# --- an archive as it is kept (ids only), by year --------------------------------------------------

TRUTH = DATA / "hub-namespaces.tsv"


class ArchiveError(Exception):
    """An archive that cannot be read: one line for the operator, never a traceback."""


@dataclass(frozen=True, slots=True)
class ArchiveRead:
    snapshots: list[ArchivedSnapshot]
    unreadable: int  # versions or rows the importer could not read (a deleted file, a broken version)
    described: str  # "git history of trending_cache.json (145 commits)"


def read_archive(path: Path) -> ArchiveRead:
    """Every models snapshot of an archive, read exactly as `python -m bot import` reads it
    (`bot.archive.reading.read_source`: a git clone or `.bundle` of a git-scraped archive, a folder or a file
    in any format the importer knows), kept as ids by rank: what an archive keeps, no tags."""
    try:
        reading = read_source(path)
    except ReadError as exc:
        raise ArchiveError(str(exc)) from None
    snapshots = [
        ArchivedSnapshot(found.taken_at.astimezone(UTC).isoformat(),
                         tuple(entry.id for entry in sorted(found.entries, key=lambda entry: entry.rank)))
        for found in reading.parsed.snapshots
        if found.kind in (None, "models") and found.list_name in (None, DEFAULT_LIST)
    ]
    kept = sorted((s for s in snapshots if s.model_ids), key=lambda s: s.taken_at)
    return ArchiveRead(kept, len(reading.parsed.unreadable), reading.described)


def load_truth(path: Path = TRUTH) -> dict[str, str]:
    """namespace (lowered) → country, from the sourced reference rows of one country's labs (UNSURE left out)."""
    truth = {}
    for text in path.read_text(encoding="utf-8").splitlines()[1:]:
        namespace, _org, country, kind, _confidence, source = text.split("\t")
        if kind == "lab" and len(country) == 2 and "UNSURE" not in source:
            truth[namespace.lower()] = country
    return truth


@dataclass
class Year:
    """One year of an archive: entries, unknown ones and where they come from, and what a source contradicts."""

    snapshots: int = 0
    measure: Measure = field(default_factory=Measure)
    checked: int = 0
    wrong: list[str] = field(default_factory=list)  # "id: decided XX, source says YY"


def by_year(snapshots: Sequence[ArchivedSnapshot], rules: Rules, truth: Mapping[str, str],
            top_n: int = TOP_N, period: int = 4) -> dict[str, Year]:
    """The pure rule on ids alone (no tags), per year of the snapshot (`period = 7`: per month): unknown,
    top unknown namespaces, and wrong."""
    years: dict[str, Year] = {}
    for archived in snapshots:
        year = years.setdefault(archived.taken_at[:period], Year())
        year.snapshots += 1
        attributed = attribute_snapshot(_snapshot(archived.model_ids[:top_n], {}), rules)
        for entry in attributed.entries:
            year.measure.add(entry.id, entry.attribution, archived.taken_at[:7])
            expected = truth.get(namespace_of(entry.id).lower())
            if expected is None or has_format_suffix(entry.id):
                continue
            year.checked += 1
            if entry.country != expected:
                year.wrong.append(f"{entry.id}: decided {entry.country}, source says {expected}")
    return years


def year_table(years: Mapping[str, Year], namespaces: int = 5) -> list[str]:
    """The attribution table by year, as the report prints it."""
    lines = ["period  snapshots  entries  unknown  unknown models  checked  wrong  top unknown namespaces"]
    for year, found in sorted(years.items()):
        m = found.measure
        top = ", ".join(f"{ns} {n}" for ns, n in m.unknown_namespaces.most_common(namespaces)) or "none"
        lines.append(f"{year:<7} {found.snapshots:>9}  {m.entries:>7}  {m.unknown_share:>6.1f}%"
                     f"  {m.unknown_model_share:>13.1f}%  {found.checked:>7}  {len(found.wrong):>5}  {top}")
    return lines


def archive_main(path: Path, top_n: int, by_month: bool = False) -> int:
    try:
        read = read_archive(path)
    except ArchiveError as exc:
        print(f"bench.attribution: {exc}", file=sys.stderr)
        return 2
    snapshots = read.snapshots
    if not snapshots:
        print(f"bench.attribution: {path}: no models snapshot with model ids ({read.described})", file=sys.stderr)
        return 2
    years = by_year(snapshots, current_rules(), load_truth(), top_n, 7 if by_month else 4)
    print(f"{len(snapshots)} snapshots of {path.name} ({snapshots[0].taken_at[:10]} .. {snapshots[-1].taken_at[:10]};"
          f" {read.described}; {read.unreadable} unreadable skipped), top {top_n}, ids only (no tags), today's tables")
    for text in year_table(years):
        print(text)
    wrong = [w for found in years.values() for w in found.wrong]
    for text in wrong:
        print(f"    wrong: {text}")
    passed = not wrong
    print(f"wrong: {len(wrong)} of {sum(y.checked for y in years.values())} entries a source can check"
          f" (goal 0)  {'PASS' if passed else 'FAIL'}")
    VERDICTS.append(("attribution: wrong on the archive", passed))
    return 0 if passed else 1


def cli(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.attribution", description=__doc__.split("\n")[0])
    parser.add_argument("--archive", type=Path, metavar="PATH",
                        help="measure an archive's ids by year, read as `python -m bot import` reads it:"
                             " a git clone or .bundle of a git-scraped archive, a folder or a file")
    parser.add_argument("--top", type=int, default=TOP_N, help=f"top N to measure (default {TOP_N})")
    parser.add_argument("--by-month", action="store_true", help="one row a month instead of a year")
    args = parser.parse_args(argv)
    if args.archive is not None:
        return archive_main(args.archive, args.top, args.by_month)
    asyncio.run(main())
    return 0


if __name__ == "__main__":
    sys.exit(cli())
