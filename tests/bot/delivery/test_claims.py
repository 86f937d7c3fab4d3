"""A delivery pass and other deliverers' claims: a live claim is left alone, a dead process's is taken back.

On both stores (on SQLite only the lease holder delivers, but a standby that takes over meets the claims
its killed predecessor left).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.delivery.adapter import Adapter
from bot.delivery.drain import Claimer, deliver_due, orphaned
from bot.delivery.threading import Thread
from bot.domain.events import SourceHealth
from bot.domain.messages import Alert
from store import outbox
from store.db import Database, open_database, utc_iso
from store.destinations import upsert_destination
from tests.support.stores import store_of

HOST = "deliverer-test-host"


class RecordingSlack(Adapter):
    """An adapter that posts nothing: it records which channel got which alert (Slack-like: no nonce)."""

    platform = "slack"
    idempotent = False

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, channel: str, alert: Alert, mention: str | None = None,
                   thread: Thread | None = None) -> None:
        self.sent.append((channel, alert.key))


def a_dead_pid() -> int:
    """The pid of a process that has ended (and been reaped): what a `kill -9`ed deliverer leaves in its claims."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(done.stdout)


async def queue_alerts(db: Database, channels: list[str], now: datetime) -> None:
    async with db.transaction() as conn:
        ids = [(await upsert_destination(conn, "slack", channel, ["source"], "command", now)).id
               for channel in channels]
        notice = SourceHealth(taken_at=now, state="failing", failures=3, error="down")
        await outbox.add_event(conn, notice, None, ids, now)


async def claim_for(db: Database, claimer: str, channel: str, until: datetime) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE destination_id ="
            " (SELECT id FROM destinations WHERE channel = ?)", (claimer, utc_iso(until), channel))


def test_a_claim_is_orphaned_only_when_its_process_is_gone_from_this_host() -> None:
    dead = a_dead_pid()
    assert orphaned(f"{HOST}:{dead}:abcd1234", HOST)
    assert not orphaned(f"{HOST}:{os.getpid()}:abcd1234", HOST)  # alive
    assert not orphaned(f"elsewhere:{dead}:abcd1234", HOST)  # another host: only the claim's lapse tells
    assert not orphaned("garbage", HOST)


async def test_a_pass_leaves_live_claims_alone_and_takes_back_a_dead_process_s(db_path: Path, monkeypatch):
    monkeypatch.setattr("socket.gethostname", lambda: HOST)
    now = datetime.now(UTC)
    db = await open_database(store_of(db_path))
    try:
        await queue_alerts(db, ["CFREE", "CLIVE", "CDEAD", "CAWAY"], now)
        soon = now + timedelta(seconds=30)
        await claim_for(db, f"{HOST}:{os.getpid()}:live0000", "CLIVE", soon)  # another deliverer at work here
        await claim_for(db, f"{HOST}:{a_dead_pid()}:dead0000", "CDEAD", soon)  # killed on this host
        await claim_for(db, "elsewhere:1:away0000", "CAWAY", soon)  # on a host it cannot look into
        slack = RecordingSlack()
        report = await deliver_due(db, {"slack": slack}, claimer=Claimer(f"{HOST}:{os.getpid()}:me000000"))
        assert sorted(channel for channel, _ in slack.sent) == ["CDEAD", "CFREE"]
        assert report.sent == 2
        # Once the away host's claim has lapsed, the next pass sends it.
        await claim_for(db, "elsewhere:1:away0000", "CAWAY", now - timedelta(seconds=1))
        await deliver_due(db, {"slack": slack}, claimer=Claimer(f"{HOST}:{os.getpid()}:me000000"))
        assert sorted(channel for channel, _ in slack.sent) == ["CAWAY", "CDEAD", "CFREE"]
        left = await (await db.conn.execute(
            "SELECT claimed_by FROM outbox WHERE status = 'pending' AND claimed_by LIKE '%me000000'")).fetchall()
        assert left == []  # a pass releases what it claimed and did not finish
    finally:
        await db.close()


async def test_a_send_whose_claim_lapsed_meanwhile_is_not_made(db_path: Path):
    """A deliverer stalled past its claim (another took the channel): the mark before the post refuses."""
    now = datetime.now(UTC)
    db = await open_database(store_of(db_path))
    try:
        await queue_alerts(db, ["C1"], now)

        class Stalled(RecordingSlack):
            async def pace(self) -> None:  # between the claim and the post, another deliverer takes the channel
                await claim_for(db, "elsewhere:1:other000", "C1", datetime.now(UTC) + timedelta(seconds=30))

        slack = Stalled()
        report = await deliver_due(db, {"slack": slack}, claimer=Claimer(f"{HOST}:{os.getpid()}:me000000"))
        assert slack.sent == [] and report.claim_lost == 1
        row = await (await db.conn.execute("SELECT status, unconfirmed, claimed_by FROM outbox")).fetchone()
        assert row == ("pending", 0, "elsewhere:1:other000")  # untouched: the other deliverer's to send
    finally:
        await db.close()
