"""Alerts to Slack through the real slack_sdk against FakeSlack: routes, `once`, 429, pausing, charts."""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.console import ConsoleAdapter
from adapters.slack_out import SlackAdapter
from bot.app import Trendwatch
from bot.commands.caller import Caller
from bot.commands.channel_settings import ChannelSettings
from bot.config import Secrets, Settings
from bot.delivery.adapter import DeliveryError
from bot.domain.messages import Alert, Image, Message
from store import outbox
from tests.fakes.hub import FakeHub, ranked
from tests.fakes.slack_api import FakeSlack
from tests.support.cli import bot, write_config
from tests.support.digest import DUE, store_week
from tests.support.slack import CN, SLACK_ENV, US, settings_for, two_polls


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as f:
        yield f


async def open_app(settings: Settings) -> Trendwatch:
    """The app as `run`/`once` build it: adapters from the config and SLACK_BOT_TOKEN."""
    app = await Trendwatch.open(settings, Secrets.from_env(SLACK_ENV))
    assert isinstance(app.adapters["slack"], SlackAdapter)
    assert await app.acquire_lease() is None
    return app


async def test_a_routed_channel_gets_blocks_text_and_the_alert_key(fake_hub: FakeHub, fake: FakeSlack, db_path: Path):
    app = await open_app(settings_for(fake_hub, fake, db_path))
    try:
        await two_polls(app, fake_hub)
        report = await app.deliver()
    finally:
        await app.close()
    assert report.sent == 3 and report.retried == 0
    posts = fake.posts("C1")
    titles = [p["blocks"][0]["text"]["text"] for p in posts]
    assert titles[0] == "2 models entered the trending top 10"
    assert titles[1].startswith("New #1 on the Hub's trending list: Qwen/q0")
    assert "share of the trending top 10 reached 60%" in titles[2]
    entered = posts[0]
    assert entered["text"].startswith("2 models entered the trending top 10\n#")
    assert "*<https://huggingface.co/Qwen/q4|Qwen/q4>*" in entered["blocks"][1]["text"]["text"]
    assert entered["blocks"][-1]["type"] == "context"
    assert entered["unfurl_links"] is False
    assert entered["metadata"]["event_type"] == "trendwatch_alert"
    assert len({p["metadata"]["event_payload"]["key"] for p in posts}) == 3
    assert {c.token for c in fake.calls} == {"xoxb-test"}


async def test_python_m_bot_once_posts_through_the_web_api_alone(fake_hub: FakeHub, fake: FakeSlack, tmp_path: Path):
    db = tmp_path / "t.db"
    config = write_config(tmp_path / "c.toml", fake_hub, db, extra=(
        f'[slack]\nenabled = true\napi_url = "{fake.api_url}"\n\n'
        '[[routes]]\nplatform = "slack"\nchannel = "C42"\n'))
    fake_hub.models = ranked(US)
    assert (await bot("once", "--config", str(config), env=SLACK_ENV)).code == 0
    fake_hub.models = ranked(US[:8] + CN[:2])
    run = await bot("once", "--config", str(config), env=SLACK_ENV)
    assert run.code == 0, run.err
    assert [p["blocks"][0]["text"]["text"] for p in fake.posts("C42")] == ["2 models entered the trending top 10"]
    assert fake.calls_to("apps.connections.open") == []  # no Socket Mode for `once`


async def test_enabled_without_a_token_is_skipped_with_a_warning(fake: FakeSlack, db_path: Path,
                                                                 caplog: pytest.LogCaptureFixture):
    app = await Trendwatch.open(settings_for(None, fake, db_path), Secrets.from_env({}))
    try:
        assert "slack" not in app.adapters
    finally:
        await app.close()
    assert "SLACK_BOT_TOKEN is not set" in caplog.text


async def test_429_retry_after_is_honoured_and_the_alert_sent_exactly_once(fake: FakeSlack):
    adapter = SlackAdapter("xoxb-test", fake.api_url)
    fake.rate_limit_next("chat.postMessage", retry_after=1, count=2)
    try:
        started = time.monotonic()
        await adapter.send("C1", Alert("k1", Message(kind="info", title="hello")))
        waited = time.monotonic() - started
    finally:
        await adapter.close()
    assert [c.status for c in fake.calls_to("chat.postMessage")] == [429, 429, 200]
    assert 2.0 <= waited < 3.0  # Retry-After 1 s, twice, with no random padding
    assert [p["text"] for p in fake.posts("C1")] == ["hello"]


async def test_429_beyond_patience_becomes_a_retry_with_retry_after(fake: FakeSlack):
    adapter = SlackAdapter("xoxb-test", fake.api_url, max_rate_limit_retries=0)
    fake.rate_limit_next("chat.postMessage", retry_after=7)
    try:
        with pytest.raises(DeliveryError) as caught:
            await adapter.send("C1", Alert("k1", Message(kind="info", title="hello")))
    finally:
        await adapter.close()
    assert caught.value.retry_after == 7
    assert fake.posts() == []


async def test_5xx_is_retried_later_not_paused(fake_hub: FakeHub, fake: FakeSlack, db_path: Path):
    app = await open_app(settings_for(fake_hub, fake, db_path))
    try:
        await two_polls(app, fake_hub)
        fake.server_error_next(count=1, status=503)
        report = await app.deliver()
        assert (report.sent, report.retried, report.paused) == (0, 1, [])
        assert (await outbox.counts(app.db.conn)) == {"pending": 3}
    finally:
        await app.close()


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "is_archived"])
async def test_a_refusing_channel_is_paused_with_the_reason(fake_hub: FakeHub, fake: FakeSlack, db_path: Path,
                                                            error: str):
    app = await open_app(settings_for(fake_hub, fake, db_path, channels=("CGONE", "C1")))
    try:
        await two_polls(app, fake_hub)
        fake.fail_channel("CGONE", error)
        report = await app.deliver()
        assert report.paused == ["slack:CGONE"]
        status = await ChannelSettings(app.db, app.settings).status(Caller("slack", "CGONE", "U1", False))
        assert f"⏸ Paused: Slack answered {error}" in status.plain_text()
        fake.heal_channel("CGONE")
        await app.deliver()  # paused: nothing more is tried there
    finally:
        await app.close()
    assert fake.posts("CGONE") == []
    tried = [c for c in fake.calls_to("chat.postMessage") if c.params.get("channel") == "CGONE"]
    assert len(tried) == 1
    assert len(fake.posts("C1")) == 3


async def test_a_revoked_token_pauses_no_channel_and_keeps_every_alert(fake_hub: FakeHub, fake: FakeSlack,
                                                                       db_path: Path):
    channels = ("C1", "C2", "C3")
    app = await open_app(settings_for(fake_hub, fake, db_path, channels=channels, delivery={"concurrency": 1}))
    try:
        await two_polls(app, fake_hub)
        fake.fail_auth("token_revoked")
        report = await app.deliver()
        assert report.paused == [] and report.sent == 0
        assert report.refused == {"slack": "Slack answered token_revoked"}
        assert len(fake.calls_to("chat.postMessage")) == 1  # one refusal speaks for every channel
        assert (await outbox.counts(app.db.conn)) == {"pending": 9}

        fake.heal_auth()  # the operator put a working token in place
        await app.db.conn.execute("UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00.000000Z'")
        assert (await app.deliver()).sent == 9
    finally:
        await app.close()
    assert all(len(fake.posts(channel)) == 3 for channel in channels)


async def test_a_message_slack_rejects_is_set_aside_without_pausing_the_channel(
    fake_hub: FakeHub, fake: FakeSlack, db_path: Path
):
    app = await open_app(settings_for(fake_hub, fake, db_path, channels=("C1",)))
    try:
        await two_polls(app, fake_hub)
        fake.fail_channel("C1", "msg_too_long")
        report = await app.deliver()
        assert (report.sent, report.rejected, report.paused) == (0, 3, [])
        fake.heal_channel("C1")
        fake_hub.models = ranked(CN[:7] + US[:3])
        await app.poll()
        assert (await app.deliver()).sent == 1  # not paused: the next alert (Qwen/q6 entered) arrives
        assert (await outbox.counts(app.db.conn)).get("pending", 0) == 0
    finally:
        await app.close()
    posts = fake.posts("C1")
    assert len(posts) == 1 and "Qwen/q6" in posts[0]["text"], posts


async def test_the_weekly_digest_chart_goes_through_files_upload_v2(fake: FakeSlack, db_path: Path):
    await store_week(db_path)
    app = await open_app(settings_for(None, fake, db_path))
    try:
        assert (await app.digest_due(DUE + timedelta(minutes=1))).created
        assert (await app.deliver()).sent == 1
    finally:
        await app.close()
    [post] = fake.posts("C1")
    assert "2025-W30" in post["blocks"][0]["text"]["text"]
    [upload] = fake.uploads
    assert upload.channel_id == "C1" and upload.filename == "trendwatch-2025-W30.png"
    assert upload.content is not None and upload.content.startswith(b"\x89PNG")
    assert upload.title and upload.alt_txt
    assert [c.method for c in fake.calls][-2:] == ["files.getUploadURLExternal", "files.completeUploadExternal"]


async def test_a_failed_chart_upload_is_retried_without_posting_the_message_twice(fake: FakeSlack):
    """Where the bot can read the channel's history (so a restart could find the post too)."""
    fake.add_scope("channels:history")
    adapter = SlackAdapter("xoxb-test", fake.api_url, max_rate_limit_retries=0)
    alert = Alert("k-digest", Message(kind="digest", title="Digest", image=Image("c.png", b"\x89PNGdata", "chart")))
    fake.rate_limit_next("files.getUploadURLExternal", retry_after=1)
    try:
        with pytest.raises(DeliveryError) as caught:
            await adapter.send("C1", alert)
        assert caught.value.retry_after == 1
        await adapter.send("C1", replace(alert, unconfirmed=1))  # delivery kept the post's mark
    finally:
        await adapter.close()
    assert len(fake.posts("C1")) == 1
    assert [u.content for u in fake.uploads] == [b"\x89PNGdata"]


async def test_console_and_slack_side_by_side(fake_hub: FakeHub, fake: FakeSlack, db_path: Path):
    """Adapters decide only how things look: the console and Slack get the same alerts."""
    stream = io.StringIO()
    settings = settings_for(fake_hub, fake, db_path, console={"enabled": True, "format": "jsonl"})
    adapters: dict[str, Any] = {"console": ConsoleAdapter("jsonl", stream),
                                "slack": SlackAdapter("xoxb-test", fake.api_url)}
    app = await Trendwatch.open(settings, Secrets.from_env({}), adapters)
    try:
        await app.acquire_lease()
        await two_polls(app, fake_hub)
        await app.deliver()
    finally:
        await app.close()
    kinds = [line.split('"kind": "')[1].split('"')[0] for line in stream.getvalue().splitlines() if line]
    assert kinds == ["entered", "new_leader", "share", "left", "climber"]  # the console also takes the opt-in kinds
    assert len(fake.posts("C1")) == 3
