"""Loads the namespace table shipped in `bot/data/orgs.toml`."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

from bot.countries import Org, OrgTable


@cache
def load_org_table() -> OrgTable:
    text = resources.files("bot.data").joinpath("orgs.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return OrgTable.of(
        Org(namespace=ns, name=row["org"], country=row["country"], kind=row["kind"])
        for ns, row in data.get("namespaces", {}).items()
    )
