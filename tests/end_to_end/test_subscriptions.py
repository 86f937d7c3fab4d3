"""Issue 20, item 1 end to end: one Discord channel, three subscriptions, set up by slash commands.

An admin of the China desk types the commands of `set_up_three_subscriptions` (tests/support/subscriptions.py)
through discord.py's command tree on the fake gateway: `china` (entries from China, pinging @china), `weekly`
(the weekly digest, pinging nobody) and `default` (every entry and the share alerts, pinging nobody). Then
the bot runs as it does: polls of the fake Hub, delivery passes to the fake Discord, the weekly digest.
The test reads what the fake Discord received in that one channel: each subscription its own messages, each
with its own mention (or none), nothing twice.

Structure, for what is added to this channel later (a forum target, a silence): `desk` starts the bot on the
fakes; `poll_cycle` is one poll and one delivery pass at a fixed time; `received` is what the channel got
since a mark, read as (who was pinged, title); each scenario is one test below.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.discord_api import FakeDiscord
from tests.fakes.hub import FakeHub, ranked
from tests.support.app import CN, US
from tests.support.discord import embed
from tests.support.subscriptions import CHINA_ROLE, Desk, set_up_three_subscriptions, start_desk

W30 = datetime(2025, 7, 21, tzinfo=UTC)  # Monday of 2025-W30: the polls' week
DIGEST_DUE = datetime(2025, 7, 28, 9, tzinfo=UTC)  # "mon 09:00" UTC: the 2025-W30 digest
BASELINE = US[:8] + CN[:2]
CHANGED = CN[:5] + US[5:]  # Qwen q2-q4 and Llama l8-l9 enter, Qwen q0 becomes #1, China holds 5 of 10


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        with server.patch_discord():
            yield server


@pytest.fixture
async def desk(fake: FakeDiscord, fake_hub: FakeHub, db_path: Path) -> AsyncIterator[Desk]:
    running = await start_desk(fake, fake_hub, db_path)
    try:
        yield running
    finally:
        await running.close()


async def poll_cycle(desk: Desk, models: list[str], hours: float) -> int:
    """One poll of the fake Hub at W30 + `hours`, then one delivery pass; how many messages the channel got."""
    before = len(desk.fake.messages(desk.channel))
    desk.hub.models = ranked(models)
    await desk.app.poll(clock=lambda: W30 + timedelta(hours=hours))
    await desk.app.deliver()
    return len(desk.fake.messages(desk.channel)) - before


def received(desk: Desk, since: int = 0) -> list[tuple[str | None, str]]:
    """(the role pinged or None, the first embed's title) of each message the channel got, from `since` on."""
    found = []
    for payload in desk.fake.messages(desk.channel)[since:]:
        content = payload.get("content") or ""
        pinged = content.removeprefix("<@&").removesuffix(">") if content.startswith("<@&") else None
        found.append((pinged, str(payload["embeds"][0]["title"])))
    return found


def roles_allowed(payload: dict[str, Any]) -> list[str]:
    return [str(role) for role in (payload.get("allowed_mentions") or {}).get("roles") or []]


async def test_one_poll_gives_each_subscription_its_own_messages_with_its_own_mention(desk: Desk) -> None:
    await set_up_three_subscriptions(desk)
    status = embed(await desk.alerts("status", admin=False))["description"]
    assert status.index("Subscription default") < status.index("Subscription china") < \
        status.index("Subscription weekly")

    assert await poll_cycle(desk, BASELINE, 1) == 0  # every subscription's baseline: nothing is news yet
    sent = await poll_cycle(desk, CHANGED, 2)
    got = received(desk)
    assert sent == len(got) == 5
    china = sorted(title for pinged, title in got if pinged == CHINA_ROLE)
    everyone = sorted(title for pinged, title in got if pinged is None)
    assert len(china) == 2 and len(everyone) == 3  # weekly: a poll brings it nothing
    entered_china = next(t for t in china if "entered" in t)
    entered_all = next(t for t in everyone if "entered" in t)
    assert entered_china.startswith("3 models") and entered_all.startswith("5 models")  # china: only CN entries
    assert any("China" in t for t in everyone if t != entered_all)  # the share alert goes to default only

    messages = desk.fake.messages(desk.channel)
    for payload in messages:  # a ping reaches only the role that subscription names
        assert roles_allowed(payload) == ([CHINA_ROLE] if payload.get("content") else [])
    assert len({payload.get("nonce") for payload in messages}) == 5  # one send key per subscription and event

    assert await poll_cycle(desk, CHANGED, 3) == 0  # nothing changed: nothing more, nothing twice
    assert len(received(desk)) == 5


async def test_the_weekly_digest_goes_to_its_own_subscription_only(desk: Desk) -> None:
    await set_up_three_subscriptions(desk)
    for hour, models in enumerate((BASELINE, CHANGED, CHANGED, BASELINE), start=1):
        await poll_cycle(desk, models, 6 * hour)
    mark = len(received(desk))
    outcome = await desk.app.digest_due(DIGEST_DUE)
    assert outcome.digest is not None, outcome
    await desk.app.deliver()
    [(pinged, title)] = received(desk, mark)
    assert pinged is None and "2025-W30" in title, title


async def test_unsubscribing_the_china_desk_leaves_the_channel_its_other_subscriptions(desk: Desk) -> None:
    await set_up_three_subscriptions(desk)
    assert embed(await desk.alerts("unsubscribe", {"subscription": "china"}))["title"] == "Unsubscribed"
    await poll_cycle(desk, BASELINE, 1)
    await poll_cycle(desk, CHANGED, 2)
    got = received(desk)
    assert len(got) == 3 and all(pinged is None for pinged, _ in got)


async def held_back(desk: Desk) -> list[tuple[str, str, str]]:
    """(subscription, kind, the held part's models) of every alert a silence held back in this channel."""
    async with desk.app.db.conn.execute(
        "SELECT d.name, e.kind, e.payload FROM silenced_alerts s JOIN destinations d ON d.id = s.destination_id"
        " JOIN events e ON e.id = s.event_id ORDER BY d.name, s.id") as cursor:
        rows = await cursor.fetchall()
    return [(str(name), str(kind), ",".join(m["id"] for m in json.loads(str(payload)).get("models", [])))
            for name, kind, payload in rows]


async def test_a_silence_holds_back_one_model_in_every_subscription_of_the_channel_and_loses_nothing(
        desk: Desk) -> None:
    await set_up_three_subscriptions(desk)
    answer = embed(await desk.alerts("silence", {"matcher": "author:qwen", "duration": "7d"}))
    assert answer["title"] == "Silenced", answer
    status = embed(await desk.alerts("status", admin=False))["description"]
    assert status.count("🔕 Silence") == 1  # one silence, said once for the whole channel

    await poll_cycle(desk, BASELINE, 1)
    sent = await poll_cycle(desk, CHANGED, 2)
    got = received(desk)
    # china hears only Chinese entries, all held back: it gets nothing; default gets the two Llama entries and
    # the share alert (a silence on an author holds back models, not a country's share)
    assert sent == len(got) == 2 and all(pinged is None for pinged, _ in got), got
    entered = next(title for _, title in got if "entered" in title)
    assert entered.startswith("2 models"), entered
    # and Qwen/q0's new #1, which rides with entries, for both subscriptions that take entries
    assert await held_back(desk) == [("china", "entered", "Qwen/q2,Qwen/q3,Qwen/q4"), ("china", "new_leader", ""),
                                     ("default", "entered", "Qwen/q2,Qwen/q3,Qwen/q4"), ("default", "new_leader", "")]

    # ended early, the silence lets later alerts through; what it held back stays recorded, never sent late
    listed = embed(await desk.alerts("silences", admin=False))
    number = json.dumps(listed).split("#", 1)[1].split(" ", 1)[0]  # "#1 author:qwen: ends in …"
    assert embed(await desk.alerts("unsilence", {"id": number}))["title"] == "Silence ended"
    assert await poll_cycle(desk, CHANGED, 3) == 0
    assert len(await held_back(desk)) == 4


async def test_the_desk_with_three_subscriptions_a_silence_and_a_forum_beside_it(
        fake: FakeDiscord, fake_hub: FakeHub, db_path: Path) -> None:
    """Issue 20's whole story at once: the China desk channel (three subscriptions, a silence on one model) and a
    forum channel routed in the config (a post per alert, tagged by kind, follow-ups in the model's post)."""
    forum = fake.add_forum(tags=["entered"])
    route = {"platform": "discord", "channel": str(forum.id), "kinds": ["entered", "new_leader", "left"]}
    desk = await start_desk(fake, fake_hub, db_path, routes=[route])
    try:
        await set_up_three_subscriptions(desk)
        silenced = embed(await desk.alerts("silence", {"matcher": "model:Qwen/q3", "duration": "1d"}))
        assert silenced["title"] == "Silenced", silenced

        await poll_cycle(desk, BASELINE, 1)
        await poll_cycle(desk, CHANGED, 2)  # q2-q4 and l8-l9 enter, q0 becomes #1, l0-l4 leave
        got = received(desk)
        assert len(got) == 5  # as without the silence: it held back one model, not whole messages
        entries = [payload for payload in desk.fake.messages(desk.channel)
                   if "entered" in payload["embeds"][0]["title"]]
        assert sorted(str(p["embeds"][0]["title"])[:8] for p in entries) == ["2 models", "4 models"]
        assert not any("Qwen/q3" in json.dumps(payload) for payload in entries)  # silenced here
        assert [(name, kind) for name, kind, models in await held_back(desk) if "Qwen/q3" in models] == [
            ("china", "entered"), ("default", "entered")]

        posts = {post.name: post for post in fake.posts_in(forum.id)}
        announced = next(post for name, post in posts.items() if name.startswith("5 models entered"))
        assert fake.tag_names(forum.id, announced) == ["entered"]
        assert "Qwen/q3" in json.dumps(fake.messages(announced.id))  # a silence is the channel's, not the forum's
        assert any(name.startswith("New #1") for name in posts) and any("left" in name for name in posts)

        await poll_cycle(desk, BASELINE, 3)  # the five announced together in that post leave again
        titles = [str(m["embeds"][0]["title"]) for m in fake.messages(announced.id)]
        assert len(titles) == 2 and titles[1].startswith("5 models left"), titles  # told in their post
        assert sum(name.startswith("5 models left") for name in (p.name for p in fake.posts_in(forum.id))) == 1
    finally:
        await desk.close()
