"""A PostgreSQL server that goes away under a running bot (maintenance restart, failover) and comes back.

Each poll during the outage is one line and stores nothing; the first poll
after it reconnects and stores; nothing decided before is lost. And a URL
that cannot be used is one line that never repeats the password.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import ConfigError, parse_settings
from store.db import StoreError, open_database, postgres_url
from tests.fakes.hub import FakeHub, ranked
from tests.support.app import CN, US, alerts, count, open_app, settings_for
from tests.support.cli import bot, write_config
from tests.support.postgres import PostgresServer, start_server
from tests.support.processes import start, stop, wait_for


@pytest.fixture
def own_server(postgres_server: PostgresServer) -> Iterator[PostgresServer]:
    """A server of this test's own (it is stopped and started), after the shared one proved PostgreSQL is here."""
    server = start_server()
    yield server
    server.stop()


async def test_polls_during_an_outage_fail_in_one_line_and_the_bot_reconnects_after_it(
    fake_hub: FakeHub, tmp_path: Path, own_server: PostgresServer, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
):
    monkeypatch.setenv("DATABASE_URL", own_server.fresh_url())
    stream = io.StringIO()
    app = await open_app(settings_for(fake_hub, tmp_path / "unused.db"), stream)
    try:
        fake_hub.models = ranked(US)
        assert (await app.poll()).error is None

        own_server.pause()
        fake_hub.models = ranked(CN[:6] + US[:4])
        with caplog.at_level("ERROR"):
            for _ in range(2):
                result = await app.poll()
                assert result.error and ("lost the connection" in result.error or "cannot reach" in result.error)
        assert "Traceback" not in caplog.text

        own_server.resume()
        result = await app.poll()
        assert result.error is None and result.snapshot_id is not None
        assert await count(app, "snapshots") == 2
        await app.deliver()
        assert [alert["kind"] for alert in alerts(stream)].count("entered") == 1  # compared with the last stored
    finally:
        await app.close()


async def test_a_server_that_is_down_at_start_is_one_line(fake_hub: FakeHub, tmp_path: Path):
    config = write_config(tmp_path / "c.toml", fake_hub, tmp_path / "t.db")
    fake_hub.models = ranked(US)
    run = await bot("once", "--config", str(config), env={"DATABASE_URL": "postgres://bot:s3cret@127.0.0.1:1/tw"})
    assert run.code == 1
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot reach PostgreSQL database tw on 127.0.0.1:1" in lines[0], run.err
    assert "s3cret" not in run.err


@pytest.mark.parametrize(("url", "says"), [
    ("mysql://u:s3cret@host/db", "must start with postgresql:// or postgres://"),
    ("postgresql://u:s3cret@/db", "names no host"),
    ("postgresql://u:s3cret@host", "names no database"),
])
def test_a_url_that_cannot_be_used_names_the_key_not_the_password(url: str, says: str):
    for where, data, env in (("store.url", {"store": {"url": url}}, {}), ("DATABASE_URL", {}, {"DATABASE_URL": url})):
        with pytest.raises(ConfigError) as caught:
            parse_settings(data, env=env)
        assert where in str(caught.value) and says in str(caught.value) and "s3cret" not in str(caught.value)


def test_heroku_urls_are_read_as_asyncpg_urls_and_shown_without_the_password():
    url = postgres_url("postgres://bot:s3cret@db.example.com:5433/tw?sslmode=require")
    assert url == "postgresql://bot:s3cret@db.example.com:5433/tw?sslmode=require"  # asyncpg reads sslmode itself
    settings = parse_settings({}, env={"DATABASE_URL": "postgres://bot:s3cret@db.example.com:5433/tw"})
    shown = settings.store.location.describe
    assert shown == "PostgreSQL postgresql://bot:***@db.example.com:5433/tw" and "s3cret" not in shown


async def test_check_config_names_the_store_without_its_password(tmp_path: Path, fake_hub: FakeHub):
    config = write_config(tmp_path / "c.toml", fake_hub, tmp_path / "t.db")
    run = await bot("check-config", "--config", str(config),
                    env={"DATABASE_URL": "postgresql://bot:s3cret@db.example.com/tw"})
    assert run.code == 0, run.err
    assert "store PostgreSQL postgresql://bot:***@db.example.com/tw" in run.out and "s3cret" not in run.out


async def test_a_store_error_never_shows_the_url_password():
    with pytest.raises(StoreError) as caught:
        await open_database("postgresql://bot:s3cret@127.0.0.1:1/tw")
    assert "s3cret" not in str(caught.value)


async def test_the_run_log_names_the_store_with_its_password_masked(
    fake_hub: FakeHub, tmp_path: Path, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
):
    url = postgres_server.fresh_url().replace("postgresql://postgres@", "postgresql://postgres:s3cret@")
    monkeypatch.setenv("DATABASE_URL", url)  # the test server trusts loopback: the password is only carried
    config = write_config(tmp_path / "c.toml", fake_hub, tmp_path / "t.db", hub_extra='poll_interval = "1s"')
    fake_hub.models = ranked(US)
    running = await start(config)
    await wait_for(lambda: bool(fake_hub.list_requests))
    code, err = await stop(running)
    assert code == 0, err
    assert "store: PostgreSQL postgresql://postgres:***@127.0.0.1" in err and "s3cret" not in err, err
