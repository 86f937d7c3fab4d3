"""Slack test helpers: settings routed to the fake, slash commands sent as Slack sends them, outbox peeks."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bot.app import Trendwatch
from bot.config import Secrets, Settings, parse_settings
from tests.fakes.hub import FakeHub, ranked
from tests.fakes.slack_api import FakeSlack

SIGNING_SECRET = "test-signing-secret"
SECRETS = Secrets.from_env({"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_APP_TOKEN": "xapp-test",
                            "SLACK_SIGNING_SECRET": SIGNING_SECRET})


async def command(fake: FakeSlack, text: str, user: str = "UPLAIN", channel: str = "C1",
                  name: str = "/trending", team: str | None = None,
                  ) -> tuple[dict[str, Any], float, dict[str, Any], float]:
    """Send a slash command (from workspace `team`, default the fake's own); return (ack, seconds to ack,
    response_url body, seconds to answer)."""
    seen = len(fake.responses)
    started = time.monotonic()
    envelope = await fake.send_slash_command(command=name, text=text, user_id=user, channel_id=channel,
                                             team_id=team)
    ack = await fake.wait_for_ack(envelope, timeout=3)
    acked = time.monotonic() - started
    await fake.wait_until(lambda: len(fake.responses) > seen, timeout=8)
    return ack, acked, fake.responses[seen].body, time.monotonic() - started


def title(body: dict[str, Any]) -> str:
    return str(body["blocks"][0]["text"]["text"])


def body_text(body: dict[str, Any]) -> str:
    return "\n".join(b["text"]["text"] for b in body["blocks"] if b["type"] == "section" and "text" in b)


CN = [f"Qwen/q{i}" for i in range(10)]


US = [f"meta-llama/l{i}" for i in range(10)]


SLACK_ENV = {"SLACK_BOT_TOKEN": "xoxb-test"}


def settings_for(hub: FakeHub | None, slack: FakeSlack, db: Path, channels: tuple[str, ...] = ("C1",),
                 **extra: Any) -> Settings:
    data: dict[str, Any] = {
        "store": {"path": str(db)},
        "console": {"enabled": False},
        "slack": {"enabled": True, "api_url": slack.api_url},
        "routes": [{"platform": "slack", "channel": channel, "kinds": ["entered", "new_leader", "share", "digest"]}
                   for channel in channels],
        "share_rules": [{"country": "CN", "above": 50}],
        **extra,
    }
    if hub is not None:
        data["hub"] = {"endpoint": hub.endpoint, "retry_budget": "2s"}
    return parse_settings(data, env={})


async def two_polls(app: Trendwatch, hub: FakeHub) -> None:
    hub.models = ranked(US[:6] + CN[:4])
    await app.poll()
    hub.models = ranked(CN[:6] + US[:4])
    await app.poll()


async def due_now(app: Trendwatch) -> None:
    """What the next delivery pass after the backoff would see."""
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00.000000Z'")


async def pending_rows(app: Trendwatch) -> list[tuple[str, str | None]]:
    async with app.db.conn.execute(
        "SELECT next_attempt_at, last_error FROM outbox WHERE status = 'pending' ORDER BY id"
    ) as cursor:
        return [(str(row[0]), row[1]) for row in await cursor.fetchall()]
