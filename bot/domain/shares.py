"""How much of a top N a country holds, and how sure that figure is. Pure: no I/O.

Every share the bot shows or decides on is built here, once: a country's count, the top N it is
out of, and the entries of unknown origin that could belong to it. Unknown entries are never hidden:
the text says how many there were, and a share rule can choose how they count (`Basis`):

- `top_n` (the default, the bot's behaviour from the start): the count over the whole top N, unknown
  entries included in the denominator — "6 of 10";
- `known`: the count over the entries whose country is known — 6 of the 9 known;
- `certain`: only what cannot be wrong whatever the unknown entries turn out to be. The lowest the
  share can be is the count alone, the highest is the count with every unknown added; an `above`
  rule fires on the lowest and a `below` rule on the highest, and each resolves only once the other
  bound has moved back past the line, so neither the alert nor its all-clear can be undone by an
  attribution.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from bot.domain.snapshot import UNKNOWN

Basis = Literal["top_n", "known", "certain"]
BASES: tuple[Basis, ...] = ("top_n", "known", "certain")
DEFAULT_BASIS: Basis = "top_n"
Direction = Literal["above", "below"]


def basis_of(text: str) -> Basis:
    """A stored basis back as the type; the store's CHECK allows only `BASES`, so anything else is the default."""
    for basis in BASES:
        if text == basis:
            return basis
    return DEFAULT_BASIS


@dataclass(frozen=True, slots=True)
class Hold:
    """One country's entries in one top N: `count` of `top_n`, with `unknown` entries of unknown origin.

    `listed` is how many entries the top N actually had (a short snapshot may hold fewer than N);
    the default share stays over N, as it always was.
    """

    country: str
    count: int
    top_n: int
    unknown: int
    listed: int

    @property
    def known(self) -> int:
        """Entries whose country is known: the denominator of `basis = "known"`."""
        return self.listed - self.unknown

    @property
    def percent(self) -> float:
        """Percent of the top N (the default basis)."""
        return 100.0 * self.count / self.top_n if self.top_n else 0.0

    @property
    def known_percent(self) -> float | None:
        """Percent of the known entries; None when no entry's country is known."""
        if self.country == UNKNOWN or self.known <= 0:
            return None
        return 100.0 * self.count / self.known

    @property
    def lowest(self) -> float:
        """The least the share can be, whatever the unknown entries are: the count alone."""
        return self.percent

    @property
    def highest(self) -> float:
        """The most the share can be: the count with every unknown entry added."""
        if self.country == UNKNOWN or not self.top_n:
            return self.percent
        return 100.0 * (self.count + self.unknown) / self.top_n


@dataclass(frozen=True, slots=True)
class Reading:
    """What a rule compares with its threshold: `fires` to start firing, `clears` to resolve."""

    fires: float
    clears: float


def reading(hold: Hold, basis: Basis, direction: Direction) -> Reading | None:
    """The figures a rule on `basis` decides on; None when the basis has nothing to decide on (no known entry)."""
    if basis == "known":
        share = hold.known_percent
        return None if share is None else Reading(share, share)
    if basis == "certain":
        if direction == "above":
            return Reading(fires=hold.lowest, clears=hold.highest)
        return Reading(fires=hold.highest, clears=hold.lowest)
    return Reading(hold.percent, hold.percent)


def holds(countries: Iterable[str], top_n: int) -> dict[str, Hold]:
    """Every country's hold on a top N, from the countries of its entries in rank order (only the first N count)."""
    listed = list(countries)[:top_n]
    counts: dict[str, int] = {}
    for country in listed:
        counts[country] = counts.get(country, 0) + 1
    unknown = counts.get(UNKNOWN, 0)
    return {country: Hold(country, count, top_n, unknown, len(listed)) for country, count in counts.items()}


def hold_of(found: Mapping[str, Hold], country: str, top_n: int) -> Hold:
    """`country`'s hold, or an empty one (0 of N, with the snapshot's unknowns) when it has no entry."""
    if country in found:
        return found[country]
    sample = next(iter(found.values()), None)
    unknown = sample.unknown if sample else 0
    listed = sample.listed if sample else 0
    return Hold(country, 0, top_n, unknown, listed)


def percent_text(value: float) -> str:
    """'60%', '66.7%': one decimal at most, no trailing zero."""
    return f"{round(value, 1):g}%"


def unknown_text(unknown: float, qualifier: str = "") -> str:
    """' (1 unknown)', ' (1.5 unknown on average)' beside a share; empty when every entry's country is known."""
    return f" ({unknown:g} unknown{' ' + qualifier if qualifier else ''})" if unknown else ""


def hold_text(hold: Hold) -> str:
    """'60% — 6 of 10 (1 unknown)': a share, what it counts and how many entries could not be placed."""
    unknown = "" if hold.country == UNKNOWN else unknown_text(hold.unknown)
    return f"{percent_text(hold.percent)} — {hold.count} of {hold.top_n}{unknown}"
