"""A China desk channel on the fake Discord with three subscriptions, set up by real slash commands.

Shared by the command tests and the end-to-end test: `start_desk` runs the app (console and Discord adapters)
with discord.py's command tree on the fake gateway; `set_up_three_subscriptions` is what an admin types:

- `china`:   `/alerts subscribe kinds:entered subscription:china`, `/alerts filter countries:CN
  subscription:china`, `/alerts mention role:@china subscription:china` (CN entries, pinging @china);
- `weekly`:  `/alerts subscribe kinds:digest subscription:weekly` (the weekly digest, pinging nobody);
- `default`: `/alerts subscribe kinds:entered,share` (every entry and the share alerts, pinging nobody).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.console import ConsoleAdapter
from adapters.discord_commands import DiscordGateway
from adapters.discord_out import DiscordAdapter, make_client
from bot.app import Trendwatch
from bot.config import Secrets
from tests.fakes.discord_api import DEFAULT_MEMBER_PERMISSIONS, FakeDiscord
from tests.fakes.hub import FakeHub
from tests.support.app import settings_for
from tests.support.discord import MANAGE_CHANNELS, embed

CHINA_ROLE = "1500000000000000042"  # the @china role the China desk pings


def role_object(role_id: str, name: str) -> dict[str, Any]:
    """A role as Discord resolves it in an interaction's `data.resolved.roles`."""
    return {"id": role_id, "name": name, "color": 0, "hoist": False, "position": 1, "permissions": "0",
            "managed": False, "mentionable": True, "flags": 0}


@dataclass
class Desk:
    fake: FakeDiscord
    hub: FakeHub
    app: Trendwatch
    gateway: DiscordGateway

    @property
    def channel(self) -> int:
        return self.fake.channel_id

    async def alerts(self, subcommand: str, options: Mapping[str, Any] | None = None, *, role: str | None = None,
                     admin: bool = True, guild: int = -1, channel: int | None = None) -> dict[str, Any]:
        """`/alerts <subcommand>` with `options` (and a `role` option, resolved as Discord sends it); the answer."""
        raw = [{"name": key, "type": _type_of(value), "value": value} for key, value in (options or {}).items()]
        if role is not None:
            raw.append({"name": "role", "type": 8, "value": role})
        payload = self.fake.slash_command_payload(
            "alerts", raw, guild_id=guild, channel_id=channel, subcommand=subcommand,
            permissions=MANAGE_CHANNELS if admin else DEFAULT_MEMBER_PERMISSIONS)
        if role is not None:
            payload["data"]["resolved"] = {"roles": {role: role_object(role, "china")}}
        await self.fake.dispatch_interaction(payload)
        body: dict[str, Any] = await self.fake.wait_for_callback(int(payload["id"]))
        return body

    async def close(self) -> None:
        await self.gateway.close()
        await self.app.close()


def _type_of(value: object) -> int:
    """Discord's option types: boolean 5, integer 4, string 3."""
    if isinstance(value, bool):
        return 5
    return 4 if isinstance(value, int) else 3


async def start_desk(fake: FakeDiscord, hub: FakeHub, db: Path, **extra: Any) -> Desk:
    settings = settings_for(hub, db, discord={"enabled": True, "api_base": fake.api_base}, **extra)
    adapter = DiscordAdapter("fake-token", fake.api_base, client=make_client(guild_ready_timeout=0.05))
    app = await Trendwatch.open(settings, Secrets.from_env({}),
                                {"console": ConsoleAdapter("jsonl", io.StringIO()), "discord": adapter})
    assert await app.acquire_lease() is None
    gateway = DiscordGateway(adapter, app.db, app.settings, is_active=lambda: app.has_lease, ready_timeout=3)
    await gateway.start()
    return Desk(fake, hub, app, gateway)


def answered(body: dict[str, Any]) -> str:
    """The answer's title, after checking it is not an error (a setup step that failed says why)."""
    first = embed(body)
    assert first["title"] != "That did not work", first.get("description")
    return str(first["title"])


async def set_up_three_subscriptions(desk: Desk, channel: int | None = None) -> None:
    """The China desk's three subscriptions in one channel, as an admin types them (see the module docstring)."""
    async def step(subcommand: str, options: dict[str, Any], role: str | None = None) -> str:
        return answered(await desk.alerts(subcommand, options, role=role, channel=channel))

    assert await step("subscribe", {"kinds": "entered", "subscription": "china"}) == "Subscribed"
    assert await step("filter", {"countries": "CN", "subscription": "china"}) == "Filters set"
    assert await step("mention", {"subscription": "china"}, role=CHINA_ROLE) == "Mention set"
    assert await step("subscribe", {"kinds": "digest", "subscription": "weekly"}) == "Subscribed"
    assert await step("subscribe", {"kinds": "entered,share"}) == "Subscribed"
