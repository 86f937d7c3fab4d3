"""Discord test helpers: settings routed to the fake, an app whose Discord client talks to it, embeds read back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adapters.discord_out import DiscordAdapter
from bot.app import Trendwatch
from bot.config import Secrets, Settings
from tests.fakes.discord_api import DEFAULT_MEMBER_PERMISSIONS, FakeDiscord
from tests.fakes.hub import FakeHub, ranked
from tests.support.app import CN, US, settings_for

MANAGE_CHANNELS = str(int(DEFAULT_MEMBER_PERMISSIONS) | (1 << 4))


def embed(body: dict[str, Any]) -> dict[str, Any]:
    first: dict[str, Any] = body["data"]["embeds"][0]
    return first


def ephemeral(body: dict[str, Any]) -> bool:
    return bool(int(body["data"].get("flags") or 0) & 64)


def discord_settings(hub: FakeHub, fake: FakeDiscord, db: Path, **extra: Any) -> Settings:
    return settings_for(hub, db, routes=[{"platform": "discord", "channel": str(fake.channel_id)}],
                        discord={"enabled": True, "api_base": fake.api_base}, console={"enabled": False}, **extra)


async def open_discord_app(settings: Settings) -> Trendwatch:
    adapter = DiscordAdapter("fake-token", api_base=settings.discord.api_base)
    app = await Trendwatch.open(settings, Secrets.from_env({}), {"discord": adapter})
    assert await app.acquire_lease() is None
    return app


async def poll_baseline_then_change(app: Trendwatch, hub: FakeHub) -> None:
    hub.models = ranked(US[:8] + CN[:2])
    await app.poll()
    hub.models = ranked(CN[:5] + US[:5])  # three entries, a new #1, CN reaching 50%: three alerts
    await app.poll()


async def slash_alerts(fake: FakeDiscord, subcommand: str, options: Any = None, *, guild: int, channel: int,
                       admin: bool = True) -> dict[str, Any]:
    """`/alerts <subcommand>` from a channel manager (or, `admin=False`, a plain member) of `guild`; the answer."""
    payload = fake.slash_command_payload("alerts", options, guild_id=guild, channel_id=channel, subcommand=subcommand,
                                         permissions=MANAGE_CHANNELS if admin else DEFAULT_MEMBER_PERMISSIONS)
    await fake.dispatch_interaction(payload)
    body: dict[str, Any] = await fake.wait_for_callback(int(payload["id"]))
    return body
