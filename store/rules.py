"""Share-rule state between polls, keyed by `RuleSpec.key`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from bot.domain.rule_state import RuleState
from store.db import Conn, utc_iso


async def load_rule_states(conn: Conn) -> dict[str, RuleState]:
    async with conn.execute("SELECT key, streak, firing FROM rule_state") as cursor:
        return {str(key): RuleState(int(streak), bool(firing)) for key, streak, firing in await cursor.fetchall()}


async def save_rule_states(conn: Conn, states: Mapping[str, RuleState], now: datetime) -> None:
    await conn.executemany(
        "INSERT INTO rule_state (key, streak, firing, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET streak = excluded.streak, firing = excluded.firing,"
        " updated_at = excluded.updated_at",
        [(key, state.streak, int(state.firing), utc_iso(now)) for key, state in states.items()],
    )
