"""Discord forum channels through the real discord.py against the fake Discord: a post per alert, tagged by
kind; a follow-up about the same model replies in that post; a post that is gone gets a new one instead.

Delivery records a forum post's thread id as the anchor of the models it announced (bot/delivery/drain.py),
so these tests drive the outbox drain as `run` does, on both stores.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.discord_out import DiscordAdapter
from bot.delivery.adapter import DestinationGone
from bot.delivery.drain import DeliveryReport, deliver_due
from bot.domain.destination import Destination
from bot.domain.events import Entered, EnteredModel, Event, Left, LeftModel, NewLeader
from bot.domain.messages import Alert, Message
from store import outbox, threads
from store.db import Database, open_database
from store.destinations import upsert_destination
from tests.fakes.discord_api import FakeDiscord, FakeForum
from tests.fakes.hub import FakeHub, ranked
from tests.support.app import CN, US
from tests.support.cli import bot, write_config
from tests.support.stores import store_of

T = datetime(2026, 5, 1, 12, tzinfo=UTC)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        with server.patch_discord():
            yield server


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    opened = await open_database(store_of(db_path))
    try:
        yield opened
    finally:
        await opened.close()


def entered(*ids: str, test: bool = False) -> Entered:
    return Entered(taken_at=T, top_n=50, test=test,
                   models=tuple(EnteredModel(id=i, rank=40 + n, country="US") for n, i in enumerate(ids)))


def left(*ids: str) -> Left:
    return Left(taken_at=T + timedelta(hours=6), top_n=50, models=tuple(
        LeftModel(id=i, rank=None, previous_rank=50, country="US", in_top_since=T, last_in_top=T) for i in ids))


async def subscribe(db: Database, forum: FakeForum) -> Destination:
    async with db.transaction() as conn:  # no `threads` setting: a forum threads alone
        return await upsert_destination(conn, "discord", str(forum.id), ["entered", "new_leader", "left"],
                                        "command", T)


async def deliver(db: Database, adapter: DiscordAdapter, destination: Destination, event: Event) -> DeliveryReport:
    async with db.transaction() as conn:
        await outbox.add_event(conn, event, None, [destination.id], T)
    return await deliver_due(db, {"discord": adapter}, clock=lambda: datetime.now(UTC))


@pytest.fixture
async def adapter(fake: FakeDiscord) -> AsyncIterator[DiscordAdapter]:
    made = DiscordAdapter("fake-token", fake.api_base)
    try:
        yield made
    finally:
        await made.close()


async def test_an_alert_to_a_forum_is_a_post_of_its_own_tagged_with_its_kind(
        fake: FakeDiscord, db: Database, adapter: DiscordAdapter):
    forum = fake.add_forum(tags=["entered", "New #1", "share"])
    here = await subscribe(db, forum)
    report = await deliver(db, adapter, here, entered("org/a", "org/b"))
    assert report.sent == 1 and report.paused == []
    (post,) = fake.posts_in(forum.id)
    assert post.name == "2 models entered the trending top 50"
    assert fake.tag_names(forum.id, post) == ["entered"]
    (starter,) = fake.messages(post.id)
    assert starter["embeds"][0]["title"] == post.name
    assert await threads.anchor_for(db.conn, here.id, "models", "org/b") == str(post.id)
    report = await deliver(db, adapter, here, NewLeader(taken_at=T, id="org/c", country="US"))
    assert report.sent == 1
    assert fake.tag_names(forum.id, fake.posts_in(forum.id)[1]) == ["New #1"]  # matched by name, any case


async def test_a_follow_up_about_the_same_model_replies_in_its_post(
        fake: FakeDiscord, db: Database, adapter: DiscordAdapter):
    forum = fake.add_forum(tags=["entered", "left"])
    here = await subscribe(db, forum)
    await deliver(db, adapter, here, entered("org/a", "org/b"))
    report = await deliver(db, adapter, here, left("org/a", "org/b"))
    assert report.sent == 1
    (post,) = fake.posts_in(forum.id)  # no second post
    starter, follow_up = fake.messages(post.id)
    assert starter["embeds"][0]["title"] == post.name
    assert follow_up["embeds"][0]["title"] == "2 models left the trending top 50"
    assert follow_up["nonce"]  # a reply in a post is a message: idempotent like any other


async def test_a_follow_up_to_an_archived_or_deleted_post_becomes_a_new_post(
        fake: FakeDiscord, db: Database, adapter: DiscordAdapter):
    forum = fake.add_forum(tags=["entered", "left"])
    here = await subscribe(db, forum)
    await deliver(db, adapter, here, entered("org/a"))
    (first,) = fake.posts_in(forum.id)
    fake.archive_post(first.id, locked=True)
    report = await deliver(db, adapter, here, left("org/a"))
    assert report.sent == 1 and report.paused == [] and report.rejected == 0  # never lost, the forum not paused
    second = fake.posts_in(forum.id)[1]
    assert fake.tag_names(forum.id, second) == ["left"] and len(fake.messages(first.id)) == 1
    assert await threads.anchor_for(db.conn, here.id, "models", "org/a") == str(second.id)  # the living post
    fake.delete_post(second.id)
    report = await deliver(db, adapter, here, left("org/a"))
    assert report.sent == 1 and len(fake.posts_in(forum.id)) == 3


async def test_a_test_sample_is_a_post_but_never_an_anchor(fake: FakeDiscord, db: Database, adapter: DiscordAdapter):
    forum = fake.add_forum(tags=["entered", "left"])
    here = await subscribe(db, forum)
    await deliver(db, adapter, here, entered("org/a", test=True))
    await deliver(db, adapter, here, left("org/a"))
    assert len(fake.posts_in(forum.id)) == 2
    assert await threads.anchor_for(db.conn, here.id, "models", "org/a") is None


async def test_missing_tags_are_created_when_the_bot_may_and_else_posts_go_untagged_said_once(
        fake: FakeDiscord, adapter: DiscordAdapter, caplog: pytest.LogCaptureFixture):
    free = fake.add_forum(tags=["share"])
    await adapter.send(str(free.id), Alert("k1", Message(kind="entered", title="x"), {"kind": "entered"}))
    await adapter.send(str(free.id), Alert("k2", Message(kind="left", title="y"), {"kind": "left"}))
    assert [tag["name"] for tag in free.tags] == ["share", "entered", "left"]  # added, none lost
    assert [fake.tag_names(free.id, post) for post in fake.posts_in(free.id)] == [["entered"], ["left"]]

    strict = fake.add_forum(tags=[], manage_channels=False)
    with caplog.at_level(logging.WARNING, logger="adapters.discord_out"):
        for n in range(2):
            await adapter.send(str(strict.id), Alert(f"s{n}", Message(kind="entered", title=f"t{n}"),
                                                     {"kind": "entered"}))
    assert [post.applied_tags for post in fake.posts_in(strict.id)] == [[], []]
    said = [r.getMessage() for r in caplog.records if "untagged" in r.getMessage()]
    assert len(said) == 1 and "Manage Channels" in said[0]


async def test_a_long_title_is_cut_to_discord_s_100_characters(fake: FakeDiscord, adapter: DiscordAdapter):
    forum = fake.add_forum(tags=["entered"])
    long = "A very long title " * 10
    posted = await adapter.send(str(forum.id), Alert("k", Message(kind="entered", title=long), {"kind": "entered"}))
    (post,) = fake.posts_in(forum.id)
    assert posted == str(post.id) and len(post.name) == 100 and post.name.endswith("…")


async def test_a_post_whose_answer_was_lost_is_found_and_not_made_twice(fake: FakeDiscord, db: Database,
                                                                        adapter: DiscordAdapter):
    """Creating a post takes no nonce: after a lost answer the retry finds the post it made."""
    forum = fake.add_forum(tags=["entered"])
    here = await subscribe(db, forum)
    fake.drop_next("POST", "/threads")
    first = await deliver(db, adapter, here, entered("org/a"))
    assert first.sent == 0 and first.retried == 1 and len(fake.posts_in(forum.id)) == 1
    again = await deliver_due(db, {"discord": adapter}, clock=lambda: datetime.now(UTC) + timedelta(hours=1))
    assert again.sent == 1
    (post,) = fake.posts_in(forum.id)
    assert await threads.anchor_for(db.conn, here.id, "models", "org/a") == str(post.id)


async def test_a_text_channel_is_posted_to_as_before_with_no_extra_request(fake: FakeDiscord, db: Database,
                                                                           adapter: DiscordAdapter):
    async with db.transaction() as conn:
        here = await upsert_destination(conn, "discord", str(fake.channel_id), ["entered", "left"], "command", T)
    await deliver(db, adapter, here, entered("org/a"))
    await deliver(db, adapter, here, left("org/a"))
    assert len(fake.messages(fake.channel_id)) == 2
    assert fake.requests_to("GET", f"/channels/{fake.channel_id}") == []
    assert await (await db.conn.execute("SELECT COUNT(*) FROM threads")).fetchone() == (0,)


async def text_channel(db: Database, fake: FakeDiscord, mode: str) -> Destination:
    async with db.transaction() as conn:
        found = await upsert_destination(conn, "discord", str(fake.channel_id), ["entered", "new_leader", "left"],
                                         "command", T)
        await threads.set_mode(conn, found.id, mode)
    return found


async def test_in_a_text_channel_with_threads_on_follow_ups_go_to_a_thread_under_the_announcement(
        fake: FakeDiscord, db: Database, adapter: DiscordAdapter):
    here = await text_channel(db, fake, "on")
    await deliver(db, adapter, here, entered("org/a", "org/b"))
    (announcement,) = fake.created_messages(fake.channel_id)
    assert await threads.anchor_for(db.conn, here.id, "models", "org/a") == announcement["id"]
    await deliver(db, adapter, here, left("org/a", "org/b"))
    await deliver(db, adapter, here, NewLeader(taken_at=T + timedelta(hours=7), id="org/a", country="US"))
    thread_id = int(announcement["id"])  # a thread started from a message has the message's id
    assert fake.threads[thread_id].parent_id == fake.channel_id and fake.threads[thread_id].name == "org/a, org/b"
    assert [m["embeds"][0]["title"].split(":")[0] for m in fake.messages(thread_id)] == [
        "2 models left the trending top 50", "New #1 on the Hub's trending list"]
    assert len(fake.messages(fake.channel_id)) == 1  # the follow-ups are in the thread only
    assert len(fake.requests_to("POST", f"/messages/{thread_id}/threads")) == 1  # started once


async def test_in_a_text_channel_a_closed_thread_or_threads_off_sends_follow_ups_to_the_channel(
        fake: FakeDiscord, db: Database, adapter: DiscordAdapter):
    here = await text_channel(db, fake, "on")
    await deliver(db, adapter, here, entered("org/a"))
    await deliver(db, adapter, here, left("org/a"))
    (announcement,) = fake.created_messages(fake.channel_id)
    fake.archive_post(int(announcement["id"]))
    report = await deliver(db, adapter, here, left("org/a"))
    assert report.sent == 1 and report.paused == []
    assert len(fake.messages(fake.channel_id)) == 2  # the channel, not the closed thread, and not lost
    newer = fake.created_messages(fake.channel_id)[1]["id"]
    assert await threads.anchor_for(db.conn, here.id, "models", "org/a") == newer
    async with db.transaction() as conn:
        await threads.set_mode(conn, here.id, "off")
    await deliver(db, adapter, here, left("org/a"))
    assert len(fake.messages(fake.channel_id)) == 3 and int(newer) not in fake.threads


async def test_once_posts_to_a_configured_forum_and_the_next_poll_follows_up_in_the_post(
        fake_hub: FakeHub, tmp_path: Path) -> None:
    """`python -m bot once` end to end: a `[[routes]]` forum channel gets a tagged post per alert, and a model
    that left is told in the post that announced it."""
    async with FakeDiscord() as fake:
        forum = fake.add_forum(tags=["entered", "left"])
        extra = (f'[discord]\nenabled = true\napi_base = "{fake.api_base}"\n\n'
                 f'[[routes]]\nplatform = "discord"\nchannel = "{forum.id}"\nkinds = ["entered", "left"]\n')
        config = write_config(tmp_path / "c.toml", fake_hub, tmp_path / "t.db", extra=extra)
        env = {"DISCORD_TOKEN": "fake-token"}
        for models in (US[:8] + CN[:2], CN[:3] + US[:7], US[:8] + CN[:2]):  # baseline, 1 CN enters, it leaves
            fake_hub.models = ranked(models)
            done = await bot("once", "--config", str(config), env=env)
            assert done.code == 0, done.err
        posts = {post.name: post for post in fake.posts_in(forum.id)}
        entered = posts["Qwen/q2 entered the trending top 10"]
        assert fake.tag_names(forum.id, entered) == ["entered"]
        assert [m["embeds"][0]["title"] for m in fake.messages(entered.id)] == [
            "Qwen/q2 entered the trending top 10", "Qwen/q2 left the trending top 10"]  # told in its post
        left = posts["meta-llama/l7 left the trending top 10"]  # never announced here: a post of its own
        assert fake.tag_names(forum.id, left) == ["left"]
        leader = posts["New #1 on the Hub's trending list: Qwen/q0"]  # new #1 rides with entered
        assert fake.tag_names(forum.id, leader) == ["new #1"]  # a tag the forum lacked, added
        assert "Qwen/q2 left the trending top 10" not in posts


async def test_a_forum_that_requires_tags_gets_another_tag_rather_than_no_post(fake: FakeDiscord,
                                                                               adapter: DiscordAdapter):
    strict = fake.add_forum(tags=["news"], manage_channels=False, require_tag=True)
    await adapter.send(str(strict.id), Alert("k", Message(kind="left", title="x"), {"kind": "left"}))
    (post,) = fake.posts_in(strict.id)
    assert fake.tag_names(strict.id, post) == ["news"]
    bare = fake.add_forum(tags=[], manage_channels=False, require_tag=True)
    with pytest.raises(DestinationGone, match="requires a tag"):
        await adapter.send(str(bare.id), Alert("k2", Message(kind="left", title="y"), {"kind": "left"}))


async def test_a_subscription_inside_a_thread_keeps_its_follow_ups_there_since_threads_do_not_nest(
        fake: FakeDiscord, db: Database, adapter: DiscordAdapter):
    """A subscription of a post itself (a `[[routes]]` entry with its id, or a command in a post whose forum the
    bot cannot read): with threads on, a follow-up cannot start a thread under a message there (Discord refuses
    50024), so it goes to the post itself, not lost."""
    forum = fake.add_forum(tags=["entered"])
    post_id = int(await adapter.send(str(forum.id), Alert("k0", Message(kind="entered", title="home"),
                                                          {"kind": "entered"})) or 0)
    async with db.transaction() as conn:
        here = await upsert_destination(conn, "discord", str(post_id), ["entered", "left"], "command", T)
        await threads.set_mode(conn, here.id, "on")
    await deliver(db, adapter, here, entered("org/a"))
    report = await deliver(db, adapter, here, left("org/a"))
    assert report.sent == 1 and report.rejected == 0 and report.paused == []
    assert [m["embeds"][0]["title"] for m in fake.messages(post_id)] == [
        "home", "org/a entered the trending top 50", "org/a left the trending top 50"]
