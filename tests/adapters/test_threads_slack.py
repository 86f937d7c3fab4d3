"""Slack threads through the real slack_sdk against FakeSlack: follow-ups reply where the model was announced.

Delivery (bot/delivery/drain.py) records the `ts` of an `entered` message as its models' anchor in the
transaction that marks it delivered; a `left` message about those models then replies with `thread_ts`
(and `reply_broadcast` when the subscription says `broadcast`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.slack_out import SlackAdapter
from bot.delivery.drain import deliver_due
from bot.domain.destination import Destination
from bot.domain.events import Entered, EnteredModel, Event, Left, LeftModel
from store import outbox, threads
from store.db import Database, open_database
from store.destinations import upsert_destination
from tests.fakes.slack_api import FakeSlack
from tests.support.stores import store_env, store_of

T = datetime(2026, 5, 1, 12, tzinfo=UTC)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as f:
        yield f


def entered(*ids: str, test: bool = False) -> Entered:
    return Entered(taken_at=T, top_n=50, test=test,
                   models=tuple(EnteredModel(id=i, rank=40 + n, country="US") for n, i in enumerate(ids)))


def left(*ids: str) -> Left:
    return Left(taken_at=T + timedelta(hours=6), top_n=50, models=tuple(
        LeftModel(id=i, rank=None, previous_rank=50, country="US", in_top_since=T, last_in_top=T) for i in ids))


async def subscribed(db: Database, mode: str, channel: str = "C1") -> Destination:
    async with db.transaction() as conn:
        found = await upsert_destination(conn, "slack", channel, ["entered", "new_leader", "left"], "command", T)
        await threads.set_mode(conn, found.id, mode)
    return found


async def deliver(db: Database, fake: FakeSlack, destination: Destination, event: Event) -> None:
    async with db.transaction() as conn:
        await outbox.add_event(conn, event, None, [destination.id], T)
    adapter = SlackAdapter("xoxb-test", fake.api_url, channel_interval=0.01)
    try:
        report = await deliver_due(db, {"slack": adapter}, clock=lambda: datetime.now(UTC))
    finally:
        await adapter.close()
    assert report.sent == 1 and report.retried == 0


@pytest.mark.parametrize("mode", ["on", "broadcast"])
async def test_a_model_that_left_is_told_in_the_thread_of_the_message_that_announced_it(
        fake: FakeSlack, db_path: Path, mode: str):
    db = await open_database(store_of(db_path))
    try:
        here = await subscribed(db, mode)
        await deliver(db, fake, here, entered("org/a", "org/b"))
        (announced,) = fake.answered_ts("C1")
        assert await threads.anchor_for(db.conn, here.id, "models", "org/b") == announced
        await deliver(db, fake, here, left("org/a", "org/b"))
        posts = fake.posts("C1")
        assert len(posts) == 2 and "thread_ts" not in posts[0]
        assert posts[1]["thread_ts"] == announced
        assert bool(posts[1].get("reply_broadcast")) is (mode == "broadcast")
        answered = fake.calls_to("chat.postMessage")[-1].response["message"]
        assert answered["thread_ts"] == announced
        assert (answered.get("subtype") == "thread_broadcast") is (mode == "broadcast")
        # The reply is in the thread; only a broadcast reply shows in the channel's history too.
        history = await fake_history(fake, "C1")
        assert len(history) == (2 if mode == "broadcast" else 1)
    finally:
        await db.close()


async def fake_history(fake: FakeSlack, channel: str) -> list[dict[str, object]]:
    from slack_sdk.web.async_client import AsyncWebClient
    fake.add_scope("channels:history")
    answer = await AsyncWebClient(token="xoxb-test", base_url=fake.api_url).conversations_history(channel=channel)
    return list(answer["messages"])


async def test_with_threads_off_follow_ups_stay_in_the_channel_and_nothing_is_recorded(fake: FakeSlack,
                                                                                       db_path: Path):
    db = await open_database(store_of(db_path))
    try:
        here = await subscribed(db, "off")
        await deliver(db, fake, here, entered("org/a"))
        await deliver(db, fake, here, left("org/a"))
        assert [post.get("thread_ts") for post in fake.posts("C1")] == [None, None]
        assert await (await db.conn.execute("SELECT COUNT(*) FROM threads")).fetchone() == (0,)
    finally:
        await db.close()


async def test_a_grouped_follow_up_whose_models_were_announced_apart_goes_to_the_channel(fake: FakeSlack,
                                                                                         db_path: Path):
    db = await open_database(store_of(db_path))
    try:
        here = await subscribed(db, "on")
        await deliver(db, fake, here, entered("org/a"))
        await deliver(db, fake, here, entered("org/b"))
        await deliver(db, fake, here, left("org/a", "org/b"))  # two threads: one message, in the channel
        await deliver(db, fake, here, left("org/a"))  # one model, one thread: a reply
        first, _, _ = fake.answered_ts("C1")[:3]
        assert [post.get("thread_ts") for post in fake.posts("C1")] == [None, None, None, first]
    finally:
        await db.close()


async def test_a_test_sample_never_becomes_an_anchor(fake: FakeSlack, db_path: Path):
    db = await open_database(store_of(db_path))
    try:
        here = await subscribed(db, "on")
        await deliver(db, fake, here, entered("org/a", test=True))
        await deliver(db, fake, here, left("org/a"))
        assert [post.get("thread_ts") for post in fake.posts("C1")] == [None, None]
        assert await threads.anchor_for(db.conn, here.id, "models", "org/a") is None
    finally:
        await db.close()


async def test_an_unanswered_reply_is_looked_for_in_its_thread_and_not_posted_twice(fake: FakeSlack, db_path: Path):
    """A reply is not in conversations.history: the check after a lost answer reads the thread instead."""
    fake.add_scope("channels:history")
    db = await open_database(store_of(db_path))
    try:
        here = await subscribed(db, "on")
        await deliver(db, fake, here, entered("org/a"))
        async with db.transaction() as conn:
            await outbox.add_event(conn, left("org/a"), None, [here.id], T)
        fake.drop_next("chat.postMessage")  # posted, but the answer is lost
        adapter = SlackAdapter("xoxb-test", fake.api_url, channel_interval=0.01)
        try:
            first = await deliver_due(db, {"slack": adapter}, clock=lambda: datetime.now(UTC),
                                      max_backoff=timedelta(0))
            assert first.sent == 0 and first.retried == 1
            second = await deliver_due(db, {"slack": adapter}, clock=lambda: datetime.now(UTC) + timedelta(hours=1))
        finally:
            await adapter.close()
        assert second.sent == 1
        assert len(fake.posts("C1")) == 2 and len(fake.calls_to("conversations.replies")) == 1
    finally:
        await db.close()


async def test_a_configured_route_says_threads_in_the_config(fake: FakeSlack, db_path: Path):
    from bot.app import Trendwatch
    from bot.config import ConfigError, Secrets, parse_settings
    from store.destinations import get_destination

    def config(threads: str) -> dict[str, object]:
        return {"store": {"path": str(db_path)}, "console": {"enabled": False},
                "slack": {"enabled": True, "api_url": fake.api_url},
                "routes": [{"platform": "slack", "channel": "C9", "kinds": ["entered", "left"], "threads": threads}]}

    with pytest.raises(ConfigError, match="threads"):
        parse_settings(config("sometimes"), env={})
    for wanted in ("broadcast", "off"):
        app = await Trendwatch.open(parse_settings(config(wanted), env=store_env()), Secrets.from_env({}),
                                    {"slack": SlackAdapter("xoxb-test", fake.api_url)})
        try:
            found = await get_destination(app.db.conn, "slack", "C9")
            assert found is not None and found.threads == wanted
        finally:
            await app.close()


async def test_a_follow_up_whose_announcement_was_deleted_goes_to_the_channel_and_anchors_what_follows(
        fake: FakeSlack, db_path: Path):
    db = await open_database(store_of(db_path))
    try:
        here = await subscribed(db, "on")
        await deliver(db, fake, here, entered("org/a"))
        (announced,) = fake.answered_ts("C1")
        fake.delete_message("C1", announced)
        await deliver(db, fake, here, left("org/a"))  # Slack answers thread_not_found: never lost
        assert [post.get("thread_ts") for post in fake.posts("C1")] == [None, None]
        newer = fake.answered_ts("C1")[1]
        assert await threads.anchor_for(db.conn, here.id, "models", "org/a") == newer
        await deliver(db, fake, here, left("org/a"))
        assert fake.posts("C1")[2]["thread_ts"] == newer
    finally:
        await db.close()


async def test_once_with_a_route_that_threads_replies_in_the_announcing_message(fake: FakeSlack, tmp_path: Path):
    """`python -m bot once` end to end: a `[[routes]] threads = "broadcast"` channel gets a model's leaving as a
    reply to the message that announced it, also shown in the channel."""
    from tests.fakes.hub import FakeHub, ranked
    from tests.support.app import CN, US
    from tests.support.cli import bot, write_config
    from tests.support.slack import SLACK_ENV

    async with FakeHub() as hub:
        config = write_config(tmp_path / "c.toml", hub, tmp_path / "t.db", extra=(
            f'[slack]\nenabled = true\napi_url = "{fake.api_url}"\n\n'
            '[[routes]]\nplatform = "slack"\nchannel = "C42"\nkinds = ["entered", "left"]\nthreads = "broadcast"\n'))
        for models in (US[:8] + CN[:2], CN[:3] + US[:7], US[:8] + CN[:2]):  # baseline, q2 enters, q2 leaves
            hub.models = ranked(models)
            done = await bot("once", "--config", str(config), env=SLACK_ENV)
            assert done.code == 0, done.err
    texts = {post["blocks"][0]["text"]["text"]: post for post in fake.posts("C42")}
    announced = fake.answered_ts("C42")[list(texts).index("Qwen/q2 entered the trending top 10")]
    reply = texts["Qwen/q2 left the trending top 10"]
    assert reply["thread_ts"] == announced and reply["reply_broadcast"] is True
    assert "thread_ts" not in texts["meta-llama/l7 left the trending top 10"]  # never announced here
