"""A share alert says how many entries were unknown, and which basis decided when it is not the default."""

from __future__ import annotations

from typing import Any

from bot.delivery.wording import render_share
from bot.domain.events import ShareChange, event_from_payload
from bot.domain.messages import plain
from tests.conftest import T0


def change(**kwargs: Any) -> ShareChange:
    base: dict[str, Any] = {"taken_at": T0, "country": "CN", "state": "firing", "direction": "above", "share": 60,
                            "threshold": 60, "top_n": 10, "count": 6, "rule": "CN:above:60", "unknown": 1,
                            "known": 9}
    return ShareChange(**{**base, **kwargs})


def text(message: Any) -> tuple[str, str]:
    return message.title, plain(message.lines[0])


def test_default_basis_reads_as_before_with_the_unknowns_beside_the_count():
    title, detail = text(render_share(change()))
    assert title == "🇨🇳 China's share of the trending top 10 reached 60%"
    assert detail == "6 of the top 10 models are from China (1 unknown); alert: above 60%."
    assert "decided" not in detail


def test_no_unknown_adds_nothing():
    _, detail = text(render_share(change(unknown=0, known=10)))
    assert detail == "6 of the top 10 models are from China; alert: above 60%."


def test_known_basis_says_it_counts_the_known_entries():
    title, detail = text(render_share(change(basis="known", share=66.7, rule="CN:above:60:known")))
    assert title == "🇨🇳 China's share of the known entries of the trending top 10 reached 66.7%"
    assert detail.endswith("alert: above 60%, decided on the 9 entries of known origin.")


def test_certain_basis_names_the_bound_that_decided():
    title, detail = text(render_share(change(basis="certain", unknown=2, share=60)))
    assert title.endswith("reached at least 60%")
    assert "decided only on what the unknown entries cannot change" in detail
    title, _ = text(render_share(change(basis="certain", state="resolved", share=40)))
    assert title.endswith("is back to at most 40%")
    title, _ = text(render_share(change(basis="certain", direction="below", threshold=30, share=30)))
    assert title.endswith("fell to at most 30%")


def test_an_alert_stored_before_the_basis_existed_reads_as_the_default():
    old = change().to_payload()
    for key in ("unknown", "known", "basis"):
        old.pop(key)
    event = event_from_payload(old)
    assert isinstance(event, ShareChange) and (event.basis, event.unknown) == ("top_n", 0)
    _, detail = text(render_share(event))
    assert detail == "6 of the top 10 models are from China; alert: above 60%."
