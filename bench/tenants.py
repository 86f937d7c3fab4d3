"""One alert to 1,000 Slack workspaces with 2 channels each, by one and then by two deliverers on one PostgreSQL.

Whole `python -m bot run` processes, as deployed: they poll FakeHub (one of them, elected by the
lease), queue one alert per channel in the outbox, and deliver it through the Slack adapter and
slack_sdk to FakeSlack, which answers every post after `--latency` (200 ms, a real round trip).
Each run gets a fresh database on a throwaway PostgreSQL server (fsync off, as in the tests).

The time is read from the store: from the moment the poll queued the alert (its outbox rows'
`created_at`) to the last row marked delivered, so it includes hearing the alert (NOTIFY), claiming
channels and marking every post. The bound is Little's law: with at most `in_flight` sends waiting
for an answer, `messages` sends take at least messages × latency / in_flight; one deliverer keeps
`[delivery] concurrency` in flight, two keep twice that.

The deployment is an "Add to Slack" one (`[slack] oauth = true`, HTTP mode): the 1,000 workspaces
are installed in the store before the processes start (each with its own bot token, sealed with
TRENDWATCH_SECRET_KEY, as the OAuth flow leaves them), and each post goes out with its own
workspace's token; the fake checks every token and the bench checks that each workspace heard with
its own. The fake enforces no rate limit: each workspace's own limits are far from reached by two posts.

    python -m bench.tenants [--workspaces 1000] [--channels 2] [--latency 0.2] [--concurrency 100]
                            [--rounds 3] [--store postgresql|URL]

Each figure is the median of `--rounds` fan-outs (one and two deliverers alternating). The CPU
each deliverer used is printed beside its time: where the machine cannot give the deliverers, the
fake Slack and PostgreSQL the CPU a fan-out needs at the cap's rate, the time says so, not the design.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from slack_sdk.oauth.installation_store import Installation

from adapters.slack_installs import StoredInstallations
from bench.measure import VERDICTS
from store.db import Database, from_iso, open_database
from store.sealing import Sealer, new_key
from tests.fakes.hub import FakeHub, ranked
from tests.fakes.slack_api import FakeSlack
from tests.support.ops import free_port
from tests.support.postgres import PostgresServer, start_server

MODELS = [f"meta-llama/l{i}" for i in range(11)]
REPO = Path(__file__).resolve().parent.parent
BOUND_RATIO = 1.2  # one deliverer: at most this × the bound its in-flight cap sets
SCALE_OUT = 1.8  # two deliverers: at least this × as fast as one
READY = "trendwatch running"
CLIENT_ID, CLIENT_SECRET = "1111.2222", "bench-client-secret"  # the app's OAuth credentials, as the fake knows them


def little_bound(messages: int, latency: float, in_flight: int) -> float:
    """The least time `messages` sends take when at most `in_flight` wait `latency` each for their answer."""
    return messages * latency / in_flight


def channel_ids(workspaces: int, per_workspace: int) -> list[str]:
    """Slack-shaped channel ids, grouped by workspace (C + workspace number + channel number)."""
    return [f"C{workspace:05d}{n:02d}" for workspace in range(workspaces) for n in range(per_workspace)]


def config_text(hub: FakeHub, slack: FakeSlack, url: str, channels: list[str], concurrency: int, port: int) -> str:
    routes = "".join(f'[[routes]]\nplatform = "slack"\nchannel = "{c}"\n\n' for c in channels)
    return (f'[hub]\nendpoint = "{hub.endpoint}"\npoll_interval = "1s"\nretry_budget = "2s"\n\n'
            f'[store]\nurl = "{url}"\n\n[console]\nenabled = false\n\n'
            f'[delivery]\ninterval = "30s"\nconcurrency = {concurrency}\n\n'
            f'[slack]\nenabled = true\nmode = "http"\nport = {port}\noauth = true\napi_url = "{slack.api_url}"\n\n'
            f'{routes}')


def team_of(channel: str) -> str:
    """The workspace a bench channel belongs to (`channel_ids`: C + workspace number + channel number)."""
    return "T" + channel[1:6]


async def install_workspaces(url: str, slack: FakeSlack, channels: list[str], key: str) -> dict[str, str]:
    """Every workspace installed as "Add to Slack" leaves it (a sealed bot token each), and every channel
    known to be in its workspace; the fake grants the tokens. Returns each workspace's token."""
    db = await open_database(url)
    try:
        installations = StoredInstallations(db, Sealer.from_value(key), CLIENT_ID, client_secret=CLIENT_SECRET,
                                            api_url=slack.api_url)
        tokens: dict[str, str] = {}
        for channel in channels:
            team = team_of(channel)
            if team not in tokens:
                workspace = slack.add_workspace(team)
                tokens[team] = slack.grant_bot_token(team)
                await installations.async_save(Installation(
                    team_id=team, team_name=workspace.name, bot_token=tokens[team], bot_id=workspace.bot_id,
                    bot_user_id=workspace.bot_user_id, user_id="UINSTALLER", installed_at=time.time()))
            await installations.remember_channel(channel, team, None)
    finally:
        await db.close()
    return tokens


async def until(predicate: Callable[[], bool], seconds: float = 300.0, every: float = 0.1) -> None:
    async with asyncio.timeout(seconds):
        while not predicate():
            await asyncio.sleep(every)


async def scalar(db: Database, sql: str) -> object:
    row = await (await db.conn.execute(sql)).fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class FanOut:
    seconds: float  # from the alert queued to its last post answered
    lost: int
    duplicated: int
    shares: list[int]  # posts each deliverer made
    cpu: list[float]  # CPU seconds each deliverer used from the baseline poll to the end
    wrong_token: int = 0  # posts that did not carry their own workspace's token
    sending: float = 0.0  # from the first post reaching Slack to the last one's answer


async def fan_out(server: PostgresServer, deliverers: int, channels: list[str], latency: float,
                  concurrency: int, tmp: Path) -> FanOut:
    """One fan-out by `deliverers` fresh `run` processes on a fresh database."""
    url = server.fresh_url()
    async with FakeHub() as hub, FakeSlack() as slack:
        slack.oauth_app(CLIENT_ID, CLIENT_SECRET)  # from now on only tokens the fake granted are accepted
        key = new_key()
        tokens = await install_workspaces(url, slack, channels, key)
        slack.delay(latency, "chat.postMessage")
        hub.models = ranked(MODELS[:10])
        logs = [tmp / f"deliverer-{deliverers}-{n}.log" for n in range(deliverers)]
        workers = []
        for n, log in enumerate(logs):
            config = tmp / f"tenants-{deliverers}-{n}.toml"
            config.write_text(config_text(hub, slack, url, channels, concurrency, free_port()), encoding="utf-8")
            with log.open("wb") as err:
                workers.append(await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "run", "--config", str(config), cwd=REPO,
                    env={**{k: v for k, v in os.environ.items() if k != "SLACK_BOT_TOKEN"},
                         "SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET,
                         "SLACK_SIGNING_SECRET": "bench-signing-secret", "TRENDWATCH_SECRET_KEY": key},
                    stdout=asyncio.subprocess.DEVNULL, stderr=err))
        db: Database | None = None
        try:
            # Every process listening for alerts, and the baseline poll stored: the next poll queues the alert.
            await until(lambda: all(READY in log.read_text(errors="replace") for log in logs))
            db = await open_database(url)  # one connection for the whole watch, not one per look
            while not await scalar(db, "SELECT COUNT(*) FROM snapshots"):
                await asyncio.sleep(0.1)
            cpu_before = [cpu_seconds(worker.pid) for worker in workers]
            hub.models = ranked(MODELS[:9] + MODELS[10:])  # one model enters: one alert per channel
            while await scalar(db, "SELECT COUNT(*) FROM outbox WHERE status = 'delivered'") != len(channels):
                await asyncio.sleep(0.2)
                if any(worker.returncode is not None for worker in workers):
                    raise RuntimeError(f"a deliverer stopped; see {', '.join(map(str, logs))}")
            cpu = [cpu_seconds(worker.pid) - before for worker, before in zip(workers, cpu_before, strict=True)]
            queued = from_iso(str(await scalar(db, "SELECT MIN(created_at) FROM outbox")))
            done = from_iso(str(await scalar(db, "SELECT MAX(delivered_at) FROM outbox")))
            by = await (await db.conn.execute("SELECT COUNT(*) FROM outbox GROUP BY claimed_by")).fetchall()
            shares = [int(row[0]) for row in by]
        finally:
            if db is not None:
                await db.close()
            for worker in workers:
                if worker.returncode is None:
                    worker.send_signal(signal.SIGTERM)
            for worker in workers:
                await asyncio.wait_for(worker.wait(), timeout=60)
        copies = Counter(post["channel"] for post in slack.posts())
        posts = slack.calls_to("chat.postMessage")
        sending = max(call.at for call in posts) - min(call.at for call in posts) + latency if posts else 0.0
        wrong_token = sum(1 for call in posts if call.token != tokens[team_of(str(call.params.get("channel")))])
    return FanOut((done - queued).total_seconds(), len(set(channels) - set(copies)),
                  sum(n - 1 for n in copies.values()), sorted(shares, reverse=True), cpu, wrong_token, sending)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def main(argv: list[str] | None = None) -> bool:
    from bot.config import DeliverySettings

    parser = argparse.ArgumentParser(prog="python -m bench.tenants", description=__doc__.split("\n")[0])
    parser.add_argument("--workspaces", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=2, help="channels per workspace")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds FakeSlack takes to answer a post")
    parser.add_argument("--concurrency", type=int, default=DeliverySettings().concurrency,
                        help="[delivery] concurrency: most sends in flight per deliverer")
    parser.add_argument("--rounds", type=int, default=3, help="fan-outs of each kind; the median is judged")
    parser.add_argument("--store", default="postgresql", help="postgresql (a throwaway server) or a URL")
    args = parser.parse_args(argv if argv is not None else [])
    os.environ.setdefault("HF_HOME", tempfile.mkdtemp(prefix="bench-hf-"))
    for proxy in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):  # slack_sdk ignores NO_PROXY
        os.environ.pop(proxy, None)
    if args.store != "postgresql":
        os.environ["TRENDWATCH_TEST_POSTGRES"] = args.store
    channels = channel_ids(args.workspaces, args.channels)
    messages = len(channels)
    print(f"one alert to {args.workspaces} Slack workspaces × {args.channels} channels = {messages} posts,"
          f" {args.latency * 1000:g} ms answers, at most {args.concurrency} sends in flight per deliverer"
          " (each workspace installed with its own token); `run` processes on one PostgreSQL")
    print(f"goal: one deliverer within {BOUND_RATIO}x of the bound its in-flight cap sets"
          f" (messages × latency / in flight); two deliverers at least {SCALE_OUT}x as fast as one;"
          f" nothing lost or duplicated; load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    server = start_server()
    runs: dict[int, list[FanOut]] = {1: [], 2: []}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-tenants-") as tmp:
            for _ in range(args.rounds):  # alternating, so a busy moment of the machine hits both alike
                for deliverers in (1, 2):
                    runs[deliverers].append(await fan_out(server, deliverers, channels, args.latency,
                                                          args.concurrency, Path(tmp)))
    finally:
        server.stop()
    for deliverers, done in runs.items():
        print(f"{deliverers} deliverer(s), each round: "
              + "; ".join(f"{run.seconds:.2f} s, sending {run.sending:.2f} s"
                          f" (posts per deliverer {'+'.join(map(str, run.shares))},"
                          f" CPU s {'+'.join(f'{cpu:.1f}' for cpu in run.cpu)})" for run in done))
    one = statistics.median(run.seconds for run in runs[1])
    two = statistics.median(run.seconds for run in runs[2])
    bound_1 = little_bound(messages, args.latency, args.concurrency)
    bound_2 = little_bound(messages, args.latency, 2 * args.concurrency)
    lost = sum(run.lost for done in runs.values() for run in done)
    duplicated = sum(run.duplicated for done in runs.values() for run in done)
    wrong = sum(run.wrong_token for done in runs.values() for run in done)
    intact = lost == duplicated == wrong == 0
    near_bound = one / bound_1 <= BOUND_RATIO
    faster = one / two >= SCALE_OUT
    print(f"median of {args.rounds}: one deliverer {one:6.2f} s   bound {bound_1:5.2f} s   {one / bound_1:5.2f}x"
          f" the bound   {'PASS' if near_bound else 'FAIL'}")
    print(f"median of {args.rounds}: two deliverers {two:5.2f} s   bound {bound_2:5.2f} s   {two / bound_2:5.2f}x the"
          f" bound; {one / two:4.2f}x as fast as one (the baseline: one deliverer, this run)"
          f"   {'PASS' if faster else 'FAIL'}")
    print(f"lost {lost}, duplicated {duplicated}, posted with another workspace's token {wrong}"
          f"   {'PASS' if intact else 'FAIL'}")
    VERDICTS.extend([("tenants: one deliverer near its bound", near_bound),
                     ("tenants: two deliverers scale out", faster), ("tenants: nothing lost or duplicated", intact)])
    return near_bound and faster and intact


if __name__ == "__main__":
    started = time.monotonic()
    passed = asyncio.run(main(sys.argv[1:]))
    print(f"(the whole run took {time.monotonic() - started:.0f} s)")
    sys.exit(0 if passed else 1)
