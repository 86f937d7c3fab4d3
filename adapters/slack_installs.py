"""slack_sdk's `AsyncInstallationStore` and `AsyncOAuthStateStore` over the bot's own store, and each workspace's token.

Bolt's OAuth flow saves what a workspace grants here, and Bolt's authorize (token rotation
included) reads it back, unchanged: these classes only translate slack_sdk's `Installation` /
`Bot` to the sealed records of `store.slack_installations`, so SQLite and PostgreSQL serve alike
and no token is written in clear. Delivery asks `token_for` (which rotates a token about to
expire, as Bolt's authorize does) and `workspace_of` (the workspace a channel's commands came
from). Tokens are cached for a minute in this process and forgotten at once when a workspace
reinstalls or leaves; another process sees a change within that minute.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackTokenRotationError
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from bot.log import get_logger
from store import slack_installations as stored
from store.db import Database
from store.sealing import Sealer

log = get_logger(__name__)

#: Rotate a token this long before it expires (Bolt's default for its own authorize).
ROTATE_BEFORE_MINUTES = 120
CACHE_SECONDS = 60.0
STATE_SECONDS = 600  # an install started and not finished within 10 minutes starts again

TenantLeft = Callable[[str, str], Awaitable[None]]
TenantJoined = Callable[[str, str, str], Awaitable[None]]


async def nobody_left(platform: str, external_id: str) -> None:
    """The default `on_tenant_left`: the app wires its own (stop that tenant's channels)."""


async def nobody_joined(platform: str, external_id: str, name: str) -> None:
    """The default `on_tenant_joined`: the app wires its own (a tenant row for the new workspace)."""


def _record(values: dict[str, Any]) -> dict[str, Any]:
    """slack_sdk's `to_dict_for_copying()` → JSON: its datetimes become the timestamps its constructors take."""
    record: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, datetime):
            value = int(value.timestamp()) if key.endswith("_expires_at") else value.timestamp()
        record[key] = value
    return record


def _installed_at(values: dict[str, Any]) -> datetime:
    at = values.get("installed_at")
    return datetime.fromtimestamp(float(at), UTC) if isinstance(at, int | float) else datetime.now(UTC)


class StoredInstallations(AsyncInstallationStore):
    """Installations of one Slack app (`client_id`) in the bot's store, sealed with `TRENDWATCH_SECRET_KEY`."""

    def __init__(self, db: Database, sealer: Sealer, client_id: str, *, client_secret: str | None = None,
                 api_url: str = "https://slack.com/api/", clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.sealer = sealer
        self.client_id = client_id
        self.clock = clock
        self._logger = get_logger("adapters.slack_installs.bolt")
        self.rotator = (OneRotationAtATime(self, client_id=client_id, client_secret=client_secret,
                                           client=AsyncWebClient(base_url=api_url))
                        if client_secret else None)
        self._tokens: dict[str, tuple[str, int | None, float]] = {}  # team → (token, expires at, cached at)
        self._channels: dict[str, tuple[tuple[str, str] | None, float]] = {}  # channel → (workspace, cached at)
        self._rotating: dict[str, asyncio.Lock] = {}

    @property
    def logger(self) -> logging.Logger:
        return self._logger

    def forget(self, team_id: str | None) -> None:
        self._tokens.pop(team_id or "", None)

    # ------------------------------------------------------------------ AsyncInstallationStore

    async def async_save(self, installation: Installation) -> None:
        record = _record(installation.to_dict_for_copying())
        async with self.db.transaction() as conn:
            await stored.save_installation(conn, self.sealer, self.client_id, record, _installed_at(record))
            if installation.bot_token is not None:
                bot = _record(installation.to_bot().to_dict_for_copying())
                await stored.save_bot(conn, self.sealer, self.client_id, bot, _installed_at(bot))
        self.forget(installation.team_id)

    async def async_save_bot(self, bot: Bot) -> None:
        record = _record(bot.to_dict_for_copying())
        async with self.db.transaction() as conn:
            await stored.save_bot(conn, self.sealer, self.client_id, record, _installed_at(record))
        self.forget(bot.team_id)

    async def async_find_bot(self, *, enterprise_id: str | None, team_id: str | None,
                             is_enterprise_install: bool | None = False) -> Bot | None:
        found = await stored.find_bot(self.db.conn, self.sealer, self.client_id, enterprise_id, team_id,
                                      is_enterprise_install)
        return Bot(**found) if found else None

    async def async_find_installation(self, *, enterprise_id: str | None, team_id: str | None,
                                      user_id: str | None = None,
                                      is_enterprise_install: bool | None = False) -> Installation | None:
        found = await stored.find_installation(self.db.conn, self.sealer, self.client_id, enterprise_id, team_id,
                                               user_id, is_enterprise_install)
        return Installation(**found) if found else None

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        async with self.db.transaction() as conn:
            await stored.delete_bot(conn, self.client_id, enterprise_id, team_id)
        self.forget(team_id)

    async def async_delete_installation(self, *, enterprise_id: str | None, team_id: str | None,
                                        user_id: str | None = None) -> None:
        async with self.db.transaction() as conn:
            await stored.delete_installations(conn, self.client_id, enterprise_id, team_id, user_id)
        self.forget(team_id)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        async with self.db.transaction() as conn:
            await stored.delete_bot(conn, self.client_id, enterprise_id, team_id)
            await stored.delete_installations(conn, self.client_id, enterprise_id, team_id)
        self.forget(team_id)

    # ------------------------------------------------------------------ for delivery

    async def remember_channel(self, channel: str, team_id: str, enterprise_id: str | None) -> None:
        """A slash command came from `channel` in this workspace: its alerts go out with this workspace's token."""
        cached = self._channels.get(channel)
        if cached is not None and cached[0] == (team_id, enterprise_id or ""):
            return
        async with self.db.transaction() as conn:
            await stored.record_channel_team(conn, channel, team_id, enterprise_id, datetime.now(UTC))
        self._channels[channel] = ((team_id, enterprise_id or ""), self.clock())

    async def workspace_of(self, channel: str) -> tuple[str, str] | None:
        """(team, enterprise) of the channel; with no command seen there, the only installed workspace, if one."""
        cached = self._channels.get(channel)
        if cached is not None and self.clock() - cached[1] < CACHE_SECONDS:
            return cached[0]
        found = await stored.channel_team(self.db.conn, channel)
        if found is None:
            installed = await stored.workspaces(self.db.conn, self.client_id)
            found = (installed[0].team_id, installed[0].enterprise_id) if len(installed) == 1 else None
        self._channels[channel] = (found, self.clock())
        return found

    async def token_for(self, team_id: str, enterprise_id: str | None = None) -> str | None:
        """The workspace's bot token, rotated first when it expires within two hours; None when not installed."""
        cached = self._tokens.get(team_id)
        now = self.clock()
        if cached is not None and now - cached[2] < CACHE_SECONDS and (
                cached[1] is None or cached[1] - now > ROTATE_BEFORE_MINUTES * 60):
            return cached[0]
        installation = await self.async_find_installation(enterprise_id=enterprise_id or None, team_id=team_id)
        if installation is None or installation.bot_token is None:
            self.forget(team_id)
            return None
        if self.rotator is not None and installation.bot_refresh_token:
            try:
                refreshed = await self.rotator.perform_token_rotation(
                    installation=installation, minutes_before_expiration=ROTATE_BEFORE_MINUTES)
            except SlackTokenRotationError as exc:
                error = getattr(exc.api_error, "response", {}).get("error") if exc.api_error else None
                log.warning("slack: workspace %s: its token could not be refreshed (%s)", team_id, error or exc)
                refreshed = None
            installation = refreshed or installation
        token = installation.bot_token
        assert token is not None
        self._tokens[team_id] = (token, installation.bot_token_expires_at, self.clock())
        return token

    def rotation_lock(self, team_id: str) -> asyncio.Lock:
        return self._rotating.setdefault(team_id, asyncio.Lock())

    async def workspaces(self) -> list[stored.Workspace]:
        return await stored.workspaces(self.db.conn, self.client_id)


class OneRotationAtATime(AsyncTokenRotator):
    """slack_sdk's token rotator, one workspace's rotation at a time in this process, the result stored at once.

    Bolt's authorize (an incoming command) and delivery may both find a token about to expire at the
    same moment; a refresh token is good once, so the second must not spend it again. Under the
    workspace's lock the newest stored installation is read again: if another rotation already
    replaced the token, that one is used; otherwise this one rotates and saves before letting go.
    (Several processes can still race; the loser's refresh fails, is logged, and it reads the
    winner's token from the store within a minute.)
    """

    def __init__(self, installations: StoredInstallations, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.installations = installations

    async def perform_token_rotation(self, *, installation: Installation,
                                     minutes_before_expiration: int = ROTATE_BEFORE_MINUTES) -> Installation | None:
        team = installation.team_id or installation.enterprise_id or ""
        async with self.installations.rotation_lock(team):
            newest = await self.installations.async_find_installation(
                enterprise_id=installation.enterprise_id, team_id=installation.team_id,
                user_id=installation.user_id, is_enterprise_install=installation.is_enterprise_install)
            if newest is not None and newest.bot_token != installation.bot_token:
                return newest  # rotated meanwhile by the other path
            refreshed = await super().perform_token_rotation(
                installation=newest or installation, minutes_before_expiration=minutes_before_expiration)
            if refreshed is not None:
                await self.installations.async_save(refreshed)
                log.info("slack: workspace %s: bot token refreshed (token rotation)", team)
            return refreshed


class StoredOAuthStates(AsyncOAuthStateStore):
    """The `state` of installs in progress, in the store: any process of the bot can finish an install."""

    def __init__(self, db: Database, expiration_seconds: int = STATE_SECONDS) -> None:
        self.db = db
        self.expiration = timedelta(seconds=expiration_seconds)
        self._logger = get_logger("adapters.slack_installs.bolt")

    @property
    def logger(self) -> logging.Logger:
        return self._logger

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(24)
        now = datetime.now(UTC)
        async with self.db.transaction() as conn:
            await stored.issue_state(conn, state, now + self.expiration, now)
        return state

    async def async_consume(self, state: str) -> bool:
        async with self.db.transaction() as conn:
            return await stored.consume_state(conn, state, datetime.now(UTC))
