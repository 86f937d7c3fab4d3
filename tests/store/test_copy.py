"""`python -m bot db copy --to postgresql://…`: moving a SQLite bot to PostgreSQL, and both ways it refuses."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.fakes.hub import FakeHub, ranked
from tests.support.cli import CN, US, bot, write_config
from tests.support.postgres import PostgresServer
from tests.support.processes import snapshots as sqlite_snapshots
from tests.support.processes import start, stop, wait_for

ROUTES = '[[routes]]\nplatform = "slack"\nchannel = "C0001"\n'  # no Slack token: its alerts stay pending


async def sqlite_bot_with_history(fake_hub: FakeHub, tmp_path: Path) -> tuple[Path, Path]:
    db = tmp_path / "t.db"
    config = write_config(tmp_path / "c.toml", fake_hub, db, extra=ROUTES)
    for models in (US, CN[:6] + US[:4], CN[:7] + US[:3]):
        fake_hub.models = ranked(models)
        assert (await bot("once", "--config", str(config))).code == 0
    assert (await bot("label", "meta-llama", "FR", "--config", str(config))).code == 0
    return db, config


async def test_copy_moves_everything_and_the_bot_goes_on_on_postgresql(
    fake_hub: FakeHub, tmp_path: Path, postgres_server: PostgresServer
):
    _, config = await sqlite_bot_with_history(fake_hub, tmp_path)
    before = {command: (await bot(command, "--json", "--config", str(config))).out
              for command in ("trending", "channels", "share", "attribution")}
    url = postgres_server.fresh_url()

    copied = await bot("db", "copy", "--to", url, "--config", str(config))
    assert copied.code == 0, copied.err
    assert "every table's count checked" in copied.out and "DATABASE_URL" in copied.out
    counts = dict(line.split() for line in copied.out.splitlines() if line.startswith("  "))
    assert int(counts["snapshots"]) == 3 and int(counts["outbox"]) >= 1 and int(counts["attribution_labels"]) == 1

    on_postgres = {"DATABASE_URL": url}
    for command, expected in before.items():
        after = await bot(command, "--json", "--config", str(config), env=on_postgres)
        assert after.code == 0, after.err
        assert json.loads(after.out) == json.loads(expected), command
    assert int(postgres_server.psql(url, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'")) >= 1

    # The bot goes on there: new ids follow the copied ones, the rules remember the last poll.
    fake_hub.models = ranked(CN[:8] + US[:2])
    polled = await bot("once", "--config", str(config), env=on_postgres)
    assert polled.code == 0, polled.err
    # Not a new baseline: two Qwen models came in and pushed a Llama out (the console carries every kind).
    assert [line["kind"] for line in polled.lines()] == ["entered", "left"], polled.out
    assert postgres_server.psql(url, "SELECT COUNT(*) FROM snapshots").strip() == "4"


async def test_copy_refuses_a_target_that_already_holds_a_bot(
    fake_hub: FakeHub, tmp_path: Path, postgres_server: PostgresServer
):
    _, config = await sqlite_bot_with_history(fake_hub, tmp_path)
    url = postgres_server.fresh_url()
    assert (await bot("db", "copy", "--to", url, "--config", str(config))).code == 0

    again = await bot("db", "copy", "--to", url, "--config", str(config))
    assert again.code == 1
    assert again.err.count("\n") == 1 and "is not empty:" in again.err and "snapshots (3)" in again.err, again.err
    assert "Traceback" not in again.err
    assert postgres_server.psql(url, "SELECT COUNT(*) FROM snapshots").strip() == "3"  # nothing doubled


async def test_copy_refuses_while_a_run_still_writes_the_source(
    fake_hub: FakeHub, tmp_path: Path, postgres_server: PostgresServer
):
    db = tmp_path / "t.db"
    config = write_config(tmp_path / "c.toml", fake_hub, db, hub_extra='poll_interval = "1s"')
    fake_hub.models = ranked(US)
    running = await start(config)
    try:
        await wait_for(lambda: sqlite_snapshots(db) >= 1)
        url = postgres_server.fresh_url()
        refused = await bot("db", "copy", "--to", url, "--config", str(config))
        assert refused.code == 1
        assert refused.err.count("\n") == 1 and "is using" in refused.err and "stop it first" in refused.err
        assert postgres_server.psql(url, "SELECT COUNT(*) FROM snapshots").strip() == "0"
    finally:
        code, err = await stop(running)
        assert code == 0, err


async def test_a_bad_target_url_is_one_line_without_the_password(fake_hub: FakeHub, tmp_path: Path):
    _, config = await sqlite_bot_with_history(fake_hub, tmp_path)
    for url, says in (("mysql://u:hunter2@h/db", "must start with postgresql://"),
                      ("postgresql://u:hunter2@127.0.0.1:1/db", "cannot reach")):
        refused = await bot("db", "copy", "--to", url, "--config", str(config))
        assert refused.code == 1, refused.err
        assert refused.err.count("\n") == 1 and says in refused.err, refused.err
        assert "hunter2" not in refused.err


async def test_values_an_older_version_stored_in_the_wrong_type_arrive_as_unknown_and_are_counted(
    fake_hub: FakeHub, tmp_path: Path, postgres_server: PostgresServer
):
    db, config = await sqlite_bot_with_history(fake_hub, tmp_path)
    with sqlite3.connect(db) as conn:  # SQLite keeps any value in any column; the bot reads these as unknown
        conn.execute("UPDATE entries SET likes = 'lots', trending_score = x'00' WHERE rank = 1")
    url = postgres_server.fresh_url()
    copied = await bot("db", "copy", "--to", url, "--config", str(config))
    assert copied.code == 0, copied.err
    assert "note: 6 value(s) in entries were not numbers" in copied.out, copied.out
    assert postgres_server.psql(url, "SELECT COUNT(*) FROM entries WHERE rank = 1 AND likes IS NULL"
                                " AND trending_score IS NULL").strip() == "3"
