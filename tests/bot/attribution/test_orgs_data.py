"""Sanity checks for bot/data/orgs.toml (no network)."""

import re
import tomllib
from typing import Any

from bot.domain.country_codes import iso_country_codes
from tests.support.cli import REPO

ORGS_TOML = REPO / "bot" / "data" / "orgs.toml"
FIELDS = {"org", "country", "kind", "confidence", "source"}
OPTIONAL = {"renamed_to"}


def _namespaces() -> dict[str, dict[str, Any]]:
    with ORGS_TOML.open("rb") as fh:
        data = tomllib.load(fh)
    namespaces = data["namespaces"]
    assert isinstance(namespaces, dict)
    return namespaces


def test_parses_and_has_rows() -> None:
    assert len(_namespaces()) > 100


def test_rows_have_exactly_the_expected_fields() -> None:
    for name, row in _namespaces().items():
        assert FIELDS <= set(row) <= FIELDS | OPTIONAL, name
        assert all(isinstance(v, str) and v for v in row.values()), name


def test_country_values() -> None:
    for name, row in _namespaces().items():
        country = row["country"]
        assert country in iso_country_codes() or country in {"base", "unknown"}, (name, country)


def test_kind_and_confidence_values() -> None:
    for name, row in _namespaces().items():
        assert row["kind"] in {"lab", "reuploader"}, name
        assert row["confidence"] in {"high", "medium", "low"}, name


def test_reuploaders_take_the_base_country() -> None:
    for name, row in _namespaces().items():
        if row["kind"] == "reuploader":
            assert row["country"] == "base", name
        else:
            assert row["country"] != "base", name


def test_known_rows() -> None:
    ns = _namespaces()
    for legacy, current in [("THUDM", "zai-org"), ("CohereForAI", "CohereLabs"), ("AIDC-AI", "ATH-MaaS")]:
        assert ns[legacy]["country"] == ns[current]["country"]
        assert ns[legacy]["renamed_to"] == current


def test_renamed_rows_agree_with_their_current_namespace() -> None:
    ns = _namespaces()
    for name, row in ns.items():
        if "renamed_to" in row:
            current = ns[row["renamed_to"]]
            assert (row["country"], row["kind"]) == (current["country"], current["kind"]), name
    assert ns["ai21labs"]["country"] == "IL"
    assert ns["nvidia"] == ns["nvidia"] | {"kind": "lab", "country": "US"}
    for quantizer in [
        "unsloth",
        "bartowski",
        "lmstudio-community",
        "mlx-community",
        "TheBloke",
        "QuantFactory",
        "MaziyarPanahi",
        "mradermacher",
        "DevQuasar",
        "second-state",
        "RedHatAI",
    ]:
        assert ns[quantizer]["kind"] == "reuploader", quantizer


def test_namespace_keys_look_like_hub_names() -> None:
    for name in _namespaces():
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name), name


FAMILIES_TOML = ORGS_TOML.parent / "families.toml"


def test_every_family_has_a_source_and_its_labs_country() -> None:
    with FAMILIES_TOML.open("rb") as fh:
        families = tomllib.load(fh)["families"]
    namespaces = _namespaces()
    assert len(families) >= 20
    for name, row in families.items():
        assert set(row) <= {"names", "lab", "country", "source", "needs_version"}, name
        assert row["source"].strip() and row["names"] and all(isinstance(n, str) and n for n in row["names"]), name
        assert namespaces[row["lab"]]["country"] == row["country"], name


def test_no_lab_namespace_is_taken_for_a_family_by_its_own_models() -> None:
    """A lab whose own name contains a family word keeps its own country: the namespace rule comes first."""
    from bot.attribution.countries import Rules
    from bot.attribution.orgs import load_family_table, load_org_table

    rules = Rules(load_org_table(), load_family_table())
    for name, row in _namespaces().items():
        if row["kind"] == "lab" and row["country"] not in {"base", "unknown"}:
            found = rules.attribute(f"{name}/{name}-7B", [])
            assert (found.country, found.method) == (row["country"], "namespace"), name
