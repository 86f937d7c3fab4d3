"""`left` and `climber` through the real app: poll → store → outbox → the real slack_sdk against FakeSlack.

A channel that opted in (a `[[routes]] kinds` entry, or `/alerts subscribe left,climber`) gets one
`left` and one `climber` message per poll, whatever the number of models; a channel on the default
kinds gets neither. The console carries both kinds as JSON lines.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Trendwatch
from bot.commands.caller import Caller
from bot.commands.channel_settings import ChannelSettings
from tests.fakes.hub import FakeHub, ranked
from tests.fakes.slack_api import FakeSlack
from tests.support import app as console_app
from tests.support.slack import SECRETS, settings_for

LIST = [f"org/m{i}" for i in range(1, 15)]  # ranks 1..14
# Next poll: m9 and m10 fall out of the top 10 (to #13 and #14); m7 and m8 climb 4 places (#7 → #3, #8 → #4);
# new/a and new/b enter. #1 stays, so no new-leader alert takes a climb.
AFTER = ["org/m1", "org/m2", "org/m7", "org/m8", "org/m3", "org/m4", "org/m5", "org/m6", "new/a", "new/b",
         "org/m11", "org/m12", "org/m9", "org/m10"]
ALL_KINDS = ["entered", "new_leader", "share", "digest", "left", "climber"]


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as f:
        yield f


def titles(fake: FakeSlack, channel: str) -> list[str]:
    return [str(post["blocks"][0]["text"]["text"]) for post in fake.posts(channel)]


async def test_opted_in_channels_get_one_left_and_one_climber_message_per_poll_others_none(
    fake_hub: FakeHub, fake: FakeSlack, db_path: Path
):
    settings = settings_for(fake_hub, fake, db_path, channels=("CDEFAULT",), routes=[
        {"platform": "slack", "channel": "CROUTE", "kinds": ALL_KINDS},
        {"platform": "slack", "channel": "CDEFAULT"},
    ])
    app = await Trendwatch.open(settings, SECRETS)
    assert await app.acquire_lease() is None
    try:
        fake_hub.models = ranked(LIST)
        await app.poll()
        commands = ChannelSettings(app.db, app.settings)
        await commands.subscribe(Caller("slack", "CASKED", "U1", True), "entered, left, climber")
        await app.poll()  # CASKED's baseline: it subscribed after the last snapshot
        await app.deliver()
        assert fake.posts() == []

        fake_hub.models = ranked(AFTER)
        await app.poll()
        await app.deliver()
        await app.deliver()  # nothing twice
        fake_hub.models = ranked(AFTER)
        await app.poll()  # nothing changed: nothing more
        await app.deliver()
    finally:
        await app.close()

    for channel in ("CROUTE", "CASKED"):
        got = titles(fake, channel)
        assert got.count("2 models left the trending top 10") == 1, got
        assert got.count("2 models climbed 3+ places in the trending top 10") == 1, got
        assert "2 models entered the trending top 10" in got
        assert len(got) == 3, got
    assert titles(fake, "CDEFAULT") == ["2 models entered the trending top 10"]
    left = next(p for p in fake.posts("CROUTE") if "left" in p["blocks"][0]["text"]["text"])
    assert "#9 → now #13" in left["text"] and "#10 → now #14" in left["text"]
    climbed = next(p for p in fake.posts("CROUTE") if "climbed" in p["blocks"][0]["text"]["text"])
    assert "#7 → #3" in climbed["text"] and "#8 → #4" in climbed["text"]


async def test_the_console_carries_left_and_climber_as_json_lines(fake_hub: FakeHub, db_path: Path):
    stream = io.StringIO()
    app = await console_app.open_app(console_app.settings_for(fake_hub, db_path), stream)
    try:
        fake_hub.models = ranked(LIST)
        await app.poll()
        fake_hub.models = ranked(AFTER)
        await app.poll()
        await app.deliver()
    finally:
        await app.close()
    lines = console_app.alerts(stream)
    left = [a for a in lines if a["kind"] == "left"]
    climber = [a for a in lines if a["kind"] == "climber"]
    assert len(left) == 1 and len(climber) == 1
    assert [(m["id"], m["rank"], m["previous_rank"]) for m in left[0]["models"]] == [
        ("org/m9", 13, 9), ("org/m10", 14, 10)]
    assert all(m["hours_in_top"] >= 0 and "in_top_since" in m and m["at_least"] for m in left[0]["models"])
    assert [(m["id"], m["rank"], m["previous_rank"]) for m in climber[0]["models"]] == [
        ("org/m7", 3, 7), ("org/m8", 4, 8)]
    assert climber[0]["climb"] == 3 and climber[0]["top_n"] == 10
