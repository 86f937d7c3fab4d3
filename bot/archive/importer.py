"""`python -m bot import`: snapshots read from an archive, attributed by today's rules, stored in ONE transaction.

Attribution is the poller's (`bot.attribution.upkeep.current_rules`: the tables, overrides and the
operator's labels, decided by `Rules.attribute`) with what the store knows of each id's tags and
lineage, exactly as `reattribute` decides stored history; archives keep ids, not tags, and an import
asks the Hub nothing. Re-attribution later covers imported entries like any others (it re-decides
every item that has entries).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from tqdm import tqdm  # type: ignore[import-untyped]  # (ships no type hints)

from bot.archive.formats import ArchivedSnapshot, Unreadable, dedupe, within
from bot.archive.reading import Reading
from bot.attribution.countries import Rules, lineage_tags
from bot.attribution.upkeep import current_rules
from bot.config import Settings, configured_lists, list_named
from bot.domain.lists import ListSpec
from bot.domain.snapshot import DEFAULT_LIST, Attribution, Snapshot
from store import imports, reattribution
from store.db import Conn, Database, utc_iso
from store.lineage import all_lineage


class ImportRefused(Exception):
    """The import cannot go ahead as asked (an unknown list); one line for the user."""


@dataclass(frozen=True, slots=True)
class Batch:
    """The snapshots of one list from one archive."""

    spec: ListSpec
    archive: str
    snapshots: tuple[ArchivedSnapshot, ...]


@dataclass(slots=True)
class ImportReport:
    archives: list[str] = field(default_factory=list)
    lists: list[str] = field(default_factory=list)
    snapshots: int = 0  # imported (or, on a dry run, that would be)
    rows: int = 0
    skipped: int = 0  # moments already stored from an archive (or repeated within this one)
    outside: int = 0  # before --since or after --until
    unreadable: list[Unreadable] = field(default_factory=list)
    dry_run: bool = False

    def summary(self, described: str) -> str:
        verb = "would import" if self.dry_run else "imported"
        names = ", ".join(self.archives) or "nothing"
        into = f" into list{'s' if len(self.lists) != 1 else ''} {', '.join(self.lists)}" if self.lists else ""
        outside = f", {self.outside} outside --since/--until" if self.outside else ""
        return (f"{verb} {self.snapshots} snapshot{'s' if self.snapshots != 1 else ''} ({self.rows} rows) of {names}"
                f"{into}; skipped {self.skipped} already present{outside}; {len(self.unreadable)} unreadable"
                f" ({described}){'; nothing written (dry run)' if self.dry_run else ''}")


def progress_bar(total: int | None, what: str) -> Any:
    """A progress bar on a terminal (stderr a TTY) for long imports; silent otherwise (logs, pipes, tests)."""
    return tqdm(total=total, desc=what, unit=" snapshots", file=sys.stderr, disable=not sys.stderr.isatty(),
                leave=False)


def plan(settings: Settings, snapshots: Sequence[ArchivedSnapshot], default_archive: str, list_name: str | None,
         archive: str | None, unreadable: list[Unreadable]) -> list[Batch]:
    """Group snapshots by the list they go to and the archive they are stored under.

    `--list` wins; else the list the row names (the bot's export), else the configured list of the
    file's kind (severo's datasets.csv → the `[[lists]]` entry of kind datasets without filters),
    else the default list. A snapshot with no list to go to is reported, not stored.
    """
    chosen = _named(settings, list_name) if list_name is not None else None
    groups: dict[tuple[str, str], list[ArchivedSnapshot]] = {}
    specs: dict[str, ListSpec] = {}
    refused: dict[str, int] = {}
    for snapshot in snapshots:
        spec = chosen or _target(settings, snapshot)
        if spec is None:
            why = (f"list {snapshot.list_name!r} is not configured" if snapshot.list_name
                   else f"no [[lists]] entry of kind {snapshot.kind} without filters (add one, or pass --list)")
            refused[why] = refused.get(why, 0) + 1
            continue
        specs[spec.name] = spec
        groups.setdefault((spec.name, archive or snapshot.archive or default_archive), []).append(snapshot)
    for why, count in refused.items():
        unreadable.append(Unreadable(f"{count} snapshot{'s' if count != 1 else ''}", why))
    return [Batch(specs[name], name_of_archive, tuple(found)) for (name, name_of_archive), found in groups.items()]


def _named(settings: Settings, name: str) -> ListSpec:
    try:
        return list_named(settings, name)
    except ValueError as exc:
        raise ImportRefused(str(exc)) from None


def _target(settings: Settings, snapshot: ArchivedSnapshot) -> ListSpec | None:
    lists = configured_lists(settings)
    if snapshot.list_name:
        return next((spec for spec in lists if spec.name == snapshot.list_name), None)
    if snapshot.kind and snapshot.kind != "models":
        return next((spec for spec in lists if spec.kind == snapshot.kind and not spec.filters), None)
    return lists[0]


async def _attribution(conn: Conn, settings: Settings) -> tuple[Rules, dict[str, Sequence[str]]]:
    """Today's rules and what the store knows of tags (lineage cache, models' latest tags): `reattribute`'s."""
    rules = await current_rules(conn, settings)
    items = await reattribution.stored_items(conn)
    known: dict[str, Sequence[str]] = {model_id: lineage_tags(bases)
                                       for model_id, bases in (await all_lineage(conn)).items()}
    known.update({item.hub_id: item.tags for item in items if item.list_name == DEFAULT_LIST})
    return rules, known


def attributed(batch: Batch, rules: Rules, known: dict[str, Sequence[str]]) -> list[Snapshot]:
    """The batch's snapshots with each entry decided as re-attribution would decide its item (memoised per id)."""
    decided: dict[str, Attribution] = {}
    models = batch.spec.kind == "models"
    out: list[Snapshot] = []
    for snapshot in batch.snapshots:
        entries = []
        for entry in snapshot.entries:
            found = decided.get(entry.id)
            if found is None:
                tags = known.get(entry.id, ()) if models else ()
                found = decided[entry.id] = rules.attribute(entry.id, tags, known)
            entries.append(replace(entry, attribution=found))
        out.append(Snapshot(snapshot.taken_at, tuple(entries)))
    return out


async def import_reading(
    db: Database, settings: Settings, reading: Reading, *, list_name: str | None = None, archive: str | None = None,
    since: datetime | None = None, until: datetime | None = None, dry_run: bool = False,
    progress: Callable[[int | None], Any] = lambda total: progress_bar(total, "storing"),
) -> ImportReport:
    """Store what `reading` holds (or, with `dry_run`, only say what would be stored) in ONE transaction."""
    report = ImportReport(unreadable=list(reading.parsed.unreadable), dry_run=dry_run)
    unique, repeated = dedupe(reading.parsed.snapshots)
    report.skipped += repeated
    kept = [snapshot for snapshot in unique if within(snapshot.taken_at, since, until)]
    report.outside = len(unique) - len(kept)
    batches = plan(settings, kept, reading.archive, list_name, archive, report.unreadable)
    report.archives = sorted({batch.archive for batch in batches}) or [archive or reading.archive]
    report.lists = sorted({batch.spec.name for batch in batches})
    if dry_run:
        for batch in batches:
            times = [snapshot.taken_at for snapshot in batch.snapshots]
            present = await imports.archived_moments(db.conn, batch.spec.name, min(times), max(times))
            fresh = [snapshot for snapshot in batch.snapshots if utc_iso(snapshot.taken_at) not in present]
            report.snapshots += len(fresh)
            report.rows += sum(len(snapshot.entries) for snapshot in fresh)
            report.skipped += len(batch.snapshots) - len(fresh)
        return report
    rules, known = await _attribution(db.conn, settings)
    bar = progress(sum(len(batch.snapshots) for batch in batches))
    try:
        async with db.transaction() as conn:
            for batch in batches:
                saved = await imports.save_imported(conn, batch.spec.name, attributed(batch, rules, known),
                                                    batch.spec.top_n, batch.archive, progress=bar.update)
                report.snapshots += saved.imported
                report.rows += saved.rows
                report.skipped += saved.skipped
    finally:
        bar.close()
    return report
