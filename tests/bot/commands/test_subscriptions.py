"""The subscription name as commands take it, pure: parsed once, found anywhere in Slack's words, ordered."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.commands.caller import CommandError
from bot.commands.subscriptions import not_found, ordered, parse_subscription, split_subscription
from bot.domain.destination import Destination

T = datetime(2025, 7, 21, tzinfo=UTC)


def subscription(name: str, mention: str | None = None) -> Destination:
    return Destination(id=hash(name) % 1000, platform="slack", channel="C1", kinds=("entered",), origin="command",
                       active=True, subscribed_at=T, mention=mention, name=name)


@pytest.mark.parametrize(("typed", "stored"), [
    (None, "default"), ("", "default"), ("  ", "default"), ("china", "china"), (" China-Desk ", "china-desk"),
    ("a" * 32, "a" * 32), ("2025", "2025"),
])
def test_a_name_is_trimmed_and_case_folded_and_nothing_is_default(typed: str | None, stored: str) -> None:
    assert parse_subscription(typed) == stored


@pytest.mark.parametrize("typed", ["china desk", "ch!na", "a" * 33, "café", "china\x00", "<@&123>", "中国"])
def test_a_name_that_does_not_fit_is_one_line_naming_what_fits(typed: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse_subscription(typed)
    text = str(caught.value)
    assert "\n" not in text and "\x00" not in text and len(text) < 200
    assert text.endswith("is not a subscription name: use 1 to 32 lowercase letters, digits or dashes"
                         " (e.g. china-desk).")


@pytest.mark.parametrize(("words", "expected"), [
    (["entered"], (None, ("entered",))),
    (["entered", "subscription:china"], ("china", ("entered",))),
    (["subscription:China", "rule", "add"], ("china", ("rule", "add"))),
    (["<!subteam^S0|@china>", "Subscription=china"], ("china", ("<!subteam^S0|@china>",))),
    (["countries=CN", "subscription:weekly", "tasks=x"], ("weekly", ("countries=CN", "tasks=x"))),
    (["subscriptions:x"], (None, ("subscriptions:x",))),  # another word, left for the command to judge
])
def test_slack_words_give_the_name_wherever_it_stands(words: list[str],
                                                      expected: tuple[str | None, tuple[str, ...]]) -> None:
    assert split_subscription(words) == expected


@pytest.mark.parametrize(("words", "error"), [
    (["subscription:a", "subscription:b"], "given more than once"),
    (["subscription:"], "Give the subscription's name"),
    (["subscription:no way"], "is not a subscription name"),
])
def test_slack_words_with_a_doubtful_name_are_refused(words: list[str], error: str) -> None:
    with pytest.raises(CommandError, match=error):
        split_subscription(words)


def test_most_important_first_default_then_those_that_ping_then_by_name() -> None:
    found = [subscription("zeta"), subscription("weekly"), subscription("china", "S0CN"), subscription("default"),
             subscription("alpha", "S0A")]
    assert [d.name for d in ordered(found)] == ["default", "alpha", "china", "weekly", "zeta"]


def test_an_unknown_name_is_answered_with_the_names_there_are() -> None:
    there = [subscription("weekly"), subscription("china", "S0CN")]
    assert str(not_found("korea", there)) == "This channel has no subscription named 'korea'; its subscriptions:" \
                                             " china, weekly."
    assert "name one of its subscriptions: china, weekly (subscription:NAME)" in str(not_found("default", there))
    assert str(not_found("korea", [])) == "This channel is not subscribed: use `alerts subscribe` first."
