"""Shared fixtures: an isolated environment, snapshot builders, a fake Hub."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.snapshot import Attribution, Entry, Snapshot
from tests.fakes.hub import FakeHub
from tests.support.postgres import PostgresServer, start_server

T0 = datetime(2025, 7, 21, 0, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reads the developer's tokens or config, or writes to their HF cache."""
    for name in ("HF_ENDPOINT", "HF_TOKEN", "TRENDWATCH_CONFIG", "DISCORD_TOKEN", "SLACK_BOT_TOKEN",
                 "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "PORT", "DATABASE_URL", "SLACK_CLIENT_ID",
                 "SLACK_CLIENT_SECRET", "TRENDWATCH_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf_home")))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    # slack_sdk reads HTTP(S)_PROXY itself and ignores NO_PROXY: 127.0.0.1 would go to the proxy.
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    yield


def snap(ids: Sequence[str], at: datetime = T0, countries: dict[str, str] | None = None) -> Snapshot:
    """A snapshot in the given order; country from `countries` or the namespace's first letter map."""
    countries = countries or {}
    entries = tuple(
        Entry(rank=i, id=model_id, attribution=Attribution(countries.get(model_id, "unknown"), "namespace"))
        for i, model_id in enumerate(ids, start=1)
    )
    return Snapshot(taken_at=at, entries=entries)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


@pytest.fixture
async def fake_hub() -> AsyncIterator[FakeHub]:
    async with FakeHub() as hub:
        yield hub


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses a store runs on both backends, unless it is about the SQLite file itself."""
    if "store_backend" in metafunc.fixturenames:
        sqlite_only = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("store_backend", ["sqlite"] if sqlite_only else ["sqlite", "postgresql"],
                             indirect=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server per test run. Missing: skipped with how to get it, except in CI (`CI` set)."""
    try:
        server = start_server()
    except LookupError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} (CI must run the PostgreSQL half of the tests: see .ci/run)")
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture
def store_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """`sqlite`, or `postgresql` with `DATABASE_URL` naming a fresh, empty database of the test server.

    The bot reads `DATABASE_URL` over `[store] path`, so the same test body,
    config files and `python -m bot` subprocesses run on PostgreSQL unchanged.
    """
    backend = str(request.param)
    if backend == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        monkeypatch.setenv("DATABASE_URL", server.fresh_url())
    return backend


@pytest.fixture
def db_path(tmp_path: Path, store_backend: str) -> Path:
    """The SQLite file, on the SQLite run; on the PostgreSQL run only its folder matters (charts go there)."""
    return tmp_path / "trendwatch.db"



def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest tests first (the soak on each store, then the other whole-process tests): pytest-xdist hands
    tests out in this order, so the long ones run beside the many short ones instead of after them."""
    def weight(item: pytest.Item) -> int:
        if item.get_closest_marker("soak"):
            return 0
        return 1 if "end_to_end" in item.nodeid else 2

    items.sort(key=weight)  # stable: within a weight, the files' own order
