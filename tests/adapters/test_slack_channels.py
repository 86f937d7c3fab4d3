"""What a Slack channel can take: charts where the bot is not a member, channels closed to posts, 200-body rate limits.

Through the real slack_sdk against FakeSlack, which answers as Slack does: a bot with
`chat:write.public` may post to a public channel it is not in, but sharing a file there answers
`not_in_channel`; `conversations.join` lets it in (scope `channels:join`), never into a private one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.slack_out import SlackAdapter
from bot.app import Trendwatch
from bot.commands.caller import Caller
from bot.commands.channel_settings import ChannelSettings
from bot.config import Secrets
from bot.delivery.adapter import AlertRejected, DeliveryError, DestinationGone
from bot.domain.messages import Alert, Message
from store import outbox
from tests.fakes.hub import FakeHub
from tests.fakes.slack_api import FakeSlack
from tests.support.digest import DUE, store_week
from tests.support.slack import due_now, pending_rows, settings_for, two_polls


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


# ---------------------------------------------------------------- charts in channels the bot was never invited to


async def test_a_digest_to_a_public_channel_the_bot_is_not_in_joins_it_and_attaches_the_chart(
    fake: FakeSlack, db_path: Path
):
    fake.add_channel("C1", member=False)
    app = await digest_once(fake, db_path)
    try:
        report = await app.deliver()
        assert (report.sent, report.paused, report.retried) == (1, [], 0)
    finally:
        await app.close()
    assert len(fake.posts("C1")) == 1
    [upload] = fake.uploads
    assert upload.channel_id == "C1"
    assert methods(fake).index("conversations.join") < methods(fake).index("chat.postMessage")


@pytest.mark.parametrize(("refusal", "said"), [
    ("missing_scope", "channels:join"),
    ("too_many_members", "too_many_members"),
])
async def test_where_joining_is_refused_the_digest_goes_once_without_its_chart_saying_why(
    fake: FakeSlack, db_path: Path, refusal: str, said: str, caplog: pytest.LogCaptureFixture
):
    fake.add_channel("C1", member=False)
    if refusal == "missing_scope":
        fake.remove_scope("channels:join")
    else:
        fake.error_next(refusal, method="conversations.join")
    app = await digest_once(fake, db_path)
    with caplog.at_level(logging.WARNING):
        report = await app.deliver()
    assert (report.sent, report.paused, report.retried) == (1, [], 0)
    await restart_and_deliver(app, fake, db_path)
    [post] = fake.posts("C1")
    assert "Chart not attached" in post["text"] and said in post["text"]
    assert "Chart not attached" in str(post["blocks"])
    assert fake.uploads == [] and not fake.calls_to("files.completeUploadExternal")
    warned = [r for r in caplog.records if "chart" in r.getMessage()]
    assert len(warned) == 1 and not any(r.exc_info for r in caplog.records)


async def test_a_private_channel_the_bot_was_invited_to_gets_its_chart(fake: FakeSlack, db_path: Path):
    """Joining a private channel is refused (method_not_supported_for_channel_type), but posting there at
    all means the bot is a member: the chart is shared as before."""
    fake.add_channel("C1", private=True, member=True)
    app = await digest_once(fake, db_path)
    try:
        assert (await app.deliver()).sent == 1
    finally:
        await app.close()
    assert [c.response.get("error") for c in fake.calls_to("conversations.join")] == [
        "method_not_supported_for_channel_type"]
    [post] = fake.posts("C1")
    assert "Chart not attached" not in post["text"]
    assert [u.channel_id for u in fake.uploads] == ["C1"]


@pytest.mark.parametrize("error", ["not_in_channel", "invalid_channel", "posting_to_channel_denied", "no_permission"])
async def test_a_chart_slack_will_not_share_is_dropped_once_never_pausing_or_reposting(
    fake: FakeSlack, db_path: Path, error: str, caplog: pytest.LogCaptureFixture
):
    fake.error_next(error, method="files.completeUploadExternal")
    app = await digest_once(fake, db_path)
    with caplog.at_level(logging.WARNING):
        report = await app.deliver()
        assert (report.sent, report.paused, report.retried) == (1, [], 0)
        assert (await outbox.counts(app.db.conn)) == {"delivered": 1}
    await restart_and_deliver(app, fake, db_path)
    assert len(fake.posts("C1")) == 1 and fake.uploads == []
    warned = [r for r in caplog.records if error in r.getMessage()]
    assert len(warned) == 1 and "chart" in warned[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)


# ---------------------------------------------------------------- a chart that failed is not a reason to repost


async def test_after_a_restart_only_the_chart_is_retried_where_history_shows_the_post(fake: FakeSlack, db_path: Path):
    fake.add_scope("channels:history")
    fake.server_error_next(method="files.completeUploadExternal", status=503)
    app = await digest_once(fake, db_path)
    report = await app.deliver()
    assert (report.sent, report.retried, report.paused) == (0, 1, [])
    await restart_and_deliver(app, fake, db_path)  # the process ended before the retry
    assert len(fake.posts("C1")) == 1
    assert [u.channel_id for u in fake.uploads] == ["C1"]


async def test_without_history_a_failed_chart_is_dropped_at_once_and_never_reposted(
    fake: FakeSlack, db_path: Path, caplog: pytest.LogCaptureFixture
):
    fake.server_error_next(method="files.completeUploadExternal", status=503)
    app = await digest_once(fake, db_path)
    with caplog.at_level(logging.WARNING):
        report = await app.deliver()
    assert (report.sent, report.retried, report.paused) == (1, 0, [])
    await restart_and_deliver(app, fake, db_path)
    assert len(fake.posts("C1")) == 1 and fake.uploads == []
    dropped = [r for r in caplog.records if "chart" in r.getMessage()]
    assert len(dropped) == 1 and "channels:history" in dropped[0].getMessage()


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


async def test_a_chart_that_keeps_failing_is_dropped_after_three_uploads(fake: FakeSlack, db_path: Path,
                                                                         caplog: pytest.LogCaptureFixture):
    """A chart retried alone must not hold the channel's later alerts for ever."""
    fake.add_scope("channels:history")
    fake.server_error_next(count=10, method="files.completeUploadExternal", status=503)
    app = await digest_once(fake, db_path)
    try:
        with caplog.at_level(logging.WARNING):
            for _ in range(5):
                await due_now(app)
                await app.deliver()
        assert (await outbox.counts(app.db.conn)) == {"delivered": 1}
    finally:
        await app.close()
    assert len(fake.posts("C1")) == 1 and fake.uploads == []
    assert len(fake.calls_to("files.completeUploadExternal")) == 3
    assert len([r for r in caplog.records if "without it" in r.getMessage()]) == 1
