"""`[[routes]] template` (issue 20): checked with the config, one line naming the key and what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.config import ConfigError, parse_settings
from tests.support.cli import bot

ROUTE = {"platform": "slack", "channel": "C1"}


def error_for(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, env={})
    return str(caught.value)


def test_a_route_takes_full_compact_or_a_template_and_leaves_it_unset_by_default() -> None:
    routes = [ROUTE, {**ROUTE, "channel": "C2", "template": "compact"},
              {**ROUTE, "channel": "C3", "template": "{rank}. {country_flag} {id} ({likes} likes)"},
              {**ROUTE, "channel": "C4", "template": "full"}]
    settings = parse_settings({"routes": routes}, env={})
    assert [route.template for route in settings.routes] == [
        None, "compact", "{rank}. {country_flag} {id} ({likes} likes)", "full"]


@pytest.mark.parametrize(("template", "said"), [
    ("{rank}. {likez} {id}", "routes[1].template: unknown field {likez}; fields: id, rank, previous_rank, movement"),
    ("{id.__class__}", "routes[1].template: {id.__class__} is not a field"),
    ("{rank:>5} {id}", "routes[1].template: {rank:>5}: conversions and format specs are not supported"),
    ("{id", "routes[1].template: unbalanced braces"),
    ("compactt", "routes[1].template: a template names {id} or {url}"),
])
def test_an_unusable_route_template_is_one_line_naming_the_key(template: str, said: str) -> None:
    text = error_for({"routes": [ROUTE, {**ROUTE, "channel": "C2", "template": template}]})
    assert text.startswith("config: " + said)
    assert "\n" not in text


async def test_check_config_names_the_route_template(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[[routes]]\nplatform = "console"\nchannel = "stdout"\n'
                      '[[routes]]\nplatform = "slack"\nchannel = "C1"\ntemplate = "{rank}. {likez} {id}"\n',
                      encoding="utf-8")
    run = await bot("check-config", "--config", str(config))
    assert run.code == 2 and run.err.strip().count("\n") == 0
    assert "routes[1].template: unknown field {likez}; fields: id, rank" in run.err
