"""/alerts commands run inside a Discord forum's post act on the forum, through discord.py against the fake.

A forum (GUILD_FORUM) has no message box: a user types `/alerts …` in one of its posts (a thread whose parent
is the forum), and means the forum, whose alerts are posts of their own. A thread of a text channel is a
conversation, so a command there still acts on the thread. A post whose forum the bot cannot read leaves the
command on the post, in one answer and no traceback.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from store.destinations import channel_destinations
from tests.fakes.discord_api import FakeDiscord, FakeForum, FakeThread
from tests.fakes.hub import FakeHub, ranked
from tests.support.app import CN, US
from tests.support.discord import embed, ephemeral
from tests.support.subscriptions import Desk, answered, start_desk

BASELINE, ONE_ENTERS = US[:8] + CN[:2], CN[:3] + US[:7]  # Qwen/q2 enters the top 10; going back, it leaves


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        with server.patch_discord():
            yield server


@pytest.fixture
async def forum(fake: FakeDiscord) -> FakeForum:
    """A forum that exists when the bot connects (in its GUILD_CREATE), with a post made before then."""
    made = fake.add_forum(tags=["entered", "left"])
    fake.add_thread(made.id, "older question")
    return made


@pytest.fixture
async def desk(fake: FakeDiscord, forum: FakeForum, fake_hub: FakeHub, db_path: Path) -> AsyncIterator[Desk]:
    fake_hub.models = ranked(BASELINE)
    running = await start_desk(fake, fake_hub, db_path)
    try:
        await running.app.poll()
        yield running
    finally:
        await running.close()


async def subscribed_channels(desk: Desk) -> set[str]:
    """The Discord channels with an active subscription."""
    query = "SELECT channel, active FROM destinations WHERE platform = 'discord'"
    async with desk.app.db.conn.execute(query) as cursor:
        return {str(row[0]) for row in await cursor.fetchall() if row[1]}


async def poll_and_deliver(desk: Desk, models: list[str]) -> None:
    desk.hub.models = ranked(models)
    await desk.app.poll()
    report = await desk.app.deliver()
    assert report.paused == [] and report.rejected == 0


def text_of(body: dict[str, Any]) -> str:
    return str(embed(body).get("description", ""))


async def test_subscribe_in_a_forum_post_subscribes_the_forum_whose_alerts_become_tagged_posts(
        desk: Desk, fake: FakeDiscord, forum: FakeForum) -> None:
    post = fake.add_thread(forum.id, "how do I get alerts here?")  # made after the bot connected: not cached
    body = await desk.alerts("subscribe", {"kinds": "entered,left"}, channel=post.id)
    assert answered(body) == "Subscribed" and ephemeral(body)
    assert f"forum <#{forum.id}>" in text_of(body) and "post of its own" in text_of(body)
    assert await subscribed_channels(desk) == {str(forum.id)}  # the forum, not the post
    assert fake.requests_to("GET", f"/channels/{forum.id}") == []  # known from the guild cache: no request
    (here,) = await channel_destinations(desk.app.db.conn, "discord", str(forum.id))
    assert here.name == "default" and here.kinds == ("entered", "new_leader", "left")  # new #1 rides with entered

    await poll_and_deliver(desk, BASELINE)  # the subscription's baseline
    await poll_and_deliver(desk, ONE_ENTERS)
    posts = {made.name: made for made in fake.posts_in(forum.id) if made.owner_id == fake.bot_user_id}
    announced = posts["Qwen/q2 entered the trending top 10"]
    assert fake.tag_names(forum.id, announced) == ["entered"]

    await poll_and_deliver(desk, BASELINE)
    assert [m["embeds"][0]["title"] for m in fake.messages(announced.id)] == [
        "Qwen/q2 entered the trending top 10", "Qwen/q2 left the trending top 10"]  # the follow-up in its post
    assert not fake.messages(post.id)[1:]  # nothing went to the post the command was typed in


async def test_status_in_another_post_of_the_same_forum_shows_the_forum_s_subscription(
        desk: Desk, fake: FakeDiscord, forum: FakeForum) -> None:
    first, cached = fake.add_thread(forum.id, "first"), fake.posts_in(forum.id)[0]  # one made before the bot connected
    assert answered(await desk.alerts("subscribe", {"kinds": "entered,left"}, channel=first.id)) == "Subscribed"
    status = await desk.alerts("status", admin=False, channel=cached.id)
    assert ephemeral(status) and "Subscribed to: entered, left" in text_of(status)
    assert f"forum <#{forum.id}>" in text_of(status)
    body = await desk.alerts("subscribe", {"kinds": "entered", "subscription": "news"}, channel=cached.id)
    assert answered(body) == "Subscribed"
    assert {d.name for d in await channel_destinations(desk.app.db.conn, "discord", str(forum.id))} == {
        "default", "news"}
    assert await subscribed_channels(desk) == {str(forum.id)}


async def test_a_thread_of_a_text_channel_still_acts_on_itself(desk: Desk, fake: FakeDiscord) -> None:
    thread = fake.add_thread(fake.channel_id, "a conversation")
    body = await desk.alerts("subscribe", {"kinds": "entered"}, channel=thread.id)
    assert answered(body) == "Subscribed" and "forum" not in text_of(body)
    assert await subscribed_channels(desk) == {str(thread.id)}


async def test_a_forum_known_only_to_discord_is_read_once_and_acted_on(desk: Desk, fake: FakeDiscord) -> None:
    """A forum the guild cache lacks (made after the bot connected, no CHANNEL_CREATE seen): read from Discord."""
    late = fake.add_forum(tags=["entered"])
    posts = [fake.add_thread(late.id, "one"), fake.add_thread(late.id, "two")]
    for post in posts:
        assert answered(await desk.alerts("subscribe", {"kinds": "entered"}, channel=post.id)) in (
            "Subscribed", "Subscription updated")
    assert await subscribed_channels(desk) == {str(late.id)}
    assert len(fake.requests_to("GET", f"/channels/{late.id}")) == 1  # its type is kept: a type never changes


async def test_a_post_whose_forum_the_bot_cannot_read_leaves_the_command_on_the_post(
        desk: Desk, fake: FakeDiscord, caplog: pytest.LogCaptureFixture) -> None:
    hidden = fake.add_forum()
    post: FakeThread = fake.add_thread(hidden.id, "private")
    fake.fail_channel(hidden.id, 403)
    with caplog.at_level(logging.INFO):
        body = await desk.alerts("subscribe", {"kinds": "entered"}, channel=post.id)
    assert answered(body) == "Subscribed" and "forum" not in text_of(body)
    assert await subscribed_channels(desk) == {str(post.id)}  # today's behaviour: the post itself
    assert not [r for r in caplog.records if r.exc_info]
    assert any(f"cannot read channel {hidden.id}" in r.getMessage() for r in caplog.records)
    status = await desk.alerts("status", admin=False, channel=post.id)
    assert "Subscribed to: entered" in text_of(status)
    assert len(fake.requests_to("GET", f"/channels/{hidden.id}")) == 1  # not asked again at every command


async def test_subscription_autocomplete_in_a_post_lists_the_forum_s_subscriptions(
        desk: Desk, fake: FakeDiscord, forum: FakeForum) -> None:
    first, second = fake.add_thread(forum.id, "a"), fake.add_thread(forum.id, "b")
    assert answered(await desk.alerts("subscribe", {"kinds": "entered", "subscription": "china"},
                                      channel=first.id)) == "Subscribed"
    payload = fake.autocomplete_payload("alerts", {"subscription": "ch"}, "subscription", channel_id=second.id,
                                        subcommand="status")
    await fake.dispatch_interaction(payload)
    callback = await fake.wait_for_callback(int(payload["id"]))
    assert callback["type"] == 8
    assert [choice["value"] for choice in callback["data"]["choices"]] == ["china"]


async def test_a_refusal_in_a_post_names_the_forum_it_was_about(
        desk: Desk, fake: FakeDiscord, forum: FakeForum) -> None:
    post = fake.add_thread(forum.id, "no alerts yet")
    body = await desk.alerts("unsubscribe", channel=post.id)
    assert embed(body)["title"] == "That did not work" and ephemeral(body)
    assert f"acts on its forum <#{forum.id}>" in text_of(body)
    assert await subscribed_channels(desk) == set()
