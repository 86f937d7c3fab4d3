"""Slack faults that used to stall or repeat: long Retry-After, slow answers, missing scopes, channel 429s."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.slack_out import SlackAdapter
from bot.app import Trendwatch
from bot.config import Secrets
from bot.domain.messages import Alert, Message
from store import outbox
from tests.fakes.hub import FakeHub, ranked
from tests.fakes.slack_api import FakeSlack
from tests.support.cli import bot, write_config
from tests.support.slack import CN, SLACK_ENV, US, due_now, pending_rows, settings_for, two_polls


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as f:
        yield f


async def open_with(settings_hub: FakeHub, fake: FakeSlack, db_path: Path, adapter: SlackAdapter,
                    channels: tuple[str, ...] = ("C1",)) -> Trendwatch:
    app = await Trendwatch.open(settings_for(settings_hub, fake, db_path, channels=channels), Secrets.from_env({}),
                                {"slack": adapter})
    assert await app.acquire_lease() is None
    return app


# ---------------------------------------------------------------- item 5: long waits never hold anything


async def test_once_does_not_sit_through_a_100_s_retry_after(fake_hub: FakeHub, fake: FakeSlack, tmp_path: Path):
    db = tmp_path / "t.db"
    config = write_config(tmp_path / "c.toml", fake_hub, db, extra=(
        f'[slack]\nenabled = true\napi_url = "{fake.api_url}"\n\n[[routes]]\nplatform = "slack"\nchannel = "C1"\n'))
    fake_hub.models = ranked(US)
    assert (await bot("once", "--config", str(config), env=SLACK_ENV)).code == 0
    fake_hub.models = ranked(US[:8] + CN[:2])
    fake.rate_limit_next("chat.postMessage", retry_after=100)
    started = time.monotonic()
    run = await bot("once", "--config", str(config), env=SLACK_ENV)
    assert run.code == 0, run.err
    assert time.monotonic() - started < 20
    assert fake.posts("C1") == []
    assert "stay queued for the next run" in run.err
    import sqlite3

    with sqlite3.connect(db) as conn:
        [(next_attempt,)] = conn.execute("SELECT next_attempt_at FROM outbox WHERE status = 'pending'").fetchall()
    assert (datetime.fromisoformat(next_attempt.replace("Z", "+00:00")) - datetime.now(UTC)).total_seconds() > 80


async def test_a_workspace_hold_beyond_the_cap_requeues_instead_of_waiting(fake_hub: FakeHub, fake: FakeSlack,
                                                                         db_path: Path):
    adapter = SlackAdapter("xoxb-test", fake.api_url)
    app = await open_with(fake_hub, fake, db_path, adapter, channels=("C1", "C2"))
    try:
        await two_polls(app, fake_hub)
        adapter.gate.hold(300)  # a workspace-wide 429 asked for 5 minutes
        started = time.monotonic()
        report = await app.deliver()
        assert time.monotonic() - started < 5
        assert (report.sent, report.retried) == (0, 2)
        assert all(next_attempt > "2001" for next_attempt, _ in await pending_rows(app))
    finally:
        await app.close()


async def test_polling_does_not_wait_for_a_slow_delivery(fake_hub: FakeHub, fake: FakeSlack, db_path: Path):
    app = await open_with(fake_hub, fake, db_path, SlackAdapter("xoxb-test", fake.api_url))
    try:
        await two_polls(app, fake_hub)
        fake.delay(3)
        delivering = asyncio.create_task(app.deliver())
        await fake.wait_until(lambda: bool(fake.calls_to("chat.postMessage")))
        started = time.monotonic()
        fake_hub.models = ranked(CN[:7] + US[:3])
        await app.poll()
        assert time.monotonic() - started < 2  # the poll went on while the post waited for its answer
        assert not delivering.done()
        fake.delay(0)
        await delivering
    finally:
        await app.close()


async def test_a_channel_429_holds_that_channel_only(fake: FakeSlack):
    adapter = SlackAdapter("xoxb-test", fake.api_url, channel_interval=0)
    fake.rate_limit_next("chat.postMessage", retry_after=2)
    try:
        limited = asyncio.create_task(adapter.send("C1", Alert("k1", Message(kind="info", title="one"))))
        await fake.wait_until(lambda: fake.rejected_429 == 1)
        started = time.monotonic()
        await adapter.send("C2", Alert("k2", Message(kind="info", title="two")))
        assert time.monotonic() - started < 1  # not held by C1's Retry-After
        await limited
        assert adapter.gate.until < time.monotonic()  # the workspace was never held
    finally:
        await adapter.close()
    assert [p["text"] for p in fake.posts("C1")] == ["one"]


async def test_429s_in_two_channels_at_once_hold_the_workspace(fake: FakeSlack):
    adapter = SlackAdapter("xoxb-test", fake.api_url, channel_interval=0)
    fake.rate_limit_next("chat.postMessage", retry_after=2, count=2)
    try:
        sends = [asyncio.create_task(adapter.send(c, Alert(f"k{c}", Message(kind="info", title=c))))
                 for c in ("C1", "C2")]
        await fake.wait_until(lambda: fake.rejected_429 == 2)
        assert adapter.gate.until > time.monotonic()
        assert adapter.workspace.rate is None  # once may be two channels' bad luck: no pace learned yet
        started = time.monotonic()
        await adapter.send("C3", Alert("k3", Message(kind="info", title="C3")))
        assert time.monotonic() - started > 1  # a third channel waits for the workspace too
        await asyncio.gather(*sends)
    finally:
        await adapter.close()
    assert len(fake.posts()) == 3


# ---------------------------------------------------------------- item 6: unknown outcomes are not blindly repeated


async def test_a_post_slower_than_the_timeout_is_posted_at_most_twice_without_history_scope(
    fake_hub: FakeHub, fake: FakeSlack, db_path: Path, caplog: pytest.LogCaptureFixture
):
    app = await open_with(fake_hub, fake, db_path, SlackAdapter("xoxb-test", fake.api_url, timeout=1),
                          channels=("C1", "C2"))
    try:
        await two_polls(app, fake_hub)
        fake.delay(1.5, "chat.postMessage")  # every post lands, every answer comes too late
        for _ in range(8):
            await app.deliver()
            await due_now(app)
        fake.delay(0)
        while (await outbox.counts(app.db.conn)).get("pending"):
            await app.deliver()
            await due_now(app)
    finally:
        await app.close()
    for channel in ("C1", "C2"):
        copies = Counter(p["metadata"]["event_payload"]["key"] for p in fake.posts(channel))
        assert len(copies) == 3 and set(copies.values()) == {2}, copies  # each posted, none a third time
    assert "posts once more" in caplog.text
    assert "not posting it a third time" in caplog.text


async def test_with_history_scope_an_unanswered_post_is_found_and_not_repeated(
    fake_hub: FakeHub, fake: FakeSlack, db_path: Path
):
    fake.add_scope("channels:history")
    app = await open_with(fake_hub, fake, db_path, SlackAdapter("xoxb-test", fake.api_url, timeout=1))
    try:
        await two_polls(app, fake_hub)
        fake.delay(1.5, "chat.postMessage")
        report = await app.deliver()
        assert report.sent == 0 and report.retried == 1
        async with app.db.conn.execute("SELECT unconfirmed FROM outbox WHERE status = 'pending' ORDER BY id") as cur:
            assert [row[0] for row in await cur.fetchall()] == [1, 0, 0]  # one post may be out; the rest wait
        fake.delay(0)
        await due_now(app)
        assert (await app.deliver()).sent == 3
    finally:
        await app.close()
    keys = [p["metadata"]["event_payload"]["key"] for p in fake.posts("C1")]
    assert len(keys) == 3 == len(set(keys))
    assert len(fake.calls_to("conversations.history")) == 1


async def test_a_post_marked_before_a_crash_is_checked_after_the_restart(
    fake_hub: FakeHub, fake: FakeSlack, db_path: Path
):
    """The process died between posting and marking: the next start finds the marker and looks first."""
    fake.add_scope("channels:history")
    app = await open_with(fake_hub, fake, db_path, SlackAdapter("xoxb-test", fake.api_url))
    try:
        await two_polls(app, fake_hub)
        adapter = app.adapters["slack"]
        async with app.db.transaction() as conn:
            [item, *_] = await outbox.due_items(conn, datetime.now(UTC), ["slack"])
            await outbox.mark_sending(conn, item.id, datetime.now(UTC))
        from bot.delivery.drain import alert_for

        await adapter.send("C1", alert_for(item))  # it went out; then the crash, before mark_delivered
        assert (await app.deliver()).sent == 3
    finally:
        await app.close()
    keys = [p["metadata"]["event_payload"]["key"] for p in fake.posts("C1")]
    assert len(keys) == 3 == len(set(keys))


async def test_a_dropped_connection_after_the_post_is_not_resent_blindly(fake: FakeSlack):
    adapter = SlackAdapter("xoxb-test", fake.api_url)
    fake.drop_next("chat.postMessage")
    from bot.delivery.adapter import OutcomeUnknown

    try:
        with pytest.raises(OutcomeUnknown):
            await adapter.send("C1", Alert("k1", Message(kind="info", title="hello")))
    finally:
        await adapter.close()
    assert len(fake.posts("C1")) == 1  # slack_sdk did not post it again on its own


# ---------------------------------------------------------------- item 7: missing_scope is a token problem


async def test_missing_scope_pauses_nothing_keeps_alerts_and_names_the_scope(
    fake_hub: FakeHub, fake: FakeSlack, db_path: Path, caplog: pytest.LogCaptureFixture
):
    app = await open_with(fake_hub, fake, db_path, SlackAdapter("xoxb-test", fake.api_url), channels=("C1", "C2"))
    try:
        await two_polls(app, fake_hub)
        fake.remove_scope("chat:write")
        with caplog.at_level(logging.ERROR):
            report = await app.deliver()
        assert report.paused == [] and report.sent == 0
        assert "chat:write" in report.refused["slack"]
        assert (await outbox.counts(app.db.conn)) == {"pending": 6}
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "missing_scope" in errors[0] and "chat:write" in errors[0], errors

        fake.add_scope("chat:write")  # the operator added the scope and reinstalled the app
        await due_now(app)
        assert (await app.deliver()).sent == 6
    finally:
        await app.close()
    assert len(fake.posts("C1")) == len(fake.posts("C2")) == 3


def test_the_workspace_pace_is_learned_from_a_workspace_429() -> None:
    from adapters.slack_out import WorkspacePace

    assert WorkspacePace().rate is None  # no pacing until the workspace says wait
    now = [100.0]
    pace = WorkspacePace(clock=lambda: now[0])
    for i in range(300):  # 300 posts accepted within 0.6 s, then "wait 6 s" (Retry-After rounded up)
        now[0] = 100.0 + i * 0.002
        pace.accepted_post()
    now[0] = 100.6
    pace.limited(6)
    learned = pace.rate
    assert learned is not None and 49 < learned < 51  # 300 posts per 6 s
    now[0] += 100
    assert pace.rate == pytest.approx(learned * 1.2)  # creeping back up, 0.2% a second
