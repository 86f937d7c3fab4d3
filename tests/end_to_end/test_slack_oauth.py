"""Issue 19's "Add to Slack", as people use it, through the real slack_bolt / slack_sdk and aiohttp clients.

Two workspaces install the app (/slack/install → the fake's authorize page → /slack/oauth_redirect, a
browser's cookie jar carrying the state), an admin subscribes a channel in each with a signed slash
command, the bot polls the fake Hub and each workspace gets its alert with its own token; one
workspace uninstalls (app_uninstalled), and only the other gets the next alert. On both stores.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.slack_app import SlackHttpService
from adapters.slack_out import SlackWorkspaces
from bot.app import Trendwatch, platform_services
from bot.config import ConfigError, Secrets, parse_settings
from bot.delivery.drain import DeliveryReport
from store.sealing import new_key
from tests.fakes.hub import FakeHub, ranked
from tests.fakes.slack_api import FakeSlack
from tests.support.stores import query, store_env

CN = [f"Qwen/q{i}" for i in range(10)]
US = [f"meta-llama/l{i}" for i in range(10)]
SIGNING_SECRET = "oauth-signing-secret"
CLIENT_ID, CLIENT_SECRET = "1111.2222", "client-secret-xyz"
CHANNELS = {"T1": "C0T1ALERTS", "T2": "C0T2ALERTS"}
ADMINS = {"T1": "UADMIN1", "T2": "UADMIN2"}


@dataclass
class Deployment:
    """The bot with "Add to Slack" on, its HTTP server, the fake Slack and Hub, and who left."""

    app: Trendwatch
    service: SlackHttpService
    slack: FakeSlack
    hub: FakeHub
    key: str
    left: list[tuple[str, str]] = field(default_factory=list)
    joined: list[tuple[str, str, str]] = field(default_factory=list)
    polls: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.service.bound_port}"

    async def install(self, team: str) -> str:
        """What a person does: open the install page, click "Add to Slack", approve; the success page's text."""
        jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[self.url])  # the state cookie is Secure
        async with aiohttp.ClientSession(cookie_jar=jar) as browser:
            async with browser.get(f"{self.url}/slack/install", params={"team": team}) as page:
                assert page.status == 200, await page.text()
                link = re.search(r'<a href="([^"]+)"><img alt="Add to Slack"', await page.text())
            assert link is not None
            async with browser.get(html.unescape(link.group(1))) as back:  # Slack's page, then back to the bot
                return f"{back.status} {await back.text()}"

    async def command(self, team: str, text: str) -> dict[str, Any]:
        """A slash command in the workspace's channel, signed as Slack signs it; the answer it got."""
        seen = len(self.slack.responses)
        body, headers = self.slack.signed_slash_command_request(
            SIGNING_SECRET, text=text, team_id=team, user_id=ADMINS[team], channel_id=CHANNELS[team])
        async with aiohttp.ClientSession() as client, \
                client.post(f"{self.url}/slack/events", data=body, headers=headers) as answer:
            assert answer.status == 200
        await self.slack.wait_until(lambda: len(self.slack.responses) > seen, timeout=8)
        return self.slack.responses[seen].body

    async def event(self, team: str, event: dict[str, Any]) -> int:
        body, headers = self.slack.signed_event_request(SIGNING_SECRET, team, event)
        async with aiohttp.ClientSession() as client, \
                client.post(f"{self.url}/slack/events", data=body, headers=headers) as answer:
            return answer.status

    async def poll_and_deliver(self, models: list[str]) -> DeliveryReport:
        self.hub.models = ranked(models)
        await self.app.poll()
        return await self.app.deliver()


def settings_data(slack: FakeSlack, hub: FakeHub, db_path: Path) -> dict[str, Any]:
    return {
        "store": {"path": str(db_path)}, "console": {"enabled": False},
        "delivery": {"max_wait": "1s"},  # a longer Retry-After sends the alert back to the outbox
        "hub": {"endpoint": hub.endpoint, "retry_budget": "2s"},
        "slack": {"enabled": True, "mode": "http", "oauth": True, "api_url": slack.api_url,
                  "authorize_url": f"{slack.base_url}/oauth/v2/authorize"},
    }


def oauth_env(key: str) -> dict[str, str]:
    return {"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET, "TRENDWATCH_SECRET_KEY": key}


@pytest.fixture
async def deployment(db_path: Path, fake_hub: FakeHub) -> AsyncIterator[Deployment]:
    async with FakeSlack() as slack:
        slack.oauth_app(CLIENT_ID, CLIENT_SECRET)
        for team, admin in ADMINS.items():
            slack.add_workspace(team)
            slack.add_user(admin, is_admin=True)
        key = new_key()
        settings = parse_settings(settings_data(slack, fake_hub, db_path), env=store_env())
        app = await Trendwatch.open(settings, Secrets.from_env(oauth_env(key)), start=False)
        found = Deployment(app, None, slack, fake_hub, key)  # type: ignore[arg-type]  # the service comes next

        async def left(platform: str, team: str) -> None:
            found.left.append((platform, team))

        async def joined(platform: str, team: str, name: str) -> None:
            found.joined.append((platform, team, name))

        app.on_tenant_left = left
        app.on_tenant_joined = joined
        services = platform_services(app, lambda: None)
        assert len(services) == 1 and isinstance(services[0], SlackHttpService)
        found.service = services[0]
        found.service.port = 0  # a free port
        await found.service.start()
        slack.redirect_url = f"{found.url}/slack/oauth_redirect"  # the app's Redirect URL, as set up at Slack
        await app.acquire_lease()
        try:
            yield found
        finally:
            await found.service.close()
            await app.close()


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    """Events are acknowledged first and handled after (Slack wants the ack within 3 s): wait for the effect."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the event had no effect"
        await asyncio.sleep(0.02)


async def install_and_subscribe(bot: Deployment) -> None:
    for team in ("T1", "T2"):
        page = await bot.install(team)
        assert page.startswith("200") and "Thank you!" in page, page
        answer = await bot.command(team, "alerts subscribe")
        assert answer["text"].startswith("Subscribed"), answer
    await bot.poll_and_deliver(US[:6] + CN[:4])  # the channels' baseline


async def test_two_workspaces_each_get_their_alert_with_their_own_token_until_one_uninstalls(
        deployment: Deployment, db_path: Path) -> None:
    bot, slack = deployment, deployment.slack
    await install_and_subscribe(bot)
    assert [c.params.get("code", "")[:7] for c in slack.calls_to("oauth.v2.access")] == ["code-T1", "code-T2"]
    assert bot.joined == [("slack", "T1", "Workspace T1"), ("slack", "T2", "Workspace T2")]
    assert slack.authorize_requests[0]["scope"] == ",".join(bot.app.settings.slack.scopes)

    report = await bot.poll_and_deliver(CN[:6] + US[:4])  # Qwen/q4 and q5 enter, Qwen/q0 leads
    posts = slack.posts_by_team()
    assert report.sent == 4 and len(posts["T1"]) == len(posts["T2"]) == 2, report
    for team in ("T1", "T2"):
        assert {post["channel"] for post in posts[team]} == {CHANNELS[team]}
        assert {post["token"] for post in posts[team]} == {slack.tokens_of(team)[0]}  # its own workspace's token
        assert any("Qwen/q4" in post["text"] for post in posts[team])
    assert slack.tokens_of("T1") != slack.tokens_of("T2")

    # Nothing in the database gives a token away.
    rows = repr(query(db_path, "SELECT * FROM slack_installations") + query(db_path, "SELECT * FROM slack_bots"))
    assert "T1" in rows and not any(token in rows for team in ("T1", "T2") for token in slack.tokens_of(team))

    # T1 removes the app: Slack revokes its tokens and tells the bot.
    slack.uninstall("T1")
    assert await bot.event("T1", {"type": "app_uninstalled"}) == 200  # acknowledged at once, handled after
    await until(lambda: bool(bot.left))
    assert bot.left == [("slack", "T1")]
    assert query(db_path, "SELECT team_id FROM slack_bots") == [("T2",)]

    report = await bot.poll_and_deliver(CN[:8] + US[:2])  # Qwen/q6 and q7 enter
    posts = slack.posts_by_team()
    assert len(posts["T1"]) == 2 and len(posts["T2"]) == 3  # only T2 hears of the next alert
    assert "Qwen/q6" in posts["T2"][-1]["text"]
    assert report.sent == 1 and "slack:T1" in report.refused and "slack" not in report.refused
    assert not [c for c in slack.calls_to("chat.postMessage") if c.team == "T1" and c.response.get("ok") is False]


@pytest.mark.parametrize("fault", ["invalid_auth", "missing_scope", "ratelimited"])
async def test_one_workspaces_refusal_or_rate_limit_never_holds_anothers_alerts(
        deployment: Deployment, fault: str) -> None:
    bot, slack = deployment, deployment.slack
    await install_and_subscribe(bot)
    if fault == "ratelimited":
        slack.workspaces["T1"].rate_limits = [3]  # beyond [delivery] max_wait: back to the outbox
    else:
        slack.workspaces["T1"].error = fault
    started = time.monotonic()
    report = await bot.poll_and_deliver(CN[:6] + US[:4])
    assert time.monotonic() - started < 5  # nobody sat through T1's wait
    posts = slack.posts_by_team()
    assert len(posts["T2"]) == 2 and "T1" not in posts, posts
    assert report.sent == 2 and report.retried == 1  # T1's second alert waits behind its first, in order
    if fault != "ratelimited":
        assert set(report.refused) == {"slack:T1"}

    # Fixed at T1: its alert goes out on a later pass, with its own token.
    slack.workspaces["T1"].error = None
    async with bot.app.db.transaction() as conn:
        await conn.execute("UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00.000000Z'")
    bot.app.adapters["slack"].installations.forget("T1")  # type: ignore[attr-defined]
    report = await bot.app.deliver()
    assert report.sent == 2 and {p["token"] for p in slack.posts_by_team()["T1"]} == set(slack.tokens_of("T1"))


async def test_rotating_tokens_are_refreshed_before_a_post_and_kept_sealed(deployment: Deployment,
                                                                         db_path: Path) -> None:
    bot, slack = deployment, deployment.slack
    slack.rotation_expires_in = 3600  # installs get tokens that expire within Bolt's two-hour margin
    await install_and_subscribe(bot)  # the subscribe commands were authorized by Bolt, rotating once each
    slack.rotation_expires_in = 43200
    installed = {team: slack.tokens_of(team)[0] for team in ("T1", "T2")}
    await bot.poll_and_deliver(CN[:6] + US[:4])
    for team in ("T1", "T2"):
        tokens = {post["token"] for post in slack.posts_by_team()[team]}
        # The newest token, one that lasts: refreshed before the post (a refresh token is good once).
        assert tokens == {slack.tokens_of(team)[-1]} and installed[team] not in tokens
        assert slack.grants[slack.tokens_of(team)[-1]].expires_at > time.time() + 40000  # type: ignore[operator]
    await bot.poll_and_deliver(CN[:8] + US[:2])  # a lasting token is not refreshed again
    assert {post["token"] for post in slack.posts_by_team()["T1"]} == {slack.tokens_of("T1")[-1]}
    refreshed = [c for c in slack.calls_to("oauth.v2.access") if c.params.get("grant_type") == "refresh_token"]
    assert refreshed and all(c.response.get("ok") for c in refreshed)
    rows = repr(query(db_path, "SELECT sealed FROM slack_installations"))
    assert not any(token in rows for team in ("T1", "T2") for token in slack.tokens_of(team))


async def test_a_command_and_deliveries_needing_a_fresh_token_at_once_spend_the_refresh_token_once(
        deployment: Deployment) -> None:
    bot, slack = deployment, deployment.slack
    slack.rotation_expires_in = 3600
    assert (await bot.install("T1")).startswith("200")
    slack.rotation_expires_in = 43200
    installations = bot.app.adapters["slack"].installations  # type: ignore[attr-defined]
    tokens = await asyncio.gather(*(installations.token_for("T1") for _ in range(3)),
                                  bot.command("T1", "alerts status"))
    refreshes = [c for c in slack.calls_to("oauth.v2.access") if c.params.get("grant_type") == "refresh_token"]
    assert [c.response.get("ok") for c in refreshes] == [True]  # one refresh; nobody spent the old token again
    assert set(tokens[:3]) == {slack.tokens_of("T1")[-1]}


def test_oauth_needs_its_secrets_and_a_key_each_named_in_one_line(tmp_path: Path) -> None:
    from bot.config import check_slack_oauth

    settings = parse_settings({"slack": {"enabled": True, "mode": "http", "oauth": True}}, env={})
    env = oauth_env(new_key())
    check_slack_oauth(settings, Secrets.from_env(env))
    for variable, value, expected in (
            ("SLACK_CLIENT_SECRET", "", r"^environment: SLACK_CLIENT_SECRET is not set"),
            ("TRENDWATCH_SECRET_KEY", "", r"^environment: TRENDWATCH_SECRET_KEY is not set"),
            ("TRENDWATCH_SECRET_KEY", "not-a-fernet-key", r"^environment: TRENDWATCH_SECRET_KEY: key 1 of 1 is not"),
    ):
        with pytest.raises(ConfigError, match=expected):
            check_slack_oauth(settings, Secrets.from_env({**env, variable: value}))
    with pytest.raises(ConfigError, match=r"^config: slack\.oauth: \"Add to Slack\" needs mode = \"http\""):
        parse_settings({"slack": {"enabled": True, "oauth": True}}, env={})
    assert isinstance(SlackWorkspaces, type)


def test_the_default_scopes_are_the_manifests() -> None:
    from bot.config import MANIFEST_SCOPES
    from tests.support.cli import REPO

    manifest = (REPO / "slack-manifest.yml").read_text(encoding="utf-8")
    bot_scopes = re.search(r"    bot:\n((?:      - .*\n)+)", manifest)
    assert bot_scopes is not None
    assert tuple(re.findall(r"- ([a-z:._]+)", bot_scopes.group(1))) == MANIFEST_SCOPES


async def test_a_revoked_bot_token_removes_the_workspace_and_an_install_link_works_once(
        deployment: Deployment, db_path: Path) -> None:
    bot, slack = deployment, deployment.slack
    await install_and_subscribe(bot)

    # The way back from Slack is replayed (a leaked link, a double click): its state is spent, nothing more stored.
    slack.add_workspace("T3")
    jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[bot.url])
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        async with browser.get(f"{bot.url}/slack/install", params={"team": "T3"}) as page:
            link = re.search(r'<a href="([^"]+)"><img alt="Add to Slack"', await page.text())
        assert link is not None
        async with browser.get(html.unescape(link.group(1)), allow_redirects=False) as consent:
            back = consent.headers["Location"]
        async with browser.get(back) as done:
            assert done.status == 200
    state = back.split("state=")[1]
    async with aiohttp.ClientSession() as replay, replay.get(
            back, headers={"Cookie": f"slack-app-oauth-state={state}"}) as again:  # the browser's cookie, kept
        assert again.status == 401  # Bolt's invalid_state: the store let the state be used once
    assert [c.response.get("ok") for c in slack.calls_to("oauth.v2.access")] == [True, True, True]
    assert query(db_path, "SELECT COUNT(*) FROM slack_bots")[0][0] == 3

    # A user token revoked: the workspace stays. The bot's token revoked: it goes, and the app is told.
    assert await bot.event("T2", {"type": "tokens_revoked", "tokens": {"oauth": ["UINSTALLER"], "bot": []}}) == 200
    assert await bot.event("T2", {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["UBOT2"]}}) == 200
    await until(lambda: bool(bot.left))
    assert bot.left == [("slack", "T2")]
    assert query(db_path, "SELECT team_id FROM slack_bots ORDER BY team_id") == [("T1",), ("T3",)]

    # A command from the workspace that left is told to reinstall; the other workspace is answered as before.
    seen = len(slack.responses)
    body, headers = slack.signed_slash_command_request(SIGNING_SECRET, text="alerts status", team_id="T2",
                                                       user_id=ADMINS["T2"], channel_id=CHANNELS["T2"])
    async with aiohttp.ClientSession() as client, \
            client.post(f"{bot.url}/slack/events", data=body, headers=headers) as answer:
        assert answer.status == 200
    await slack.wait_until(lambda: len(slack.responses) > seen, timeout=8)
    assert "reinstall" in json.dumps(slack.responses[seen].body)
    assert "reinstall" not in json.dumps(await bot.command("T1", "alerts status"))


async def test_check_config_names_what_add_to_slack_lacks(tmp_path: Path) -> None:
    from tests.support.cli import bot as run_bot

    config = tmp_path / "c.toml"
    config.write_text('[slack]\nenabled = true\nmode = "http"\noauth = true\n', encoding="utf-8")
    env = oauth_env(new_key())
    ok = await run_bot("check-config", "--config", str(config), env=env)
    assert ok.code == 0 and "slack (Add to Slack" in ok.out, ok.err
    missing = await run_bot("check-config", "--config", str(config), env={**env, "SLACK_CLIENT_ID": ""})
    assert missing.code == 2 and missing.err.strip().splitlines() == [
        "trendwatch: config error: environment: SLACK_CLIENT_ID is not set; [slack] oauth = true needs it"
        " (the app's Basic Information page)"]


async def test_python_m_bot_run_serves_two_workspaces_until_one_uninstalls(
        tmp_path: Path, db_path: Path, fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same story through the real process: `python -m bot run`, its scheduler, its HTTP server."""
    from tests.support.processes import snapshots, start, stop, wait_for_line

    with socket.socket() as probe:  # a free port for the bot's HTTP server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for variable, value in oauth_env(new_key()).items():
        monkeypatch.setenv(variable, value)
    fake_hub.models = ranked(US[:6] + CN[:4])
    async with FakeSlack() as slack:
        slack.oauth_app(CLIENT_ID, CLIENT_SECRET, redirect_url=f"http://127.0.0.1:{port}/slack/oauth_redirect")
        for team, admin in ADMINS.items():
            slack.add_workspace(team)
            slack.add_user(admin, is_admin=True)
        config = tmp_path / "run.toml"
        config.write_text(f"""
[hub]
endpoint = "{fake_hub.endpoint}"
retry_budget = "2s"
poll_interval = "1s"
[store]
path = "{db_path}"
[console]
enabled = false
[delivery]
interval = "1s"
[slack]
enabled = true
mode = "http"
port = {port}
oauth = true
api_url = "{slack.api_url}"
authorize_url = "{slack.base_url}/oauth/v2/authorize"
""", encoding="utf-8")
        process = await start(config)
        try:
            await wait_for_line(process, "HTTP mode listening")
            bot = Deployment(None, None, slack, fake_hub, "")  # type: ignore[arg-type]  # drives the process over HTTP
            bot.service = type("Bound", (), {"bound_port": port})()
            for team in ("T1", "T2"):
                assert (await bot.install(team)).startswith("200")
                assert (await bot.command(team, "alerts subscribe"))["text"].startswith("Subscribed")
            polled = snapshots(db_path)
            await until(lambda: snapshots(db_path) > polled + 1, timeout=20)  # the channels' baseline is taken

            fake_hub.models = ranked(CN[:6] + US[:4])
            await slack.wait_until(  # Qwen/q4 and q5 entered, Qwen/q0 leads: two posts each
                lambda: [len(slack.posts_by_team().get(team, [])) for team in ("T1", "T2")] == [2, 2], timeout=20)
            for team in ("T1", "T2"):
                assert {post["token"] for post in slack.posts_by_team()[team]} == {slack.tokens_of(team)[0]}

            slack.uninstall("T1")
            assert await bot.event("T1", {"type": "app_uninstalled"}) == 200
            await wait_for_line(process, "workspace T1 uninstalled the app")
            heard = len(slack.posts_by_team()["T2"])
            fake_hub.models = ranked(CN[:8] + US[:2])
            await slack.wait_until(lambda: len(slack.posts_by_team()["T2"]) > heard, timeout=20)
            polled = snapshots(db_path)
            await until(lambda: snapshots(db_path) > polled + 1, timeout=20)  # and a pass or two more
            assert len(slack.posts_by_team()["T1"]) == 2 and "Qwen/q6" in slack.posts_by_team()["T2"][-1]["text"]
        finally:
            code, log = await stop(process)
        assert code == 0 and "Traceback" not in log, log
