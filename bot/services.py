"""Connect a platform in the background, with backoff, so `run` polls whether or not it is reachable.

A platform that cannot be reached now (DNS, connection refused, a 503 from
its API, a websocket that does not open) is no reason to stop watching the
Hub: the poller runs, alerts wait in the outbox, and the connection is tried
again after 5 s, 10 s, … up to 5 minutes. What is wrong is said once (again
only when the reason changes), with when the next try is. Only a `ConfigError`
(a token the platform refuses, a setting that can never work) ends the
attempt: it is handed to `on_fatal`, which stops the process with that line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from bot.config import ConfigError
from bot.log import get_logger
from bot.retry import RECONNECT

log = get_logger(__name__)

MAX_RETRY = RECONNECT.cap


class Service(Protocol):
    """A connection to keep (gateway, socket, web server): started with `run`, closed at exit.

    `start` may be called again after it failed, and `close` whether or not it ever started.
    `name` is what its log lines call it.
    """

    name: str

    async def start(self) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ShardState:
    """One gateway connection of a platform, as `/healthz` and the log show it.

    `state`: "connected", "disconnected" (the library is reconnecting it), or "waiting" (not yet
    started: shards identify a few at a time). `latency_ms`: the last heartbeat's round trip, None
    before the first. `servers`: how many servers (Discord guilds) this shard carries.
    """

    platform: str
    shard_id: int
    shard_count: int
    state: Literal["connected", "disconnected", "waiting"]
    latency_ms: float | None
    servers: int


@runtime_checkable
class ReportsShards(Protocol):
    """A service with gateway connections whose states `/healthz` lists (Discord's shards)."""

    name: str

    def shard_states(self) -> Sequence[ShardState]: ...


def service_name(service: Service) -> str:
    return service.name


async def keep_connecting(service: Service, on_fatal: Callable[[ConfigError], None],
                          delay: Callable[[int], float] = RECONNECT.delay) -> bool:
    """Start `service`, retrying transient failures for as long as it takes; True once it started.

    Returns False after a `ConfigError` (passed to `on_fatal`). Cancel the task to give up.
    """
    name = service_name(service)
    failures = 0
    said = ""
    while True:
        try:
            await service.start()
        except ConfigError as exc:
            on_fatal(exc)
            return False
        except Exception as exc:  # unreachable, refused connection, 5xx, timeout: try again later
            failures += 1
            wait = delay(failures)
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if reason != said:
                log.warning("%s: cannot connect (%s); retrying in %.0fs and then with backoff up to %.0f min;"
                            " polling goes on and its alerts stay queued", name, reason, wait, MAX_RETRY / 60)
                said = reason
            else:
                log.info("%s: still cannot connect (attempt %d); next try in %.0fs", name, failures, wait)
            await asyncio.sleep(wait)  # a failed start cleans up after itself; `close` is for the end
            continue
        if failures:
            log.info("%s: connected after %d failed attempt(s)", name, failures)
        return True
