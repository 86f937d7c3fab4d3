"""What a Slack channel can take: channels closed to posts, rate limits in a 200 answer.

Through the real slack_sdk against FakeSlack.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.slack_out import SlackAdapter
from bot.app import Trendwatch
from bot.channel_settings import Caller, ChannelSettings
from bot.config import Secrets
from bot.delivery import AlertRejected, DeliveryError, DestinationGone
from bot.messages import Alert, Message
from store import outbox
from tests.fakes.hub import FakeHub
from tests.fakes.slack_api import FakeSlack
from tests.test_digest_flow import DUE, store_week
from tests.test_slack_delivery import settings_for, two_polls
from tests.test_slack_faults import due_now, pending_rows


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as f:
        yield f


async def open_app(fake: FakeSlack, db_path: Path, hub: FakeHub | None = None) -> Trendwatch:
    """A fresh process: a new adapter (nothing in memory) on the same database."""
    app = await Trendwatch.open(settings_for(hub, fake, db_path), Secrets.from_env({}),
                                {"slack": SlackAdapter("xoxb-test", fake.api_url, max_rate_limit_retries=0)})
    assert await app.acquire_lease() is None
    return app


async def digest_once(fake: FakeSlack, db_path: Path) -> Trendwatch:
    await store_week(db_path)
    app = await open_app(fake, db_path)
    assert (await app.digest_due(DUE + timedelta(minutes=1))).created
    return app


async def restart_and_deliver(app: Trendwatch, fake: FakeSlack, db_path: Path) -> None:
    """Stop, start again, and run the delivery pass that follows any backoff."""
    await app.close()
    again = await open_app(fake, db_path)
    try:
        await due_now(again)
        await again.deliver()
        await due_now(again)
        await again.deliver()
    finally:
        await again.close()


def methods(fake: FakeSlack) -> list[str]:
    return [c.method for c in fake.calls]


# ---------------------------------------------------------------- channels that cannot take posts; 200-body rate limits


@pytest.mark.parametrize("error", [
    "restricted_action", "restricted_action_read_only_channel", "restricted_action_thread_only_channel",
    "posting_to_general_channel_denied",
])
async def test_a_channel_closed_to_posts_is_paused_with_the_reason(fake_hub: FakeHub, fake: FakeSlack, db_path: Path,
                                                                   error: str):
    app = await open_app(fake, db_path, fake_hub)
    try:
        await two_polls(app, fake_hub)
        fake.fail_channel("C1", error)
        report = await app.deliver()
        assert report.paused == ["slack:C1"] and report.rejected == 0
        status = await ChannelSettings(app.db, app.settings).status(Caller("slack", "C1", "U1", False))
        assert f"Paused: Slack answered {error}" in status.plain_text()
        assert (await outbox.counts(app.db.conn)) == {"pending": 3}
    finally:
        await app.close()


async def test_rate_limited_in_a_200_answer_is_a_rate_limit_with_its_retry_after(fake: FakeSlack):
    adapter = SlackAdapter("xoxb-test", fake.api_url, max_rate_limit_retries=0)
    fake.error_next("rate_limited", headers={"Retry-After": "7"})
    try:
        with pytest.raises(DeliveryError) as caught:
            await adapter.send("C1", Alert("k1", Message(kind="info", title="hello")))
    finally:
        await adapter.close()
    assert not isinstance(caught.value, (AlertRejected, DestinationGone))
    assert caught.value.retry_after == 7
    assert fake.posts() == []


async def test_rate_limited_in_a_200_answer_is_waited_out_and_posted_once(fake: FakeSlack):
    adapter = SlackAdapter("xoxb-test", fake.api_url)
    fake.error_next("rate_limited", headers={"Retry-After": "1"})
    try:
        started = time.monotonic()
        await adapter.send("C1", Alert("k1", Message(kind="info", title="hello")))
        waited = time.monotonic() - started
    finally:
        await adapter.close()
    assert [c.response.get("ok") for c in fake.calls_to("chat.postMessage")] == [False, True]
    assert 1.0 <= waited < 2.0
    assert [p["text"] for p in fake.posts("C1")] == ["hello"]


async def test_rate_limited_in_a_200_answer_pauses_nothing_and_keeps_the_alert(
    fake_hub: FakeHub, fake: FakeSlack, db_path: Path
):
    app = await open_app(fake, db_path, fake_hub)
    try:
        await two_polls(app, fake_hub)
        fake.error_next("rate_limited", headers={"Retry-After": "90"})
        report = await app.deliver()
        assert (report.sent, report.paused, report.rejected, report.retried) == (0, [], 0, 1)
        assert (await outbox.counts(app.db.conn)) == {"pending": 3}
        [(next_attempt, error), *_] = await pending_rows(app)
        assert datetime.fromisoformat(next_attempt.replace("Z", "+00:00")) > datetime.now(UTC) + timedelta(seconds=85)
        assert error is not None and "rate limited" in error
    finally:
        await app.close()
