"""`/alerts test` samples: one per kind, marked through the round trip the outbox makes, real alerts unchanged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.commands.samples import FAKE_MODEL, sample_event, sample_events
from bot.delivery.wording import TEST_NOTE, TEST_PREFIX, render
from bot.domain.events import ALERT_KINDS, Entered, EnteredModel, event_from_payload
from bot.domain.messages import plain
from bot.domain.snapshot import Attribution, Entry, Snapshot

NOW = datetime(2026, 12, 7, 0, 30, tzinfo=UTC)
LATEST = Snapshot(datetime(2026, 12, 7, 0, 15, tzinfo=UTC), tuple(
    Entry(rank=rank, id=f"{org}/m{rank}", attribution=Attribution(country=country, method="namespace"))
    for rank, (org, country) in enumerate([("Qwen", "CN")] * 4 + [("meta-llama", "US")] * 6, start=1)))


@pytest.mark.parametrize("kind", ALERT_KINDS)
def test_every_kind_has_a_sample_marked_as_a_test_after_the_outbox_round_trip(kind: str) -> None:
    event = event_from_payload(sample_event(kind, LATEST, 10, NOW).to_payload())
    assert event.kind == kind and event.test
    message = render(event)
    assert message.title.startswith(TEST_PREFIX)
    assert plain(message.lines[-1]) == TEST_NOTE


def test_samples_name_the_snapshot_s_models_or_a_plainly_fake_one() -> None:
    real = " ".join(render(e).plain_text() for e in sample_events(("entered", "new_leader", "share"), LATEST, 10, NOW))
    assert "Qwen/m1" in real and "meta-llama/m10" in real and "United States" in real and FAKE_MODEL not in real
    fake = render(sample_event("entered", None, 10, NOW)).plain_text()
    assert FAKE_MODEL in fake


def test_kinds_this_version_does_not_know_are_skipped_in_the_channel_s_order() -> None:
    assert [e.kind for e in sample_events(("digest", "nonsense", "entered"), LATEST, 10, NOW)] == ["digest", "entered"]


def test_a_real_alert_is_stored_and_rendered_as_before() -> None:
    event = Entered(taken_at=NOW, top_n=10, models=(EnteredModel(id="Qwen/m1", rank=1, country="CN"),))
    assert "test" not in event.to_payload()
    message = render(event)
    assert not message.title.startswith(TEST_PREFIX) and TEST_NOTE not in message.plain_text()
