"""Migration 0010: a channel's share rule keeps its basis, on both stores, and `/alerts rule` sets it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.commands.caller import Caller, CommandError
from bot.commands.channel_settings import ChannelSettings, parse_basis
from bot.config import parse_settings
from bot.domain.messages import plain
from bot.poller.poll import channel_rule_specs
from store import destinations as dest_store
from store.db import open_database
from tests.conftest import T0
from tests.support.stores import store_of

ADMIN = Caller(platform="discord", channel="111", user="u", is_admin=True)


async def test_a_rule_keeps_its_basis_and_another_basis_replaces_it(db_path: Path):
    db = await open_database(store_of(db_path))
    try:
        async with db.transaction() as conn:
            found = await dest_store.upsert_destination(conn, "discord", "111", ["share"], "command", T0)
            assert await dest_store.add_channel_rule(conn, found.id, "CN", "above", 50, T0)  # default basis
            assert not await dest_store.add_channel_rule(conn, found.id, "CN", "above", 50, T0, "top_n")
            assert await dest_store.add_channel_rule(conn, found.id, "CN", "above", 50, T0, "certain")
            assert not await dest_store.add_channel_rule(conn, found.id, "CN", "above", 50, T0, "certain")
            assert await dest_store.add_channel_rule(conn, found.id, "US", "below", 20, T0, "known")
        assert await dest_store.channel_rules_of(db.conn, found.id) == [("CN", "above", 50, "certain"),
                                                                        ("US", "below", 20, "known")]
        routing = await dest_store.current_routing(db.conn)
        assert routing.channel_rules == ((found.id, "CN", "above", 50, "certain"),
                                         (found.id, "US", "below", 20, "known"))
        with pytest.raises(Exception):  # noqa: B017 — the store's CHECK, whichever driver raises it
            async with db.transaction() as conn:
                await dest_store.add_channel_rule(conn, found.id, "FR", "above", 10, T0, "sure")
    finally:
        await db.close()


async def test_alerts_rule_sets_a_basis_and_status_shows_it(db_path: Path):
    settings = parse_settings({"share_rules": [{"country": "CN", "above": 60, "basis": "known"}]}, env={})
    db = await open_database(store_of(db_path))
    try:
        async with db.transaction() as conn:
            await dest_store.upsert_destination(conn, "discord", "111", ["share"], "command", T0)
        channels = ChannelSettings(db, settings, clock=lambda: T0)
        added = await channels.add_rule(ADMIN, "cn", "above", "50", "certain")
        assert "China above 50% of the top 10 (basis certain)" in plain(added.lines[0])
        again = await channels.add_rule(ADMIN, "CN", "above", 50, "CERTAIN")
        assert again.title == "Rule already set"
        status = "\n".join(plain(text) for text in (await channels.status(ADMIN)).lines)
        assert "Rule: 🇨🇳 CN above 50% (basis certain)" in status
        assert "Bot-wide rule: 🇨🇳 CN above 60% (basis known)" in status
        with pytest.raises(CommandError, match="Unknown basis 'sure': choose top_n, known, certain"):
            await channels.add_rule(ADMIN, "CN", "above", 50, "sure")
    finally:
        await db.close()


def test_parse_basis_defaults_and_refuses_in_one_line():
    assert parse_basis(None) == parse_basis("") == parse_basis(" top_n ") == "top_n"
    assert parse_basis("Known") == "known"
    with pytest.raises(CommandError):
        parse_basis("all")


def test_a_default_basis_channel_rule_keeps_its_key_and_another_basis_gets_its_own():
    plain_rule, certain = channel_rule_specs(((3, "CN", "above", 50, "top_n"), (3, "CN", "below", 20, "certain")))
    assert (plain_rule.key, plain_rule.basis, plain_rule.scope) == ("dest3:CN:above:50", "top_n", 3)
    assert (certain.key, certain.basis) == ("dest3:CN:below:20:certain", "certain")
