"""Faults of the database file itself: damaged, full, deleted or replaced under a running process.

Each gets one clear line (never a sqlite3 traceback); a full disk loses nothing
(the poll rolls back whole and the next one stores it); a file that vanished
or was swapped stops the process before it writes into the void.
"""

from __future__ import annotations

import asyncio
import io
import sqlite3
from pathlib import Path

import pytest

from store.db import StoreError, StoreGone, open_database
from tests.fakes.hub import FakeHub, ranked
from tests.support.app import CN, US, alerts, count, open_app, settings_for
from tests.support.cli import bot, write_config
from tests.support.processes import snapshots, start, wait_for


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [text for text in stderr.splitlines() if text.strip()]
    assert len(lines) == 1 and lines[0].startswith("trendwatch: "), stderr
    return lines[0]


async def test_a_file_that_is_not_a_database_is_one_line(fake_hub: FakeHub, tmp_path: Path):
    db = tmp_path / "t.db"
    db.write_bytes(b"this is not SQLite" * 500)
    config = write_config(tmp_path / "c.toml", fake_hub, db)
    fake_hub.models = ranked(US)
    for command in ("once", "trending", "share", "channels"):
        run = await bot(command, "--config", str(config))
        assert run.code == 1, (command, run.err)
        assert "is damaged" in one_error_line(run.err)


async def test_a_database_damaged_inside_is_one_line(fake_hub: FakeHub, tmp_path: Path):
    db = tmp_path / "t.db"
    config = write_config(tmp_path / "c.toml", fake_hub, db)
    fake_hub.models = ranked(US)
    assert (await bot("once", "--config", str(config))).code == 0
    with sqlite3.connect(db) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with db.open("r+b") as handle:  # every page after the schema page turns to noise
        handle.seek(page_size)
        handle.write(b"\xff" * (db.stat().st_size - page_size))
    for command in ("trending", "once"):
        run = await bot(command, "--config", str(config))
        assert run.code == 1, (command, run.err)
        assert "is damaged" in one_error_line(run.err)


@pytest.mark.sqlite_only
async def test_a_full_disk_rolls_the_poll_back_and_the_next_poll_stores_it(
    fake_hub: FakeHub, db_path: Path, caplog: pytest.LogCaptureFixture
):
    stream = io.StringIO()
    app = await open_app(settings_for(fake_hub, db_path), stream)
    try:
        fake_hub.models = ranked(US)
        await app.poll()
        async with app.db.conn.execute("PRAGMA page_count") as cursor:
            row = await cursor.fetchone()
        assert row is not None
        await app.db.conn.execute(f"PRAGMA max_page_count = {row[0]}")  # the disk is full from here on
        fake_hub.models = ranked(CN[:6] + US[:4])
        with caplog.at_level("ERROR"):
            result = await app.poll()
        assert result.error and "disk is full" in result.error
        assert "retrying at the next poll" in caplog.text and "Traceback" not in caplog.text
        assert await count(app, "snapshots") == 1 and await count(app, "outbox") == 0

        await app.db.conn.execute("PRAGMA max_page_count = 1073741823")  # space again
        result = await app.poll()
        assert result.error is None and result.snapshot_id is not None
        await app.deliver()
        assert [a["kind"] for a in alerts(stream)] == ["entered", "share", "left"]  # nothing was lost
    finally:
        await app.close()


@pytest.mark.sqlite_only
@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_a_database_deleted_or_replaced_under_the_process_stops_the_next_transaction(
    fake_hub: FakeHub, db_path: Path, tmp_path: Path, how: str
):
    app = await open_app(settings_for(fake_hub, db_path))
    try:
        fake_hub.models = ranked(US)
        await app.poll()
        if how == "deleted":
            await asyncio.to_thread(db_path.unlink)
        else:
            other = await open_database(tmp_path / "other.db")
            await other.close()
            (tmp_path / "other.db").replace(db_path)
        with pytest.raises(StoreGone, match=how):
            await app.poll()
        with pytest.raises(StoreGone):
            await app.acquire_lease()  # the lease lives in the file: nobody may keep it in a deleted one
    finally:
        await app.close()


async def test_run_stops_with_one_line_when_its_database_is_deleted(fake_hub: FakeHub, tmp_path: Path):
    db = tmp_path / "t.db"
    config = write_config(tmp_path / "c.toml", fake_hub, db, hub_extra='poll_interval = "1s"',
                          store_extra='lease = "3s"')
    fake_hub.models = ranked(US)
    process = await start(config)
    try:
        await wait_for(lambda: snapshots(db) >= 1)  # (0 while the file or its tables do not exist yet)
        db.unlink()
        _, err = await asyncio.wait_for(process.communicate(), timeout=20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 1
    assert "Traceback" not in err.decode()
    assert err.decode().strip().splitlines()[-1].startswith(f"trendwatch: database {db} was deleted")


async def test_a_store_folder_that_does_not_exist_is_an_error_not_created(fake_hub: FakeHub, tmp_path: Path):
    db = tmp_path / "missing" / "t.db"
    config = write_config(tmp_path / "c.toml", fake_hub, db)
    fake_hub.models = ranked(US)
    run = await bot("once", "--config", str(config))
    assert run.code == 1 and "does not exist" in one_error_line(run.err)
    checked = await bot("check-config", "--config", str(config))
    assert checked.code == 2 and "store.path" in one_error_line(checked.err)
    assert not db.parent.exists()
    with pytest.raises(StoreError, match="does not exist"):
        await open_database(db)
