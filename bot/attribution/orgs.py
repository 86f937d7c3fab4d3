"""Loads reference data from disk, once: `bot/data/orgs.toml`, `bot/data/families.toml` and the ISO country list."""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources

from bot.attribution.countries import Family, FamilyTable, Org, OrgTable

# Bump when the rule in bot/attribution/countries.py changes meaning, so stored history is re-attributed.
RULE_VERSION = "2"


def _data_text(name: str) -> str:
    return resources.files("bot.data").joinpath(name).read_text(encoding="utf-8")


@cache
def load_org_table() -> OrgTable:
    data = tomllib.loads(_data_text("orgs.toml"))
    return OrgTable.of(
        Org(namespace=ns, name=row["org"], country=row["country"], kind=row["kind"],
            confidence=row.get("confidence", "medium"), renamed_to=row.get("renamed_to"))
        for ns, row in data.get("namespaces", {}).items()
    )


@cache
def load_family_table() -> FamilyTable:
    data = tomllib.loads(_data_text("families.toml"))
    return FamilyTable.of(
        Family(name=name, names=tuple(row["names"]), country=row["country"], lab=row["lab"],
               needs_version=bool(row.get("needs_version", False)))
        for name, row in data.get("families", {}).items()
    )


def attribution_version(overrides: Mapping[str, str], labels: Mapping[str, str], derivatives: str) -> str:
    """A hash of everything attribution reads: when it changes, stored history is re-attributed."""
    digest = hashlib.sha256()
    for part in (RULE_VERSION, _data_text("orgs.toml"), _data_text("families.toml"),
                 json.dumps(sorted((k.lower(), v) for k, v in overrides.items())),
                 json.dumps(sorted((k.lower(), v) for k, v in labels.items())), derivatives):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:16]
