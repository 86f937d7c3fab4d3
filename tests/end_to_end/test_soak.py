"""Soak: `python -m bot run` for a few hundred polls against the fake Hub, Discord and Slack, with random faults.

What an operator who leaves the bot alone for months relies on, checked at the end of a compressed run:
every alert decided was delivered or is still queued with a reason, no channel got an alert twice beyond
the stated bound, the log holds no traceback, and the process's memory stays flat.

Bounded: `SOAK_POLLS` polls (default 200) or `SOAK_SECONDS` (default 270 s), whichever comes first; the
random faults follow `SOAK_SEED` (printed, so a failure can be replayed).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.discord_api import FakeDiscord, FakeGuild
from tests.fakes.hub import FakeHub, ranked
from tests.fakes.slack_api import FakeSlack
from tests.support.cli import REPO
from tests.support.stores import count, query

pytestmark = pytest.mark.soak

POLLS = int(os.environ.get("SOAK_POLLS", "200"))
SECONDS = float(os.environ.get("SOAK_SECONDS", "270"))
CALM_MAX = 240  # seconds the healed bot may take to drain what the faults held back
STALL = 30  # seconds without one alert sent while some are pending: stuck, not slow
SEED = int(os.environ.get("SOAK_SEED", str(random.SystemRandom().randrange(1_000_000))))

# Namespaces from bot/data/orgs.toml, so shares move and share rules fire.
POOL = (
    [f"Qwen/Qwen-soak-{i}" for i in range(8)]
    + [f"deepseek-ai/DeepSeek-soak-{i}" for i in range(4)]
    + [f"meta-llama/Llama-soak-{i}" for i in range(6)]
    + [f"google/gemma-soak-{i}" for i in range(6)]
    + [f"mistralai/Mistral-soak-{i}" for i in range(4)]
)
DISCORD_CHANNELS = (910001, 910002, 910003)
SLACK_CHANNELS = ("CSOAK1", "CSOAK2", "CSOAK3")
DUPLICATES_PER_ALERT = 1  # README "Delivery": at most one resend of a post whose outcome is unknown


@dataclass
class Tally:
    """What the fault injector did, for the report and the assertions."""

    hub: Counter[str] = field(default_factory=Counter)
    platform: Counter[str] = field(default_factory=Counter)


def config(path: Path, hub: FakeHub, discord: FakeDiscord, slack: FakeSlack, db: Path) -> Path:
    routes = "".join(
        f'\n[[routes]]\nplatform = "discord"\nchannel = "{cid}"\nkinds = ["entered", "new_leader", "share", "source"]\n'
        for cid in DISCORD_CHANNELS
    ) + "".join(
        f'\n[[routes]]\nplatform = "slack"\nchannel = "{cid}"\nkinds = ["entered", "new_leader", "share", "source"]\n'
        for cid in SLACK_CHANNELS
    )
    path.write_text(
        f"""
[hub]
endpoint = "{hub.endpoint}"
top_n = 10
depth = 20
poll_interval = "1s"
request_timeout = "1s"
retry_budget = "2s"
failures_before_notice = 2
lineage_lookups = 0

[store]
path = "{db}"

[console]
enabled = true
format = "jsonl"

[delivery]
interval = "1s"
max_backoff = "2s"

[discord]
enabled = true
api_base = "{discord.api_base}"

[slack]
enabled = true
api_url = "{slack.api_url}"
mode = "socket"

[digest]
enabled = false

[[share_rules]]
country = "CN"
above = 50
notify_resolved = true

[[share_rules]]
country = "US"
below = 20
{routes}
""",
        encoding="utf-8",
    )
    return path


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def hub_fault(hub: FakeHub, rng: random.Random, tally: Tally) -> None:
    """One fault the real Hub has shown, at random, for the next listing request."""
    models = hub.models
    kind = rng.choice(["503", "429", "non-json", "truncated", "short", "drift", "slow", "empty"])
    tally.hub[kind] += 1
    if kind == "503":
        hub.fail(503)
    elif kind == "429":
        hub.fail(429, retry_after=1)
    elif kind == "non-json":
        hub.answer_raw("<html>upstream error</html>")
    elif kind == "truncated":
        hub.answer_raw(json.dumps(models)[:200])
    elif kind == "short":
        hub.answer_raw(json.dumps(models[:3]))
    elif kind == "drift":
        drifted = [dict(m) for m in models]
        drifted[0]["likes"] = "lots"
        drifted[1]["trendingScore"] = "x"
        drifted[2]["pipeline_tag"] = ["text-generation"]
        drifted[3]["likes"] = 2**70
        hub.answer_raw(json.dumps(drifted))
    elif kind == "slow":
        hub.slow(1.5)  # past request_timeout: the client gives up and retries
    else:
        hub.answer_raw("[]")


def platform_fault(discord: FakeDiscord, slack: FakeSlack, rng: random.Random, tally: Tally) -> Callable[[], None]:
    """Start one platform fault; returns what heals it."""
    kind = rng.choice(["discord-429", "discord-5xx", "discord-slow", "slack-429", "slack-5xx", "slack-auth",
                       "discord-auth", "slack-reconnect", "discord-gone", "slack-scope", "slack-drop",
                       "slack-slow", "discord-drop", "discord-token"])
    tally.platform[kind] += 1
    channel = rng.choice(DISCORD_CHANNELS)
    if kind == "discord-429":
        discord.rate_limit_next(channel, retry_after=0.5, count=2)
    elif kind == "discord-5xx":
        discord.fail_channel(channel, rng.choice([500, 502, 503]), times=2)
        return lambda: discord.heal_channel(channel)
    elif kind == "discord-slow":
        discord.delay(0.4)
        return lambda: discord.delay(0)
    elif kind == "discord-auth":
        discord.fail_channel(channel, 401)
        return lambda: discord.heal_channel(channel)
    elif kind == "discord-gone":
        discord.fail_channel(DISCORD_CHANNELS[-1], rng.choice([403, 404]))  # paused for good: queued, with a reason
    elif kind == "discord-drop":
        discord.drop_next()  # the message is created, the answer never comes: the nonce must dedupe the resend
    elif kind == "discord-token":
        discord.refuse_token(True)
        return lambda: discord.refuse_token(False)
    elif kind == "slack-scope":
        slack.remove_scope("chat:write")  # missing_scope: pause nothing, keep alerts queued
        return lambda: slack.add_scope("chat:write")
    elif kind == "slack-drop":
        slack.drop_next("chat.postMessage")  # posted, no answer: unconfirmed, resent at most once
    elif kind == "slack-slow":
        slack.delay(0.5, "chat.postMessage")
        return lambda: slack.delay(0)
    elif kind == "slack-429":
        slack.rate_limit_next("chat.postMessage", retry_after=1, count=2)
    elif kind == "slack-5xx":
        slack.server_error_next(2, status=rng.choice([500, 503]))
    elif kind == "slack-auth":
        slack.fail_auth("invalid_auth")
        return slack.heal_auth
    else:
        asyncio.get_running_loop().create_task(slack.send_disconnect())
    return lambda: None


def shuffle_world(hub: FakeHub, rng: random.Random) -> None:
    """The trending list moves: a few swaps, sometimes a newcomer from outside the list."""
    ids = [m["id"] for m in hub.models]
    for _ in range(rng.randint(1, 3)):
        i, j = rng.randrange(len(ids)), rng.randrange(len(ids))
        ids[i], ids[j] = ids[j], ids[i]
    if rng.random() < 0.5:
        outside = [m for m in POOL if m not in ids]
        ids[rng.randrange(10)] = rng.choice(outside)
    hub.models = ranked(ids)


@pytest.fixture
async def platforms() -> AsyncIterator[tuple[FakeDiscord, FakeSlack]]:
    async with FakeDiscord(guilds=[FakeGuild(channel_ids=DISCORD_CHANNELS)]) as discord, FakeSlack() as slack:
        yield discord, slack


def outbox_rows(db: Path) -> list[tuple[Any, ...]]:
    return query(
        db, "SELECT o.event_id, o.destination_id, o.status, o.last_error, d.platform, d.channel, d.paused_reason"
        " FROM outbox o JOIN destinations d ON d.id = o.destination_id")


async def test_months_unattended_in_minutes(fake_hub: FakeHub, platforms: tuple[FakeDiscord, FakeSlack],
                                            tmp_path: Path, db_path: Path) -> None:
    """On both stores: the same faults, through a SQLite file or a PostgreSQL database."""
    discord, slack = platforms
    rng = random.Random(SEED)
    print(f"soak seed {SEED}: SOAK_SEED={SEED} replays these faults")
    fake_hub.models = ranked(POOL[:20])
    discord.fail_route("PUT", "/commands", 503, count=2)  # command sync Discord cannot take at start
    db = db_path
    path = config(tmp_path / "soak.toml", fake_hub, discord, slack, db)
    env = {**os.environ, "DISCORD_TOKEN": "soak-discord", "SLACK_BOT_TOKEN": "xoxb-soak",
           "SLACK_APP_TOKEN": "xapp-soak"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=REPO,
    )
    stdout_lines: list[bytes] = []
    stderr_lines: list[bytes] = []

    async def drain(stream: asyncio.StreamReader | None, into: list[bytes]) -> None:
        assert stream is not None
        while line := await stream.readline():
            into.append(line)

    readers = [asyncio.create_task(drain(process.stdout, stdout_lines)),
               asyncio.create_task(drain(process.stderr, stderr_lines))]
    tally = Tally()
    heals: list[Callable[[], None]] = []
    memory: list[int] = []
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        last_seen = 0
        sampled = started
        while len(fake_hub.list_requests) < POLLS and loop.time() - started < SECONDS:
            assert process.returncode is None, b"".join(stderr_lines).decode()[-3000:]
            await asyncio.sleep(0.5)
            if len(fake_hub.list_requests) == last_seen:
                continue
            last_seen = len(fake_hub.list_requests)
            shuffle_world(fake_hub, rng)
            if rng.random() < 0.3 and not fake_hub.faults:
                hub_fault(fake_hub, rng, tally)
            if rng.random() < 0.15:
                heals.append(platform_fault(discord, slack, rng, tally))
            if rng.random() < 0.2 and heals:
                heals.pop(0)()
            if loop.time() - sampled >= 10:
                sampled = loop.time()
                memory.append(rss_kib(process.pid))
        polls = len(fake_hub.list_requests)

        # Calm: heal every fault, let the outbox drain.
        for heal in heals:
            heal()
        fake_hub.faults.clear()

        def unsettled() -> int:
            return sum(status == "pending" and not paused for _, _, status, _, _, _, paused in outbox_rows(db))

        # The backlog the faults left drains at the pace the platforms allow (Slack's pace, learned from the
        # workspace's 429s, can be under one post a second for the whole workspace): as long as it keeps
        # draining, wait; a backlog that stops moving for STALL seconds is the failure this looks for.
        calm = loop.time()
        last, moved = unsettled(), loop.time()
        async with asyncio.timeout(CALM_MAX):
            while last:
                await asyncio.sleep(0.5)
                if (now_left := unsettled()) != last:
                    last, moved = now_left, loop.time()
                assert loop.time() - moved < STALL, f"{last} alert(s) pending, none sent for {STALL:g} s after the calm"
        print(f"soak: the backlog drained {loop.time() - calm:.0f} s after the faults were healed")
        memory.append(rss_kib(process.pid))
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await process.wait()
        await asyncio.gather(*readers)
    err = b"".join(stderr_lines).decode()
    rows = outbox_rows(db)
    decided = len(rows)
    delivered = sum(1 for row in rows if row[2] == "delivered")
    queued_with_reason = [row for row in rows if row[2] != "delivered" and (row[3] or row[6])]
    unexplained = [row for row in rows if row[2] != "delivered" and not (row[3] or row[6])]

    # Duplicates: the same alert key posted more than once to one channel.
    discord_keys = Counter((cid, str(m.get("nonce"))) for cid in DISCORD_CHANNELS for m in discord.messages(cid))
    slack_keys = Counter(
        (post["channel"], (post.get("metadata") or {}).get("event_payload", {}).get("key")) for post in slack.posts()
    )
    repeats = sum(n - 1 for n in discord_keys.values() if n > 1) + sum(n - 1 for n in slack_keys.values() if n > 1)
    worst = max([*discord_keys.values(), *slack_keys.values(), 1])
    snapshots_stored = count(db, "SELECT COUNT(*) FROM snapshots")
    short_snapshots = count(db, "SELECT COUNT(*) FROM snapshots s WHERE (SELECT COUNT(*) FROM entries e"
                                " WHERE e.snapshot_id = s.id) < 10")
    report = {
        "seed": SEED, "polls": polls, "snapshots": snapshots_stored, "hub_faults": dict(tally.hub),
        "platform_faults": dict(tally.platform), "alerts_decided": decided, "delivered": delivered,
        "queued_with_reason": len(queued_with_reason), "duplicates": repeats,
        "rss_kib": memory, "seconds": round(loop.time() - started, 1),
        "console_alerts": len(stdout_lines),
    }
    print("soak report:", json.dumps(report))
    assert process.returncode == 0, err[-3000:]
    if "Traceback" in err:
        at = err.index("Traceback")
        pytest.fail("a traceback in the log:\n" + err[max(0, at - 300):at + 4000], pytrace=False)
    assert polls >= min(POLLS, 100), report
    assert decided > 0 and delivered > 0, report
    assert not unexplained, unexplained[:5]
    assert short_snapshots == 0, "an unusable (short) answer was stored as a snapshot"
    assert worst <= 1 + DUPLICATES_PER_ALERT, (report, discord_keys.most_common(3), slack_keys.most_common(3))
    steady = memory[len(memory) // 3:] if len(memory) >= 3 else memory
    assert max(steady) <= min(steady) * 1.15 + 8 * 1024, report  # flat: no growth with polls
