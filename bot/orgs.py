"""Loads reference data from disk, once: the namespace table in `bot/data/orgs.toml` and the ISO country list."""

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


@cache
def iso_country_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 as pycountry ships it (read once): ZZ, XX or EU are not countries."""
    import pycountry

    return frozenset(country.alpha_2 for country in pycountry.countries)
