"""`[[share_rules]] basis`: validated where it is read, and a basis of its own is a rule of its own."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import ConfigError, configured_lists, parse_settings
from bot.poller.poll import list_rules


def rules_of(*rules: dict[str, Any]) -> list[Any]:
    return list(parse_settings({"share_rules": list(rules)}, env={}).share_rules)


def test_default_basis_keeps_todays_key_and_behaviour():
    (rule,) = rules_of({"country": "CN", "above": 50})
    assert (rule.basis, rule.key) == ("top_n", "CN:above:50")


@pytest.mark.parametrize("basis", ["known", "certain"])
def test_another_basis_is_its_own_rule_with_its_own_state(basis: str):
    plain, other = rules_of({"country": "CN", "above": 50}, {"country": "CN", "above": 50, "basis": basis})
    assert other.key == f"CN:above:50:{basis}" != plain.key
    settings = parse_settings({"share_rules": [{"country": "CN", "above": 50, "basis": basis}]}, env={})
    (spec,) = list_rules(settings, configured_lists(settings)[0])
    assert spec.basis == basis


@pytest.mark.parametrize("basis", ["sure", "", 3, "Known"])
def test_an_unknown_basis_is_one_line_naming_the_key(basis: object):
    with pytest.raises(ConfigError) as caught:
        parse_settings({"share_rules": [{"country": "CN", "above": 50},
                                        {"country": "US", "below": 20, "basis": basis}]}, env={})
    message = str(caught.value)
    assert "share_rules[1].basis: unknown basis" in message
    assert '"top_n", "known", "certain"' in message
    assert "\n" not in message.strip()
