"""Which two-letter codes are countries: the one fact that config, commands and attribution all check against."""

from __future__ import annotations

from functools import cache


@cache
def iso_country_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 as pycountry ships it (read once): ZZ, XX or EU are not countries."""
    import pycountry  # its tables are read on first use, not by every import of the domain

    return frozenset(country.alpha_2 for country in pycountry.countries)
