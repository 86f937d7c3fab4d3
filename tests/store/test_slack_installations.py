"""Installed Slack workspaces in the store: sealed at rest, found as slack_sdk's stores find them, both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from store import slack_installations as installs
from store.copy import copy_store
from store.db import open_database
from store.sealing import Sealer, SealError, new_key
from tests.support.postgres import PostgresServer
from tests.support.stores import query, store_of

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TOKEN = "xoxb-T1-secret-bot-token-123456"
REFRESH = "xoxe-1-secret-refresh-token-abcdef"


def record(team: str, token: str = TOKEN, user: str = "U1", **extra: object) -> dict[str, object]:
    return {"team_id": team, "team_name": f"Team {team}", "enterprise_id": None, "user_id": user,
            "bot_token": token, "bot_refresh_token": REFRESH, "is_enterprise_install": False, **extra}


def test_keys_are_checked_and_name_the_variable() -> None:
    with pytest.raises(SealError, match=r"^TRENDWATCH_SECRET_KEY is not set"):
        Sealer.from_value("  ")
    with pytest.raises(SealError, match=r"^TRENDWATCH_SECRET_KEY: key 2 of 2 is not a Fernet key"):
        Sealer.from_value(f"{new_key()},not-a-key")
    old, new = new_key(), new_key()
    sealed = Sealer.from_value(old).seal("x")
    assert Sealer.from_value(f"{new},{old}").open(sealed) == "x"
    with pytest.raises(SealError, match="does not open with any key in TRENDWATCH_SECRET_KEY"):
        Sealer.from_value(new).open(sealed)


async def test_installations_are_sealed_found_and_removed(db_path: Path) -> None:
    sealer = Sealer.from_value(new_key())
    db = await open_database(store_of(db_path))
    try:
        async with db.transaction() as conn:
            await installs.save_installation(conn, sealer, "CID", record("T1"), NOW)
            await installs.save_bot(conn, sealer, "CID", record("T1"), NOW)
            await installs.save_installation(conn, sealer, "CID", record("T2", "xoxb-T2-other"), NOW)
            await installs.save_bot(conn, sealer, "CID", record("T2", "xoxb-T2-other"), NOW + timedelta(1))
        found = await installs.find_installation(db.conn, sealer, "CID", None, "T1")
        assert found is not None and found["bot_token"] == TOKEN
        assert await installs.find_installation(db.conn, sealer, "OTHER-APP", None, "T1") is None
        assert await installs.find_installation(db.conn, sealer, "CID", None, "T1", user_id="U9") is None
        bot = await installs.find_bot(db.conn, sealer, "CID", None, "T2")
        assert bot is not None and bot["bot_token"] == "xoxb-T2-other"
        assert [w.team_id for w in await installs.workspaces(db.conn, "CID")] == ["T1", "T2"]

        # A rotated token replaces the installer's row, it does not add one.
        async with db.transaction() as conn:
            await installs.save_installation(conn, sealer, "CID", record("T1", "xoxe.xoxb-rotated"), NOW)
        assert query(db_path, "SELECT COUNT(*) FROM slack_installations WHERE team_id = 'T1'")[0][0] == 1
        found = await installs.find_installation(db.conn, sealer, "CID", None, "T1")
        assert found is not None and found["bot_token"] == "xoxe.xoxb-rotated"

        async with db.transaction() as conn:
            assert await installs.delete_bot(conn, "CID", None, "T1") == 1
            assert await installs.delete_installations(conn, "CID", None, "T1") == 1
        assert await installs.find_bot(db.conn, sealer, "CID", None, "T1") is None
        assert [w.team_id for w in await installs.workspaces(db.conn, "CID")] == ["T2"]
    finally:
        await db.close()


async def test_a_copy_of_the_database_alone_reveals_no_token(db_path: Path, store_backend: str) -> None:
    sealer = Sealer.from_value(new_key())
    db = await open_database(store_of(db_path))
    try:
        async with db.transaction() as conn:
            await installs.save_installation(conn, sealer, "CID", record("T1", incoming_webhook_url="https://hooks/x"),
                                             NOW)
            await installs.save_bot(conn, sealer, "CID", record("T1"), NOW)
    finally:
        await db.close()
    rows = query(db_path, "SELECT * FROM slack_installations") + query(db_path, "SELECT * FROM slack_bots")
    text = repr(rows)
    assert "T1" in text  # the lookup ids are plain...
    for secret in (TOKEN, REFRESH, "hooks/x", "secret"):
        assert secret not in text  # ... the tokens are not
    if store_backend == "sqlite":  # the raw file too (pages, free lists, journal)
        raw = b"".join(path.read_bytes() for path in db_path.parent.glob(db_path.name + "*"))
        assert b"T1" in raw and TOKEN.encode() not in raw and REFRESH.encode() not in raw


async def test_rotating_the_key_reseals_every_row(db_path: Path) -> None:
    old, new = new_key(), new_key()
    db = await open_database(store_of(db_path))
    try:
        async with db.transaction() as conn:
            await installs.save_installation(conn, Sealer.from_value(old), "CID", record("T1"), NOW)
            await installs.save_bot(conn, Sealer.from_value(old), "CID", record("T1"), NOW)
        both = Sealer.from_value(f"{new},{old}")
        async with db.transaction() as conn:
            assert await installs.reseal_all(conn, both) == 2
        async with db.transaction() as conn:
            assert await installs.reseal_all(conn, both) == 0  # already sealed with the newest
        only_new = Sealer.from_value(new)
        found = await installs.find_bot(db.conn, only_new, "CID", None, "T1")
        assert found is not None and found["bot_token"] == TOKEN
        with pytest.raises(SealError):
            await installs.find_bot(db.conn, Sealer.from_value(old), "CID", None, "T1")
    finally:
        await db.close()


async def test_oauth_states_are_used_once_and_expire(db_path: Path) -> None:
    db = await open_database(store_of(db_path))
    try:
        async with db.transaction() as conn:
            await installs.issue_state(conn, "s-1", NOW + timedelta(minutes=10), NOW)
            await installs.issue_state(conn, "s-2", NOW + timedelta(minutes=10), NOW)
        async with db.transaction() as conn:
            assert await installs.consume_state(conn, "s-1", NOW + timedelta(minutes=1))
            assert not await installs.consume_state(conn, "s-1", NOW + timedelta(minutes=1))  # replayed
            assert not await installs.consume_state(conn, "forged", NOW)
            assert not await installs.consume_state(conn, "s-2", NOW + timedelta(minutes=11))  # expired
    finally:
        await db.close()


async def test_channels_remember_their_workspace(db_path: Path) -> None:
    db = await open_database(store_of(db_path))
    try:
        async with db.transaction() as conn:
            await installs.record_channel_team(conn, "C1", "T1", None, NOW)
            await installs.record_channel_team(conn, "C2", "T2", None, NOW)
            await installs.record_channel_team(conn, "C1", "T3", None, NOW)  # a shared channel, set up from T3
        assert await installs.channel_team(db.conn, "C1") == ("T3", "")
        assert await installs.channel_team(db.conn, "C9") is None
        assert await installs.channels_of(db.conn, "T2") == ["C2"]
    finally:
        await db.close()


@pytest.mark.sqlite_only
async def test_db_copy_moves_installations_still_sealed(db_path: Path, postgres_server: PostgresServer) -> None:
    sealer = Sealer.from_value(new_key())
    source = await open_database(db_path)
    target = await open_database(postgres_server.fresh_url())
    try:
        async with source.transaction() as conn:
            await installs.save_installation(conn, sealer, "CID", record("T1"), NOW)
            await installs.save_bot(conn, sealer, "CID", record("T1"), NOW)
            await installs.record_channel_team(conn, "C1", "T1", None, NOW)
        report = await copy_store(source, target, NOW)
        assert report.counts["slack_installations"] == report.counts["slack_bots"] == 1
        assert report.counts["slack_channel_teams"] == 1
        found = await installs.find_bot(target.conn, sealer, "CID", None, "T1")
        assert found is not None and found["bot_token"] == TOKEN
        assert await installs.channel_team(target.conn, "C1") == ("T1", "")
    finally:
        await source.close()
        await target.close()
