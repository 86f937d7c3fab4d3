"""Running `python -m bot` as a user would, and writing the config files it reads."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes.hub import FakeHub

REPO = Path(__file__).resolve().parents[2]


CN = [f"Qwen/q{i}" for i in range(10)]


US = [f"meta-llama/l{i}" for i in range(10)]


@dataclass
class Run:
    code: int
    out: str
    err: str

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(text) for text in self.out.splitlines() if text.strip()]


async def bot(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    full_env = {**os.environ, **(env or {})}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=full_env, cwd=cwd or REPO,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


def write_config(path: Path, hub: FakeHub, db: Path, extra: str = "", hub_extra: str = "",
                 store_extra: str = "") -> Path:
    path.write_text(
        f"""
[hub]
endpoint = "{hub.endpoint}"
top_n = 10
retry_budget = "2s"
{hub_extra}

[store]
path = "{db}"
{store_extra}

[console]
enabled = true
format = "jsonl"

[[share_rules]]
country = "CN"
above = 50
{extra}
""",
        encoding="utf-8",
    )
    return path
