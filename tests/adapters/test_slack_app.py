"""`/trending …` in Slack: real slack_bolt over Socket Mode (and signed HTTP) against FakeSlack."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import adapters.slack_app as slack_app
from adapters.slack_app import (
    ParsedCommand,
    SlackHttpService,
    SlackSocketService,
    build_slack_service,
    parse_command,
    parse_mention,
)
from bot.commands import answers as commands
from bot.commands.caller import CommandError
from bot.config import ConfigError, Secrets, Settings, parse_settings
from store import destinations
from store.db import Database, open_database
from tests.fakes.slack_api import FakeSlack
from tests.support.cli import REPO
from tests.support.digest import store_week
from tests.support.slack import SECRETS, SIGNING_SECRET, body_text, command, title

# ---------------------------------------------------------------- parsing, pure


@pytest.mark.parametrize(("text", "expected"), [
    ("", ParsedCommand("trending")),
    ("5", ParsedCommand("trending", ("5",))),
    ("5 cn", ParsedCommand("trending", ("5", "cn"))),
    ("CN", ParsedCommand("trending", ("CN",))),
    ("share", ParsedCommand("share")),
    ("share 30", ParsedCommand("share", ("30",))),
    ("model Qwen/Qwen3-8B", ParsedCommand("model", ("Qwen/Qwen3-8B",))),
    ("alerts subscribe entered,share", ParsedCommand("subscribe", ("entered,share",))),
    ("alerts Rule add CN above 50", ParsedCommand("rule", ("add", "CN", "above", "50"))),
    ("alerts status", ParsedCommand("status")),
    ("alerts", ParsedCommand("help", ("alerts",))),
    ("alerts explode", ParsedCommand("help", ("alerts",))),
    ("frobnicate now", ParsedCommand("help", ("frobnicate",))),
    ("5 6 7", ParsedCommand("help", ("5",))),
])
def test_parse_command(text: str, expected: ParsedCommand) -> None:
    assert parse_command(text) == expected


def test_parse_mention() -> None:
    assert parse_mention("<!subteam^S0123ABC|@ml-team>") == "S0123ABC"
    assert parse_mention("<!here>") == "here" and parse_mention("@here") == "here"
    assert parse_mention("S0123ABC") == "S0123ABC"
    assert parse_mention("off") is None
    with pytest.raises(CommandError):
        parse_mention("<@U123|alice>")  # a person, not a group


# ---------------------------------------------------------------- Socket Mode, end to end


def settings_for(fake: FakeSlack, db: Path, **slack: Any) -> Settings:
    return parse_settings({"store": {"path": str(db)}, "console": {"enabled": False},
                           "slack": {"enabled": True, "api_url": fake.api_url, **slack}}, env={})


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as f:
        f.add_user("UADMIN", is_admin=True)
        f.add_user("UOWNER", is_owner=True)
        f.add_user("UPLAIN")
        yield f


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    await store_week(db_path)  # a week of snapshots: 6, then 7, Chinese models in the top 10
    database = await open_database(db_path)
    yield database
    await database.close()


@pytest.fixture
async def socket(fake: FakeSlack, db: Database, db_path: Path) -> AsyncIterator[SlackSocketService]:
    service = build_slack_service(settings_for(fake, db_path, admins=["UCONFIG"]), SECRETS, db)
    assert isinstance(service, SlackSocketService)
    await service.start()
    yield service
    await service.close()  # before the fake closes, or the client starts reconnecting


async def test_trending_is_acked_then_answered_in_channel(fake: FakeSlack, socket: SlackSocketService) -> None:
    ack, acked, body, _ = await command(fake, "")
    assert acked < 3 and set(ack) == {"envelope_id"}  # an empty ack: Slack shows nothing until the answer
    assert body["response_type"] == "in_channel" and body["replace_original"] is False
    assert title(body) == "Hugging Face trending models"
    assert body_text(body).count("\n") == 9  # top 10
    assert "*<https://huggingface.co/Qwen/q0|Qwen/q0>*" in body_text(body)
    assert body["text"].startswith("Hugging Face trending models\n#1")

    _, _, body, _ = await command(fake, "3 cn")
    assert title(body) == "Hugging Face trending models from China"
    assert body_text(body).count("\n") == 2 and "meta-llama" not in body_text(body)


async def test_share_model_and_unknown_model(fake: FakeSlack, socket: SlackSocketService) -> None:
    _, _, body, _ = await command(fake, "share")
    assert title(body) == "Who holds the trending top 10" and "China: 70%" in body_text(body)
    assert "unknown: 0 of 10" in body_text(body)  # the unknown count is always shown, even when zero
    _, _, body, _ = await command(fake, "model Qwen/q1")
    assert title(body) == "Qwen/q1" and "Now: #2" in body_text(body)
    _, _, body, _ = await command(fake, "model nobody/nothing")
    assert body["response_type"] == "ephemeral"
    assert "nobody/nothing has not been seen in the trending list" in body_text(body)


@pytest.mark.parametrize(("text", "error"), [
    ("0", "'0' is not a valid count"),
    ("share 999", "'999' is not a valid number of days"),
    ("alerts rule add CN above 150", "150% is out of range"),
    ("alerts rule add CHN above 50", "'CHN' is not a two-letter country code"),
    ("alerts rule add ZZ above 50", "'ZZ' is not a two-letter country code"),
    ("5 XX", "'XX' is not a two-letter country code"),
    ("alerts rule add CN sideways 50", "'sideways' must be 'above' or 'below'"),
    ("alerts mute forever", "'forever' is not a duration"),
    ("alerts subscribe gossip", "Unknown alert kind gossip"),
])
async def test_bad_arguments_get_an_ephemeral_reason(fake: FakeSlack, socket: SlackSocketService, text: str,
                                                      error: str) -> None:
    await command(fake, "alerts subscribe", user="UADMIN")  # mute and rules check the subscription first
    _, _, body, _ = await command(fake, text, user="UADMIN")
    assert body["response_type"] == "ephemeral"
    assert title(body) == "That did not work" and error in body_text(body)


async def test_unknown_subcommand_gets_help(fake: FakeSlack, socket: SlackSocketService) -> None:
    _, _, body, _ = await command(fake, "frobnicate")
    assert body["response_type"] == "ephemeral" and title(body) == "How to use /trending"
    assert "I don't know 'frobnicate'" in body_text(body) and "/trending alerts subscribe" in body_text(body)


async def test_setting_changes_need_an_admin(fake: FakeSlack, socket: SlackSocketService, db: Database) -> None:
    _, _, body, _ = await command(fake, "alerts subscribe", user="UPLAIN")
    assert body["response_type"] == "ephemeral" and "needs channel-manager (admin) rights" in body_text(body)
    assert await destinations.get_destination(db.conn, "slack", "C1") is None
    assert [c.params["user"] for c in fake.calls_to("users.info")] == ["UPLAIN"]

    _, _, body, _ = await command(fake, "alerts status", user="UPLAIN")  # reading is for everyone
    assert "This channel is not subscribed." in body_text(body)

    for user, channel in (("UADMIN", "C1"), ("UOWNER", "C2"), ("UCONFIG", "C3")):
        _, _, body, _ = await command(fake, "alerts subscribe entered,digest", user=user, channel=channel)
        assert title(body) == "Subscribed", user
        found = await destinations.get_destination(db.conn, "slack", channel)
        assert found is not None and found.kinds == ("entered", "new_leader", "digest")
    assert "UCONFIG" not in [c.params["user"] for c in fake.calls_to("users.info")]  # [slack] admins: no lookup


async def test_rules_mention_mute_and_status(fake: FakeSlack, socket: SlackSocketService, db: Database) -> None:
    await command(fake, "alerts subscribe", user="UADMIN")
    _, _, body, _ = await command(fake, "alerts rule add CN above 60", user="UADMIN")
    assert title(body) == "Rule added"
    _, _, body, _ = await command(fake, "alerts mention <!subteam^S0ML|@ml-team>", user="UADMIN")
    assert title(body) == "Mention set"
    _, _, body, _ = await command(fake, "alerts mute 2h", user="UADMIN")
    assert title(body) == "Muted"
    found = await destinations.get_destination(db.conn, "slack", "C1")
    assert found is not None and found.mention == "S0ML" and found.muted_until is not None
    _, _, body, _ = await command(fake, "alerts status")
    text = body_text(body)
    assert "Rule: 🇨🇳 CN above 60%" in text and "🔇 Muted until" in text and "Mentions: a role is pinged" in text
    _, _, body, _ = await command(fake, "alerts rule remove CN above 60", user="UADMIN")
    assert title(body) == "Rule removed"
    _, _, body, _ = await command(fake, "alerts rule add US below 20 certain", user="UADMIN")
    assert title(body) == "Rule added" and "(basis certain)" in body_text(body)
    _, _, body, _ = await command(fake, "alerts rule add US below 20 sure", user="UADMIN")
    assert "Unknown basis 'sure'" in body_text(body)
    _, _, body, _ = await command(fake, "alerts unsubscribe", user="UADMIN")
    assert title(body) == "Unsubscribed"


async def test_a_slow_answer_follows_the_ack_through_the_response_url(
        fake: FakeSlack, socket: SlackSocketService, monkeypatch: pytest.MonkeyPatch) -> None:
    real = commands.share_view

    async def slow_share_view(conn: Any, days: int = 7) -> Any:
        await asyncio.sleep(3.5)
        return await real(conn, days)

    monkeypatch.setattr(slack_app, "share_view", slow_share_view)
    _, acked, body, answered = await command(fake, "share")
    assert acked < 1.0 < 3.5 <= answered
    assert title(body) == "Who holds the trending top 10"


async def test_a_configured_command_name(fake: FakeSlack, db: Database, db_path: Path) -> None:
    service = build_slack_service(settings_for(fake, db_path, command="/hf"), SECRETS, db)
    assert isinstance(service, SlackSocketService)
    await service.start()
    try:
        _, _, body, _ = await command(fake, "help", name="/hf")
        assert title(body) == "How to use /hf"
    finally:
        await service.close()


async def test_a_refused_app_token_is_one_clear_error(fake: FakeSlack, db: Database, db_path: Path) -> None:
    secrets = Secrets.from_env({"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_APP_TOKEN": "xoxb-wrong-kind"})
    service = build_slack_service(settings_for(fake, db_path), secrets, db)
    assert isinstance(service, SlackSocketService)
    with pytest.raises(ConfigError, match="not_allowed_token_type"):
        await asyncio.wait_for(service.start(), 5)
    await service.close()


@pytest.mark.parametrize(("mode", "env", "missing"), [
    ("socket", {"SLACK_BOT_TOKEN": "xoxb-test"}, "SLACK_APP_TOKEN"),
    ("http", {"SLACK_BOT_TOKEN": "xoxb-test"}, "SLACK_SIGNING_SECRET"),
    ("socket", {"SLACK_APP_TOKEN": "xapp-test"}, "SLACK_BOT_TOKEN"),
])
async def test_a_missing_secret_is_named(fake: FakeSlack, db: Database, db_path: Path, mode: str,
                                         env: dict[str, str], missing: str,
                                         caplog: pytest.LogCaptureFixture) -> None:
    assert build_slack_service(settings_for(fake, db_path, mode=mode), Secrets.from_env(env), db) is None
    assert missing in caplog.text


# ---------------------------------------------------------------- HTTP mode


@pytest.fixture
async def http(fake: FakeSlack, db: Database, db_path: Path) -> AsyncIterator[SlackHttpService]:
    service = build_slack_service(settings_for(fake, db_path, mode="http"), SECRETS, db)
    assert isinstance(service, SlackHttpService)
    service.port, service.host = 0, "127.0.0.1"  # any free port
    await service.start()
    yield service
    await service.close()


async def post(service: SlackHttpService, body: str, headers: dict[str, str]) -> int:
    url = f"http://127.0.0.1:{service.bound_port}/slack/events"
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as res:
        return res.status


async def test_http_mode_signed_request_is_answered(fake: FakeSlack, http: SlackHttpService) -> None:
    body, headers = fake.signed_slash_command_request(SIGNING_SECRET, text="share")
    assert await post(http, body, headers) == 200
    await fake.wait_until(lambda: bool(fake.responses), timeout=5)
    assert title(fake.responses[0].body) == "Who holds the trending top 10"


@pytest.mark.parametrize("bad", ["bad_signature", "stale", "tampered"])
async def test_http_mode_bad_or_stale_signature_gets_401(fake: FakeSlack, http: SlackHttpService, bad: str) -> None:
    if bad == "stale":
        body, headers = fake.signed_slash_command_request(SIGNING_SECRET, timestamp=int(time.time()) - 600)
    else:
        body, headers = fake.signed_slash_command_request(SIGNING_SECRET, text="alerts status",
                                                          bad_signature=bad == "bad_signature")
        body = body.replace("status", "subscribe") if bad == "tampered" else body
    assert await post(http, body, headers) == 401
    await asyncio.sleep(0.2)
    assert fake.responses == [] and fake.calls_to("auth.test") == []


def test_the_manifest_matches_what_the_code_uses() -> None:
    """One paste must give the app everything the adapters call: the command, the scopes, Socket Mode."""
    import yaml  # type: ignore[import-untyped]  # PyYAML (via huggingface_hub) ships no stubs

    from bot.config import SlackSettings

    manifest = yaml.safe_load((REPO / "slack-manifest.yml").read_text())
    [slash] = manifest["features"]["slash_commands"]
    assert slash["command"] == SlackSettings().command and slash["should_escape"] is True
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "chat:write.public", "files:write", "channels:join", "users:read"} <= scopes
    assert manifest["settings"]["socket_mode_enabled"] is True


@pytest.mark.parametrize(("text", "expected"), [
    ("²", "How to use /trending"),
    ("5 ①", "How to use /trending"),
    ("share ³", "That did not work"),
    ("alerts mute 9999999999d", "That did not work"),
    ("alerts rule add CN above ²", "That did not work"),
    ("model \ud800/x", "That did not work"),
])
async def test_unusual_digits_and_huge_durations_are_answered(fake: FakeSlack, socket: SlackSocketService, text: str,
                                                              expected: str) -> None:
    await command(fake, "alerts subscribe", user="UADMIN")
    _, acked, body, _ = await command(fake, text, user="UADMIN")
    assert acked < 3 and body["response_type"] == "ephemeral" and title(body) == expected


async def test_a_refused_reconnect_is_one_warning_not_a_traceback(
    fake: FakeSlack, socket: SlackSocketService, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack rotates the connection while the token is refused: slack_sdk logs it with logger.exception."""
    fake.fail_auth("invalid_auth")
    with caplog.at_level("WARNING"):
        await fake.send_disconnect()
        await fake.wait_until(lambda: bool(fake.calls_to("apps.connections.open")
                                           and fake.calls_to("apps.connections.open")[-1].response.get("ok") is False))
        await asyncio.sleep(0.2)
    refused = [r for r in caplog.records if "could not reconnect" in r.getMessage()]
    assert refused and refused[0].levelname == "WARNING" and "invalid_auth" in refused[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]
    fake.heal_auth()


# ---------------------------------------------------------------- admin check, response_url faults, $PORT


@pytest.mark.parametrize("raw", [{"is_admin": "false"}, {"is_admin": 1}, {"is_owner": "true"},
                                 {"is_primary_owner": [True]}])
async def test_only_a_json_true_makes_an_admin(fake: FakeSlack, socket: SlackSocketService, db: Database,
                                               raw: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    fake.add_user("UODD", raw=raw)
    with caplog.at_level("WARNING"):
        _, _, body, _ = await command(fake, "alerts subscribe", user="UODD")
    assert body["response_type"] == "ephemeral" and "needs channel-manager (admin) rights" in body_text(body)
    assert await destinations.get_destination(db.conn, "slack", "C1") is None
    [field] = raw
    warned = [r for r in caplog.records if field in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelname == "WARNING" and "UODD" in warned[0].getMessage()


async def test_an_unreachable_response_url_is_one_warning_not_a_traceback(
    fake: FakeSlack, socket: SlackSocketService, caplog: pytest.LogCaptureFixture
) -> None:
    import socket as sockets

    with sockets.socket() as closed:  # a port nothing listens on once this block ends
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with caplog.at_level("WARNING"):
        envelope = await fake.send_slash_command(text="share", user_id="UPLAIN",
                                                 response_url=f"http://127.0.0.1:{port}/response/R1")
        await fake.wait_for_ack(envelope, timeout=3)
        for _ in range(50):
            if [r for r in caplog.records if r.name.startswith("adapters.slack_app")]:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.2)
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.exc_info]
    [warned] = [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]
    assert warned.levelname == "WARNING" and "response_url" in warned.getMessage()
    assert "ClientConnectorError" in warned.getMessage() and "share" in warned.getMessage()


def test_port_in_the_environment_wins_over_slack_port_in_http_mode() -> None:
    data: dict[str, Any] = {"slack": {"enabled": True, "mode": "http", "port": 3000}}
    assert parse_settings(data, env={"PORT": "5123"}).slack.port == 5123
    assert parse_settings(data, env={}).slack.port == 3000
    socket_mode = {"slack": {"enabled": True, "port": 3000}}
    assert parse_settings(socket_mode, env={"PORT": "5123"}).slack.port == 3000  # no web server to place
    with pytest.raises(ConfigError, match=r"^environment: PORT: .*'http'"):
        parse_settings(data, env={"PORT": "http"})


async def test_http_mode_listens_on_port_from_the_environment(fake: FakeSlack, db: Database, db_path: Path) -> None:
    import socket as sockets

    with sockets.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    settings = parse_settings({"store": {"path": str(db_path)}, "console": {"enabled": False},
                               "slack": {"enabled": True, "api_url": fake.api_url, "mode": "http"}},
                              env={"PORT": str(port)})
    service = build_slack_service(settings, SECRETS, db)
    assert isinstance(service, SlackHttpService)
    service.host = "127.0.0.1"
    await service.start()
    try:
        assert service.bound_port == port
        body, headers = fake.signed_slash_command_request(SIGNING_SECRET, text="share")
        assert await post(service, body, headers) == 200
    finally:
        await service.close()


async def test_alerts_threads_takes_a_mode_and_a_subscription_token(fake: FakeSlack, socket: SlackSocketService,
                                                                    db: Database) -> None:
    await command(fake, "alerts subscribe entered,left", user="UADMIN")
    _, _, body, _ = await command(fake, "alerts threads on", user="UPLAIN")
    assert "admin" in body_text(body)
    _, _, body, _ = await command(fake, "alerts threads sometimes", user="UADMIN")
    assert "Threads can be off, on, broadcast, not 'sometimes'" in body_text(body)
    _, _, body, _ = await command(fake, "alerts threads subscription:default BROADCAST", user="UADMIN")
    assert title(body) == "Threads broadcast" and "also shown in the channel" in body_text(body)
    found = await destinations.get_destination(db.conn, "slack", "C1")
    assert found is not None and found.threads == "broadcast"
    _, _, body, _ = await command(fake, "alerts threads on subscription:china", user="UADMIN")
    assert "no subscription named 'china'" in body_text(body)
    _, _, body, _ = await command(fake, "alerts status")
    assert "Threads: broadcast (follow-ups reply in their model's thread and show in the channel)" in body_text(body)
