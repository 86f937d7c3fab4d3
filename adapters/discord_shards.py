"""Discord's gateway in shards: how many, which of them this process runs, how fast they identify, how each is.

Discord sends a server's events (its slash commands, the bot joining or leaving it) down exactly one
gateway connection, its shard: `(guild_id >> 22) % shard_count`. One connection may carry at most
2,500 servers (Discord closes it with 4011 beyond that) and Discord recommends a count in
`GET /gateway/bot` (`shards`), so the bot asks and runs that many, all in this process, unless
`[discord] shard_count` fixes the count; `[discord] shard_ids` then names the shards this process
runs, so several processes share the gateway, each with its own servers.

Starting a shard (IDENTIFY) is rate limited: `max_concurrency` identifies per 5 s, shards sharing
`shard_id % max_concurrency` queueing behind each other. discord.py's own hook waits 5 s before every
identify but the first; `IdentifyQueue` waits only where Discord's limit says so, so a large bot
(max_concurrency 16 and more) brings its shards up in parallel.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import discord

from bot.delivery.adapter import DeliveryError
from bot.services import ShardState

IDENTIFY_WINDOW = 5.0  # seconds: Discord lets max_concurrency shards identify per window
MAX_SERVERS_PER_SHARD = 2500  # Discord closes a shard carrying more with 4011 (sharding required)


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a server's events to (Discord's formula, also discord.py's)."""
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True, slots=True)
class SessionStartLimit:
    """`session_start_limit` of `GET /gateway/bot`: identifies left today, and how many may run at once."""

    total: int
    remaining: int
    reset_after_ms: int
    max_concurrency: int

    @classmethod
    def from_payload(cls, data: Any) -> SessionStartLimit:
        return cls(int(data["total"]), int(data["remaining"]), int(data["reset_after"]),
                   max(1, int(data.get("max_concurrency") or 1)))


@dataclass(frozen=True, slots=True)
class ShardPlan:
    """The shards this process runs: `ids` of `count` (Discord recommended `recommended`)."""

    count: int
    ids: tuple[int, ...]
    recommended: int
    max_concurrency: int

    @property
    def whole(self) -> bool:
        """Does this process run every shard (no other process shares the gateway)?"""
        return len(self.ids) == self.count

    def describe(self) -> str:
        """For the start-up log: "3 shards (as Discord recommends); this process runs 0, 1, 2; ..."."""
        source = "as Discord recommends" if self.count == self.recommended else \
            f"[discord] shard_count; Discord recommends {self.recommended}"
        which = "all of them" if self.whole else ", ".join(map(str, self.ids))
        return (f"{self.count} shard{'s' if self.count != 1 else ''} ({source}); this process runs {which};"
                f" {self.max_concurrency} identif{'ies' if self.max_concurrency != 1 else 'y'}"
                f" per {IDENTIFY_WINDOW:g} s")


def plan_shards(recommended: int, limit: SessionStartLimit, shard_count: int | None,
                shard_ids: Sequence[int] | None) -> ShardPlan:
    """Discord's answer and the config, made one plan; DeliveryError when Discord allows too few identifies now.

    Every shard started spends one of the day's session starts (1,000 for most bots); running out
    resets the bot's token, so the bot waits (and `keep_connecting` retries) rather than start some.
    """
    count = shard_count or max(1, recommended)
    ids = tuple(shard_ids) if shard_ids else tuple(range(count))
    if limit.remaining < len(ids):
        hours = limit.reset_after_ms / 3_600_000
        raise DeliveryError(f"Discord allows {limit.remaining} more gateway session start(s) until its limit resets"
                            f" in {hours:.1f} h; this process starts {len(ids)} shard(s), so it waits")
    return ShardPlan(count, ids, max(1, recommended), limit.max_concurrency)


class IdentifyQueue:
    """Shards identify no faster than Discord allows: one per rate-limit key (`shard_id % max_concurrency`) per 5 s.

    The first identify of each key goes at once; each next one of that key 5 s after the previous.
    Reconnects (re-identifies) queue the same way. Within one process only: processes splitting the
    gateway with `shard_ids` start a window apart (or have keys of their own, with a higher max_concurrency).
    """

    def __init__(self, max_concurrency: int = 1, window: float = IDENTIFY_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_concurrency = max(1, max_concurrency)
        self.window = window
        self.clock = clock
        self._next: dict[int, float] = {}

    def reserve(self, shard_id: int) -> float:
        """Take the next turn of this shard's key; the seconds to wait for it."""
        key = shard_id % self.max_concurrency
        now = self.clock()
        turn = max(now, self._next.get(key, now))
        self._next[key] = turn + self.window
        return turn - now

    async def wait(self, shard_id: int) -> None:
        delay = self.reserve(shard_id)
        if delay > 0:
            await asyncio.sleep(delay)


class ShardedClient(discord.AutoShardedClient):
    """discord.py's AutoShardedClient, identifying as Discord's `max_concurrency` allows (`IdentifyQueue`)."""

    identify_queue: IdentifyQueue

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.identify_queue = IdentifyQueue()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        await self.identify_queue.wait(shard_id or 0)

    def use_plan(self, plan: ShardPlan) -> None:
        """Run `plan`'s shards on the next `connect` (set before it: discord.py reads them when it launches)."""
        self.shard_count = plan.count
        self.shard_ids = list(plan.ids)
        self.identify_queue = IdentifyQueue(plan.max_concurrency)


def shard_states(client: discord.AutoShardedClient, plan: ShardPlan | None) -> list[ShardState]:
    """Each planned shard's state, latency and servers, from discord.py's live objects."""
    if plan is None:
        return []
    servers = dict.fromkeys(plan.ids, 0)
    for guild in client.guilds:
        if guild.shard_id in servers:
            servers[guild.shard_id] += 1
    states = []
    for shard_id in plan.ids:
        info = client.get_shard(shard_id)
        if info is None:
            states.append(ShardState("discord", shard_id, plan.count, "waiting", None, servers[shard_id]))
            continue
        latency = info.latency
        states.append(ShardState("discord", shard_id, plan.count,
                                 "disconnected" if info.is_closed() else "connected",
                                 round(latency * 1000, 1) if math.isfinite(latency) else None,
                                 servers[shard_id]))
    return states
