"""Attribution with the store and the Hub around the pure rule in `bot.attribution.countries`.

- `learn_lineage`: the bases a poll needs, from the snapshot, the models seen before, the
  lineage cache, and at most `hub.lineage_lookups` Hub lookups per poll (cached with a date).
- `reattribute`: stored history re-decided with today's tables, overrides and labels;
  run by `python -m bot reattribute`, after `label`, and at start when the data's version changed.
- `audit`: every namespace of a window with its country, method and confidence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.attribution.countries import (
    MAX_HOPS,
    FamilyTable,
    OrgTable,
    Rules,
    bases_to_look_up,
    lineage,
    lineage_tags,
    namespace_of,
)
from bot.attribution.orgs import attribution_version, load_family_table, load_org_table
from bot.config import Settings
from bot.domain.snapshot import DEFAULT_LIST, UNKNOWN, Attribution, Snapshot
from bot.log import get_logger
from bot.source.hub import Source
from store import labels, reattribution, snapshots
from store.db import Conn, Database, utc_iso
from store.lineage import all_lineage, cached_lineage, remember_lineage

log = get_logger(__name__)


def rules_for(settings: Settings, operator_labels: dict[str, str], table: OrgTable | None = None,
              families: FamilyTable | None = None) -> Rules:
    return Rules(
        table=table or load_org_table(),
        families=families or load_family_table(),
        overrides=dict(settings.countries.overrides),
        labels=operator_labels,
        derivatives=settings.countries.derivatives,
    )


async def current_rules(conn: Conn, settings: Settings, table: OrgTable | None = None) -> Rules:
    return rules_for(settings, await labels.all_labels(conn), table)


async def learn_lineage(
    db: Database, source: Source, rules: Rules, snapshot: Snapshot, settings: Settings, now: datetime,
) -> dict[str, Sequence[str]]:
    """Tags of the bases `snapshot` needs, known or learned; Hub lookups bounded per poll and cached."""
    known: dict[str, Sequence[str]] = {}
    budget = settings.hub.lineage_lookups
    fresh_since = now - settings.countries.lineage_max_age
    waiting: list[str] = []
    for _round in range(MAX_HOPS):
        wanted = [base for base in bases_to_look_up(snapshot, rules, known) if base not in known]
        if not wanted:
            break
        cached = await cached_lineage(db.conn, wanted, fresh_since)
        known.update({model_id: lineage_tags(bases) for model_id, bases in cached.items()})
        rest = [base for base in wanted if base not in cached]
        seen = await snapshots.known_tags(db.conn, rest)  # models of earlier lists carry their own tags
        known.update(seen)
        rest = [base for base in rest if base not in seen]
        if not rest:
            continue
        asked, cut = rest[:budget], rest[budget:]
        waiting.extend(cut)
        for model_id in cut:
            known[model_id] = ()  # not this poll
        if not asked:
            continue
        answers = await source.lookup_tags(asked)
        budget -= len(asked)
        learned = {model_id: lineage(tags) for model_id, tags in answers.items()}
        if learned:
            async with db.transaction() as conn:
                await remember_lineage(conn, learned, now)
        for model_id in asked:
            known[model_id] = lineage_tags(learned.get(model_id, []))
    if waiting:
        log.info("lineage: the bound of %d Hub lookup(s) per poll (hub.lineage_lookups) cut %d base(s);"
                 " they are looked up next poll: %s", settings.hub.lineage_lookups, len(waiting),
                 ", ".join(waiting[:5]) + (" ..." if len(waiting) > 5 else ""))
    return known


@dataclass(frozen=True, slots=True)
class Reattribution:
    version: str
    models: int
    changed: int


async def data_version(conn: Conn, settings: Settings) -> str:
    return attribution_version(settings.countries.overrides, await labels.all_labels(conn),
                               settings.countries.derivatives)


async def reattribute(db: Database, settings: Settings, now: datetime) -> Reattribution:
    """Re-decide every stored entry of every list with today's rules, in one transaction. Sent alerts stay as sent."""
    async with db.transaction() as conn:
        rules = await current_rules(conn, settings)
        items = await reattribution.stored_items(conn)
        known: dict[str, Sequence[str]] = {model_id: lineage_tags(bases)
                                           for model_id, bases in (await all_lineage(conn)).items()}
        known.update({item.hub_id: item.tags for item in items if item.list_name == DEFAULT_LIST})
        changed = await reattribute_lists(conn, rules, known, items)
        version = await data_version(conn, settings)
        await reattribution.set_attribution_version(conn, version, now)
    models = sum(1 for item in items if item.list_name == DEFAULT_LIST)
    log.info("re-attributed %d model(s): %d stored entr%s changed (attribution data %s)",
             models, changed, "y" if changed == 1 else "ies", version)
    return Reattribution(version, models, changed)


async def reattribute_if_changed(db: Database, settings: Settings, now: datetime) -> Reattribution | None:
    """At start-up: re-attribute history only when tables, overrides, labels or the rule changed."""
    if await reattribution.attribution_version(db.conn) == await data_version(db.conn, settings):
        return None
    return await reattribute(db, settings, now)


@dataclass(frozen=True, slots=True)
class AuditRow:
    namespace: str
    country: str
    method: str
    via: str | None
    confidence: str
    appearances: int
    models: tuple[str, ...]


def _confidence(attribution: Attribution, table: OrgTable) -> str:
    """How sure the deciding fact is: the orgs.toml row behind it, or who set it."""
    if attribution.method in ("label", "override"):
        return "operator"
    if attribution.method == "family":
        return "family name"
    if attribution.method in ("namespace", "base_model") and attribution.via:
        org = table.get(namespace_of(attribution.via) or attribution.via)
        return org.confidence if org else "-"
    return "-"


async def audit(conn: Conn, since: datetime, table: OrgTable | None = None,
                list_name: str = DEFAULT_LIST) -> list[AuditRow]:
    """One list's top-N appearances since `since` per (namespace, country, method), unknowns first, then most seen."""
    table = table or load_org_table()
    async with conn.execute(
        "SELECT i.hub_id, e.country, e.country_method, e.country_via, COUNT(*) FROM snapshots s"
        " JOIN entries e ON e.snapshot_id = s.id AND e.rank <= s.top_n JOIN items i ON i.id = e.item_id"
        " WHERE s.list = ? AND s.taken_at >= ? GROUP BY i.hub_id, e.country, e.country_method, e.country_via",
        (list_name, utc_iso(since)),
    ) as cursor:
        rows = await cursor.fetchall()
    groups: dict[tuple[str, str, str], Counter[str]] = {}
    via: dict[tuple[str, str, str], Counter[str | None]] = {}
    for hub_id, country, method, how, count in rows:
        key = (namespace_of(str(hub_id)) or str(hub_id), str(country), str(method))
        groups.setdefault(key, Counter())[str(hub_id)] += int(count)
        via.setdefault(key, Counter())[how] += int(count)
    audit_rows = []
    for (namespace, country, method), models in groups.items():
        top_via = via[(namespace, country, method)].most_common(1)[0][0]
        audit_rows.append(AuditRow(
            namespace=namespace, country=country, method=method, via=top_via,
            confidence=_confidence(Attribution(country, method, top_via), table),
            appearances=sum(models.values()),
            models=tuple(m for m, _ in sorted(models.items(), key=lambda item: (-item[1], item[0]))),
        ))
    audit_rows.sort(key=lambda r: (r.country != UNKNOWN, -r.appearances, r.namespace.lower(), r.country))
    return audit_rows


def audit_since(latest: datetime, days: int) -> datetime:
    return latest - timedelta(days=days)


async def reattribute_lists(conn: Conn, rules: Rules, known: Mapping[str, Sequence[str]],
                            items: Sequence[reattribution.StoredItem]) -> int:
    """Every list's stored entries re-decided with today's rules (called by `reattribute` in its transaction).

    One decision per item of each list, from that item's own tags: a dataset or a Space and a model
    with the same id are decided apart (Spaces and datasets go by their namespace, labels and
    overrides; a model may also go by its bases, whose tags are `known`).
    """
    decided = {item.id: rules.attribute(item.hub_id, item.tags, known) for item in items}
    return (await reattribution.reattribute_entries(conn, decided)).entries
