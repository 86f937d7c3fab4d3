"""One channel, three subscriptions, one poll: each subscription gets exactly its own messages.

The China desk declares its channel's subscriptions as `[[routes]]` with names: `china` hears entries from
China and pings @china (set by `/alerts mention … subscription:china`), `weekly` hears only the digest, and
`default` hears every entry and the share alerts, pinging nobody. One poll in which Chinese and American
models enter, a Chinese model becomes #1 and China reaches 50% of the top 10 gives, per subscription and
kind, exactly one outbox row: `china` an entry message listing only the Chinese models and the new #1, both
pinging @china; `default` the entries of every country, the new #1 and the share alert, pinging nobody;
`weekly` nothing. Two subscriptions wanting `entered` in one channel get two messages, each with its own
mention, delivered through the real slack_sdk to FakeSlack, and nothing more on the next delivery pass.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import Trendwatch
from bot.commands.caller import Caller
from bot.commands.channel_settings import ChannelSettings
from store.destinations import channel_destinations
from tests.fakes.hub import FakeHub, ranked
from tests.fakes.slack_api import FakeSlack
from tests.support.app import CN, US
from tests.support.slack import SECRETS, settings_for

DESK = "CDESK"
ROUTES = [
    {"platform": "slack", "channel": DESK, "name": "china", "kinds": ["entered", "new_leader"], "countries": ["CN"]},
    {"platform": "slack", "channel": DESK, "name": "weekly", "kinds": ["digest"]},
    {"platform": "slack", "channel": DESK, "kinds": ["entered", "new_leader", "share"]},  # name: default
]


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        yield server


def head(post: dict[str, Any]) -> str:
    return str(post["blocks"][0]["text"]["text"])


async def test_each_subscription_of_one_channel_gets_its_own_message_from_one_poll(
    fake_hub: FakeHub, fake: FakeSlack, db_path: Path
) -> None:
    settings = settings_for(fake_hub, fake, db_path, channels=(), routes=ROUTES)
    app = await Trendwatch.open(settings, SECRETS)
    assert await app.acquire_lease() is None
    try:
        answer = await ChannelSettings(app.db, app.settings).mention(Caller("slack", DESK, "U1", True), "S0CHINA",
                                                                      "china")
        assert answer.title == "Mention set"
        ids = {d.name: d.id for d in await channel_destinations(app.db.conn, "slack", DESK)}
        assert set(ids) == {"china", "weekly", "default"}

        fake_hub.models = ranked(US[:8] + CN[:2])
        await app.poll()  # the baseline
        fake_hub.models = ranked(CN[:5] + US[5:])  # Qwen q2-q4 and Llama l8-l9 enter, q0 leads, China holds 50%
        await app.poll()
        async with app.db.conn.execute("SELECT o.destination_id, e.kind, e.payload FROM outbox o"
                                       " JOIN events e ON e.id = o.event_id ORDER BY o.id") as cursor:
            rows = [(int(d), str(kind), json.loads(str(payload))) for d, kind, payload in await cursor.fetchall()]
        kinds = sorted((d, kind) for d, kind, _ in rows)
        assert kinds == sorted([(ids["china"], "entered"), (ids["china"], "new_leader"), (ids["default"], "entered"),
                                (ids["default"], "new_leader"), (ids["default"], "share")])  # weekly: nothing
        entered = {d: [m["id"] for m in payload["models"]] for d, kind, payload in rows if kind == "entered"}
        assert entered[ids["china"]] == ["Qwen/q2", "Qwen/q3", "Qwen/q4"]  # the desk's own filter
        assert entered[ids["default"]] == ["Qwen/q2", "Qwen/q3", "Qwen/q4", "meta-llama/l8", "meta-llama/l9"]
        report = await app.deliver()
        assert report.sent == 5
        assert (await app.deliver()).sent == 0  # nothing twice
    finally:
        await app.close()

    posts = fake.posts(DESK)
    assert len(posts) == 5
    pinged = [p for p in posts if p["text"].startswith("<!subteam^S0CHINA>")]
    assert len(pinged) == 2 and all("meta-llama/l8" not in p["text"] for p in pinged)  # china's two, with @china
    quiet = [p for p in posts if p not in pinged]
    assert len(quiet) == 3 and not any("subteam" in p["text"] for p in quiet)  # default's three, pinging nobody
    assert sum("entered" in head(p) for p in pinged) == 1 and sum("entered" in head(p) for p in quiet) == 1
    assert any("meta-llama/l8" in p["text"] for p in quiet)
