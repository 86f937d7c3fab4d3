"""The words of `/alerts silence` and `/alerts unsilence`, parsed at the edge (pure)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.commands.caller import Caller, CommandError
from bot.commands.silences import KIND_WORDS, parse_matcher, parse_silence_id, parse_silence_length, who
from bot.domain.events import SUBSCRIBABLE


def test_the_kind_words_are_those_subscribe_takes():
    assert KIND_WORDS == SUBSCRIBABLE


@pytest.mark.parametrize(("text", "expected"), [
    ("author:deepseek-ai", ("author", "deepseek-ai")),
    ("Author:DeepSeek-AI/", ("author", "DeepSeek-AI")),  # kept as typed: matched without regard to case
    ("model:Qwen/Qwen3-8B", ("model", "Qwen/Qwen3-8B")),
    ("kind:Share", ("kind", "share")),
    ("kind:climber", ("kind", "climber")),
    ("country:us", ("country", "US")),
    (" country: cn ", ("country", "CN")),
])
def test_matchers(text: str, expected: tuple[str, str]):
    assert parse_matcher(text) == expected


@pytest.mark.parametrize("text", ["deepseek-ai", "", ":", "author:", "author:a b", "model:a/b/c", "kind:all",
                                  "kind:entered,share", "kind:new_leader", "country:XX", "team:x", "author:\x00/",
                                  "author:@deepseek", "model:org/ná"])
def test_bad_matchers_are_one_line(text: str):
    with pytest.raises(CommandError) as raised:
        parse_matcher(text)
    assert "\n" not in str(raised.value)


def test_durations_are_those_of_mute_up_to_ninety_days():
    assert parse_silence_length("30m") == timedelta(minutes=30)
    assert parse_silence_length("2H") == timedelta(hours=2)
    assert parse_silence_length("90d") == timedelta(days=90)
    for bad in ("91d", "0m", "7", "", "forever", "-1d", "1e9d", "9999999999d"):
        with pytest.raises(CommandError, match="at most 90 days"):
            parse_silence_length(bad)


def test_ids_as_typed_or_as_listed():
    assert parse_silence_id("3") == parse_silence_id("#3") == parse_silence_id(3) == 3
    for bad in ("three", "#", "-1", "٣", "1" * 19):
        with pytest.raises(CommandError, match="is not a silence id"):
            parse_silence_id(bad)


def test_who_names_the_user_with_the_id_and_keeps_it_one_bounded_line():
    assert who(Caller("slack", "C1", "U1", True, user_name="alice")) == "alice (U1)"
    assert who(Caller("discord", "1", "42", True)) == "42"
    assert who(Caller("discord", "1", "42", True, user_name="a\nb\x00" + "c" * 200)) == "a b\ufffd" + "c" * 76 + " (42)"
