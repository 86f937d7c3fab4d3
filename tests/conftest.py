"""Shared fixtures: an isolated environment, snapshot builders, a fake Hub."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.snapshot import Attribution, Entry, Snapshot
from tests.fakes.hub import FakeHub

T0 = datetime(2025, 7, 21, 0, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reads the developer's tokens or config, or writes to their HF cache."""
    for name in ("HF_ENDPOINT", "HF_TOKEN", "TRENDWATCH_CONFIG", "DISCORD_TOKEN", "SLACK_BOT_TOKEN",
                 "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "PORT"):
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


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "trendwatch.db"
