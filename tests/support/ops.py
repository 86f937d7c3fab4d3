"""The health and metrics endpoint read over HTTP, and a free loopback port for it."""

from __future__ import annotations

import json
import socket
from typing import Any

import aiohttp


async def get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as res:
        return res.status, await res.text()



def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def health(port: int) -> tuple[int, dict[str, Any]]:
    try:
        status, text = await get(port, "/healthz")
    except aiohttp.ClientConnectionError:
        return 0, {}
    return status, json.loads(text)
