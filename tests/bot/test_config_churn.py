"""`[alerts] climb` and the opt-in kinds `left` and `climber` (config routes and `/alerts subscribe`)."""

from __future__ import annotations

import pytest

from bot.commands.caller import CommandError
from bot.commands.channel_settings import parse_kinds
from bot.config import ConfigError, parse_settings

ROUTE = {"platform": "slack", "channel": "C1"}


def error_for(data: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, env={})
    return str(caught.value)


def test_climb_defaults_to_three_places_and_bad_values_name_the_key_in_one_line():
    assert parse_settings({}, env={}).alerts.climb == 3
    assert parse_settings({"alerts": {"climb": 5}}, env={}).alerts.climb == 5
    for bad in (0, -2, "three", 101):
        message = error_for({"alerts": {"climb": bad}})
        assert "climb" in message and "alerts" in message
        assert "\n" not in message.strip() and "Traceback" not in message


def test_routes_take_left_and_climber_only_when_asked():
    default = parse_settings({"routes": [ROUTE]}, env={}).routes[0]
    assert "left" not in default.kinds and "climber" not in default.kinds
    asked = parse_settings({"routes": [{**ROUTE, "kinds": ["entered", "left", "climber"]}]}, env={}).routes[0]
    assert asked.kinds == ("entered", "left", "climber")
    assert "unknown alert kind" in error_for({"routes": [{**ROUTE, "kinds": ["climbers"]}]})


def test_subscribe_keeps_todays_defaults_and_takes_the_new_kinds_by_name_or_all():
    assert parse_kinds(None) == ("entered", "new_leader", "share", "digest")
    assert parse_kinds("left, climber") == ("left", "climber")
    assert parse_kinds("entered,climber") == ("entered", "new_leader", "climber")
    assert set(parse_kinds("all")) >= {"left", "climber", "entered", "share", "digest"}
    with pytest.raises(CommandError, match=r"choose from .*left, climber"):
        parse_kinds("leavers")
