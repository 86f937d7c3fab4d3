"""`[[routes]]` with names: several subscriptions of one channel declared in the config.

Config checks a name and refuses a second route of the same (platform, channel, name) in one line naming
both; `sync_configured` keys on the name (removing one route ends that subscription only), and route
filters are written to their own subscription, not to whichever of the channel's was found first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.config import ConfigError, parse_settings
from bot.poller.fan_out import sync_route_filters
from store.channel_filters import all_filters
from store.db import open_database
from store.destinations import channel_destinations, sync_configured
from tests.conftest import T0
from tests.support.stores import store_env, store_of

CHINA = {"platform": "slack", "channel": "C1", "name": "china", "kinds": ["entered"], "countries": ["CN"]}
WEEKLY = {"platform": "slack", "channel": "C1", "name": "weekly", "kinds": ["digest"]}
PLAIN = {"platform": "slack", "channel": "C1", "kinds": ["share"]}


def test_a_route_is_the_default_subscription_unless_named() -> None:
    settings = parse_settings({"routes": [PLAIN, CHINA]}, env={})
    assert [route.name for route in settings.routes] == ["default", "china"]


@pytest.mark.parametrize(("routes", "message"), [
    ([CHINA, WEEKLY, {**CHINA, "kinds": ["share"]}],
     "config: routes[2]: slack:C1 subscription 'china' is already routes[0]; give each [[routes]] of one"
     " channel its own name (e.g. name = \"china-desk\")"),
    ([PLAIN, {"platform": "slack", "channel": "C1"}],
     "config: routes[1]: slack:C1 subscription 'default' is already routes[0]; give each [[routes]] of one"
     " channel its own name (e.g. name = \"china-desk\")"),
    ([{**CHINA, "name": "China Desk"}],
     "config: routes[0].name: 'China Desk' is not a subscription name: use 1 to 32 lowercase letters, digits"
     " or dashes (e.g. china-desk)"),
    ([{**CHINA, "name": ""}],
     "config: routes[0].name: '' is not a subscription name: use 1 to 32 lowercase letters, digits or dashes"
     " (e.g. china-desk)"),
])
def test_a_duplicate_or_badly_named_route_is_one_line(routes: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"routes": routes}, env={})
    assert str(caught.value) == message


def test_the_same_name_in_two_channels_is_two_subscriptions() -> None:
    parse_settings({"routes": [CHINA, {**CHINA, "channel": "C2"}, {**CHINA, "platform": "discord",
                                                                   "channel": "111"}]}, env={})


async def test_sync_keys_on_the_name_and_route_filters_reach_their_own_subscription(db_path: Path) -> None:
    db = await open_database(store_of(db_path))
    try:
        settings = parse_settings({"routes": [PLAIN, CHINA, WEEKLY]}, env=store_env())
        async with db.transaction() as conn:
            await sync_configured(conn, settings.routes, False, T0)
            await sync_route_filters(conn, settings, T0)
        found = {d.name: d for d in await channel_destinations(db.conn, "slack", "C1")}
        assert {name: (d.kinds, d.active) for name, d in found.items()} == {
            "default": (("share",), True), "china": (("entered",), True), "weekly": (("digest",), True)}
        filters = await all_filters(db.conn)
        assert set(filters) == {found["china"].id} and filters[found["china"].id].countries == ("CN",)

        fewer = parse_settings({"routes": [PLAIN, CHINA]}, env=store_env())  # the weekly route was removed
        async with db.transaction() as conn:
            await sync_configured(conn, fewer.routes, False, T0)
        after = {d.name: d.active for d in await channel_destinations(db.conn, "slack", "C1")}
        assert after == {"default": True, "china": True, "weekly": False}
    finally:
        await db.close()


async def test_check_config_names_a_duplicate_route_and_the_subscription_of_a_route_that_cannot_send(
    tmp_path: Path
) -> None:
    from tests.fakes.hub import FakeHub
    from tests.support.cli import bot, write_config

    async with FakeHub() as hub:
        route = '\n[[routes]]\nplatform = "slack"\nchannel = "C0123"\nname = "china"\n'
        config = write_config(tmp_path / "c.toml", hub, tmp_path / "t.db", extra=route + route)
        doubled = await bot("check-config", "--config", str(config))
        assert doubled.code != 0 and "routes[1]: slack:C0123 subscription 'china' is already routes[0]" in doubled.err
        config = write_config(tmp_path / "c.toml", hub, tmp_path / "t.db", extra=route)
        checked = await bot("check-config", "--config", str(config))
        assert checked.code == 0, checked.err
        assert "warning: route slack:C0123 (subscription china) gets nothing while [slack] enabled = false" \
            in checked.out
