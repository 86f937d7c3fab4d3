"""Fan-out rules: who gets which event (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.domain.destination import Destination
from bot.domain.events import Entered, EnteredModel, NewLeader, ShareChange, SourceHealth
from bot.rules.routing import recipients, wants
from tests.conftest import T0

CHANNEL = Destination(id=1, platform="discord", channel="c", kinds=("entered", "share"), origin="command",
                      active=True, subscribed_at=T0, since_snapshot=5)
ENTERED = Entered(taken_at=T0, top_n=10, models=(EnteredModel(id="a/b", rank=3, country="CN"),))
SHARE = ShareChange(taken_at=T0, country="CN", state="firing", direction="above", share=60, threshold=50,
                    top_n=10, count=6, rule="CN:above:50")


def test_the_first_snapshot_after_subscribing_is_the_channels_baseline():
    assert not wants(CHANNEL, ENTERED, previous_snapshot_id=5, now=T0)
    assert wants(CHANNEL, ENTERED, previous_snapshot_id=6, now=T0)
    assert not wants(CHANNEL, ENTERED, previous_snapshot_id=None, now=T0)


def test_kinds_filter_and_new_leader_rides_with_entries():
    digest_only = replace(CHANNEL, kinds=("digest",))
    assert not wants(digest_only, ENTERED, 9, T0)
    leader = NewLeader(taken_at=T0, id="a/b", country="CN")
    assert wants(CHANNEL, leader, 9, T0)


def test_muted_and_paused_channels_get_nothing():
    assert not wants(replace(CHANNEL, muted_until=T0 + timedelta(hours=1)), ENTERED, 9, T0)
    assert wants(replace(CHANNEL, muted_until=T0 - timedelta(hours=1)), ENTERED, 9, T0)
    assert not wants(replace(CHANNEL, paused_at=T0, paused_reason="403"), ENTERED, 9, T0)
    assert not wants(replace(CHANNEL, active=False), ENTERED, 9, T0)


def test_channel_rules_alert_only_their_channel():
    scoped = SHARE.model_copy(update={"scope": 2})
    other = replace(CHANNEL, id=2)
    assert recipients(scoped, [CHANNEL, other], 9, T0) == [2]
    assert recipients(SHARE, [CHANNEL, other], 9, T0) == [1, 2]


def test_source_notices_go_where_source_is_wanted_without_a_baseline():
    notice = SourceHealth(taken_at=T0, state="failing", failures=3)
    console = replace(CHANNEL, kinds=("entered", "new_leader", "share", "source", "digest"))
    assert wants(console, notice, None, T0)
    assert not wants(CHANNEL, notice, None, T0)
