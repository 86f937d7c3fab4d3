"""A country's hold on a top N and the figures each basis decides on (`bot.domain.shares`)."""

from __future__ import annotations

import pytest

from bot.domain.shares import Hold, hold_of, hold_text, holds, reading


def hold(count: int, unknown: int, top_n: int = 10, listed: int | None = None) -> Hold:
    return Hold("CN", count, top_n, unknown, top_n if listed is None else listed)


def test_holds_count_only_the_top_n_and_carry_the_unknowns_to_every_country():
    found = holds(["CN", "unknown", "US", "CN", "unknown", "CN", "FR"], top_n=5)
    assert found["CN"] == Hold("CN", 2, 5, 2, 5)
    assert found["US"].unknown == 2 and found["unknown"].count == 2
    assert "FR" not in found  # rank 7 is outside the top 5


def test_a_country_without_entries_holds_nothing_but_sees_the_unknowns():
    found = holds(["US", "unknown", "unknown"], top_n=3)
    assert hold_of(found, "CN", 3) == Hold("CN", 0, 3, 2, 3)
    assert hold_of({}, "CN", 10) == Hold("CN", 0, 10, 0, 0)


@pytest.mark.parametrize(("count", "unknown", "percent", "known", "lowest", "highest"), [
    (6, 1, 60.0, 6 / 9 * 100, 60.0, 70.0),   # the example of the issue
    (6, 0, 60.0, 60.0, 60.0, 60.0),          # no unknown: every basis agrees
    (0, 10, 0.0, None, 0.0, 100.0),          # all unknown: nothing known to decide on
    (0, 0, 0.0, 0.0, 0.0, 0.0),
])
def test_each_basis_reads_its_own_figure(count, unknown, percent, known, lowest, highest):
    found = hold(count, unknown)
    assert found.percent == pytest.approx(percent)
    assert found.known_percent == (None if known is None else pytest.approx(known))
    assert found.lowest == pytest.approx(lowest)
    assert found.highest == pytest.approx(highest)


def test_known_basis_counts_the_entries_listed_not_the_slots_of_a_short_list():
    assert hold(3, 1, top_n=10, listed=4).known_percent == pytest.approx(100.0)


def test_certain_fires_on_one_bound_and_clears_on_the_other():
    found = hold(5, 2)
    above, below = reading(found, "certain", "above"), reading(found, "certain", "below")
    assert above is not None and (above.fires, above.clears) == (50.0, 70.0)
    assert below is not None and (below.fires, below.clears) == (70.0, 50.0)
    default = reading(found, "top_n", "above")
    assert default is not None and default.fires == default.clears == 50.0
    assert reading(hold(0, 10), "known", "above") is None


def test_the_text_says_how_many_entries_are_unknown():
    assert hold_text(hold(6, 1)) == "60% — 6 of 10 (1 unknown)"
    assert hold_text(hold(6, 0)) == "60% — 6 of 10"
    assert hold_text(Hold("unknown", 1, 10, 1, 10)) == "10% — 1 of 10"  # not "(1 unknown)" twice
    assert hold_text(Hold("CN", 2, 3, 0, 3)) == "66.7% — 2 of 3"
