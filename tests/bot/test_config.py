"""Config: defaults, validation that names the key, the environment's part."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import ConfigError, Secrets, load_settings, parse_duration, parse_settings
from tests.support.cli import REPO


def error_for(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, env={})
    return str(caught.value)


def test_defaults_need_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, env={})
    assert (settings.hub.endpoint, settings.hub.top_n, settings.hub.depth) == ("https://huggingface.co", 10, 50)
    assert settings.store.path == Path("trendwatch.db")
    assert settings.console.enabled and settings.console.format == "text"
    assert settings.hub.poll_interval == timedelta(minutes=15)


def test_trendwatch_toml_in_the_working_directory_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "trendwatch.toml").write_text("[hub]\ntop_n = 5\n", encoding="utf-8")
    assert load_settings(None, env={}).hub.top_n == 5


def test_hf_endpoint_wins_over_the_file():
    settings = parse_settings({"hub": {"endpoint": "https://huggingface.co"}}, env={"HF_ENDPOINT": "http://x:1/"})
    assert settings.hub.endpoint == "http://x:1"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"hub": {"top_n": 0}}, "hub.top_n"),
        ({"hub": {"top_n": 60}}, "hub.depth (50) must be at least hub.top_n (60)"),
        ({"hub": {"endpoint": "ftp://x"}}, "hub.endpoint: expected an http(s) URL"),
        ({"hub": {"poll_interval": "soon"}}, "hub.poll_interval: expected a duration"),
        ({"hbu": {}}, "hbu: unknown key"),
        ({"console": {"format": "xml"}}, "console.format"),
        ({"share_rules": [{"country": "China", "above": 50}]}, "share_rules[0].country: expected a two-letter"),
        ({"share_rules": [{"country": "ZZ", "above": 50}]}, "share_rules[0].country: expected a two-letter"),
        ({"share_rules": [{"country": "CN", "above": 101}]}, "share_rules[0].above"),
        ({"share_rules": [{"country": "CN", "above": 50, "below": 10}]}, "exactly one of 'above' or 'below'"),
        ({"routes": [{"platform": "discord", "channel": "1", "kinds": ["gossip"]}]}, "routes[0].kinds"),
        ({"digest": {"timezone": "Mars/Olympus"}}, "digest.timezone: unknown IANA time zone"),
        ({"digest": {"schedule": "monday 9am"}}, "digest.schedule"),
    ],
)
def test_errors_name_the_key(data: dict[str, Any], expected: str):
    assert expected in error_for(data)


def test_several_problems_are_counted():
    assert "(and 1 more problem)" in error_for({"hub": {"top_n": 0, "depth": 0}})


def test_missing_and_broken_files(tmp_path: Path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(tmp_path / "nope.toml", env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[hub\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken, env={})


def test_durations():
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    assert parse_duration(30) == timedelta(seconds=30)
    with pytest.raises(ValueError):
        parse_duration("1 fortnight")


def test_secrets_come_from_the_environment_and_do_not_print():
    secrets = Secrets.from_env({"DISCORD_TOKEN": "abc.def", "HF_TOKEN": " ", "SLACK_BOT_TOKEN": "xoxb-1"})
    assert secrets.discord_token is not None and secrets.discord_token.get_secret_value() == "abc.def"
    assert secrets.hf_token is None
    assert "abc.def" not in repr(secrets) and "xoxb-1" not in str(secrets)


def test_example_config_is_valid_and_complete():
    example = REPO / "config.example.toml"
    settings = load_settings(example, env={})
    assert settings.share_rules[0].country == "CN"


def test_countries_keys_for_derivatives_and_the_lineage_cache():
    settings = parse_settings({"countries": {"derivatives": "base", "lineage_max_age": "7d"}}, env={})
    assert (settings.countries.derivatives, settings.countries.lineage_max_age) == ("base", timedelta(days=7))
    assert parse_settings({}, env={}).countries.derivatives == "standard"
    assert "countries.derivatives" in error_for({"countries": {"derivatives": "lab"}})


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"hub": {"poll_interval": "99999999999d"}}, "hub.poll_interval: '99999999999d' is too long"),
        ({"hub": {"poll_interval": 1e309}}, "hub.poll_interval"),
        ({"hub": {"poll_interval": 0}}, "hub.poll_interval: must be at least 1s"),
        ({"hub": {"poll_interval": "-5m"}}, "hub.poll_interval: expected a duration"),
        ({"hub": {"request_timeout": "0s"}}, "hub.request_timeout: must be at least 1s"),
        ({"store": {"lease": "0s"}}, "store.lease: must be at least 3s"),
        ({"digest": {"grace": "0s"}}, "digest.grace: must be at least 1m"),
        ({"delivery": {"interval": "0s"}}, "delivery.interval: must be at least 1s"),
        ({"delivery": {"claim": "1s"}}, "delivery.claim: must be at least 3s"),
        ({"routes": [{"platform": "discord", "channel": "general"}]}, "routes[0]: a Discord channel id is a number"),
        ({"routes": [{"platform": "discord", "channel": "١٢٣"}]}, "routes[0]: a Discord channel id is a number"),
        ({"discord": {"api_base": "discord.com/api"}}, "discord.api_base: expected an http(s) URL"),
        ({"discord": {"api_base": "http://"}}, "discord.api_base: expected an http(s) URL"),
        ({"slack": {"api_url": "javascript:alert(1)"}}, "slack.api_url: expected an http(s) URL"),
        ({"hub": {"endpoint": "http://exa mple"}}, "hub.endpoint: expected an http(s) URL"),
        ({"hub": {"endpoint": "http://127.0.0.1:99999"}}, "hub.endpoint: expected an http(s) URL"),
        ({"store": {"path": "a\x00b.db"}}, "store.path: a file path cannot contain a NUL"),
        ({"slack": {"command": "trending"}}, "slack.command"),
        ({"hub": {"replay": "x\x00y"}}, "hub.replay: a file path cannot contain a NUL"),
        ({"share_rules": {"country": "CN", "above": 50}}, "share_rules: write each entry as [[share_rules]]"),
        ({"routes": {"platform": "slack", "channel": "C1"}}, "routes: write each entry as [[routes]]"),
    ],
)
def test_unusable_values_are_refused_naming_the_key(data: dict[str, Any], expected: str):
    assert expected in error_for(data)


def test_sensible_values_at_the_minimums_are_accepted():
    settings = parse_settings({
        "hub": {"poll_interval": "1s", "request_timeout": "1s", "retry_budget": "0s"},
        "store": {"lease": "3s"}, "digest": {"grace": "1m"}, "delivery": {"claim": "3s"},
        "routes": [{"platform": "discord", "channel": "123456789012345678"}, {"platform": "slack", "channel": "C01"}],
        "discord": {"api_base": "http://127.0.0.1:8080/api/v10"}, "slack": {"api_url": "https://slack.example/api/"},
    }, env={})
    assert settings.store.lease == timedelta(seconds=3) and settings.digest.grace == timedelta(minutes=1)
    assert settings.delivery.claim == timedelta(seconds=3)
    assert parse_settings({}, env={}).delivery.claim == timedelta(seconds=30)  # a killed deliverer's channels wait


def test_a_file_that_is_not_utf8_is_one_line(tmp_path: Path):
    latin = tmp_path / "latin1.toml"
    latin.write_bytes('[hub]\n# café\ntop_n = 10\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(latin, env={})


def test_durations_that_overflow_are_value_errors():
    for text in ("99999999999d", "9" * 400 + "s", float("inf"), float("nan")):
        with pytest.raises(ValueError):
            parse_duration(text)


@pytest.mark.parametrize(("data", "expected"), [
    ({"tenants": {"max_subscriptions": 0}}, "config: tenants.max_subscriptions: Input should be greater than or"
                                            " equal to 1 (got 0)"),
    ({"tenants": {"max_rules": "many"}}, "config: tenants.max_rules: Input should be a valid integer"),
    ({"tenants": {"max_watches": -3}}, "config: tenants.max_watches: Input should be greater than or equal to 1"),
    ({"tenants": {"keep_after_leaving": "forever"}}, "config: tenants.keep_after_leaving: expected a duration"),
    ({"tenants": {"max_channels": 5}}, "config: tenants.max_channels: unknown key"),
])
def test_tenant_caps_are_whole_numbers_and_a_bad_one_is_one_line_naming_the_key(
    data: dict[str, Any], expected: str
) -> None:
    said = error_for(data)
    assert said.startswith(expected) and "\n" not in said


def test_tenant_caps_unset_are_unlimited_and_the_grace_is_30_days() -> None:
    tenants = parse_settings({}, env={}).tenants
    assert (tenants.max_subscriptions, tenants.max_watches, tenants.max_rules) == (None, None, None)
    assert tenants.keep_after_leaving == timedelta(days=30)
    set_up = parse_settings({"tenants": {"max_rules": 5, "keep_after_leaving": "7d"}}, env={}).tenants
    assert (set_up.max_rules, set_up.keep_after_leaving) == (5, timedelta(days=7))
