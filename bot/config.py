"""TOML file + environment → one validated `Settings` object.

Validated once at start-up; every error names the key (`hub.top_n`) and the
problem, so a broken file never half-starts the bot. Secrets are read from the
environment only and held as `SecretStr`, so they never print.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.delivery.templates import TemplateError, stored_look
from bot.domain.country_codes import iso_country_codes
from bot.domain.destination import DEFAULT_SUBSCRIPTION
from bot.domain.events import ALERT_KINDS
from bot.domain.lists import RESERVED_NAMES, ListSpec
from bot.domain.shares import BASES, DEFAULT_BASIS, Basis
from bot.domain.snapshot import DEFAULT_LIST
from store.db import StoreLocation, postgres_url
from store.sealing import Sealer, SealError

DEFAULT_ENDPOINT = "https://huggingface.co"
DEFAULT_CONFIG_NAME = "trendwatch.toml"
LIST_KINDS = ("models", "datasets", "spaces")
HUB_REQUESTS_PER_5_MIN = 500  # the Hub's anonymous rate limit

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.ASCII)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class ConfigError(Exception):
    """A config problem worth one clear line to the user."""


MAX_DURATION = timedelta(days=3650)  # beyond this a schedule or a date sum overflows; nobody means it


def parse_duration(value: object) -> timedelta:
    """'90s', '15m', '24h', '7d', '1w' → timedelta; a bare number means seconds. Never more than 10 years."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError(f"expected a duration like '15m', '24h' or '7d', got {value!r}")
    if seconds != seconds or seconds < 0:  # NaN or negative
        raise ValueError(f"expected a duration of zero or more, got {value!r}")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"{value!r} is too long: at most {MAX_DURATION.days}d")
    return timedelta(seconds=seconds)


def _at_least(minimum: str) -> AfterValidator:
    floor = parse_duration(minimum)

    def check(value: timedelta) -> timedelta:
        if value < floor:
            raise ValueError(f"must be at least {minimum}, got {value.total_seconds():g}s")
        return value

    return AfterValidator(check)


def _http_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0  # .port raises ValueError beyond 65535
    except ValueError:
        port_ok = False
    if not (port_ok and parts.scheme in ("http", "https") and parts.hostname and not re.search(r"\s", value)):
        raise ValueError(f"expected an http(s) URL, got {value!r}")
    return value


def _usable_path(value: Path) -> Path:
    if "\x00" in str(value):
        raise ValueError("a file path cannot contain a NUL character")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
FilePath = Annotated[Path, AfterValidator(_usable_path)]


def _country_code(value: str) -> str:
    code = value.strip().upper()
    if code not in iso_country_codes():
        raise ValueError(f"expected a two-letter ISO 3166-1 country code like 'CN', got {value!r}")
    return code


CountryCode = Annotated[str, BeforeValidator(lambda v: _country_code(str(v)))]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HubSettings(_Section):
    endpoint: str = DEFAULT_ENDPOINT
    top_n: int = Field(10, ge=1, le=100)
    depth: int = Field(50, ge=1, le=1000)
    poll_interval: Annotated[Duration, _at_least("1s")] = timedelta(minutes=15)
    request_timeout: Annotated[Duration, _at_least("1s")] = timedelta(seconds=10)
    retry_budget: Duration = timedelta(seconds=30)
    failures_before_notice: int = Field(3, ge=1)
    lineage_lookups: int = Field(10, ge=0, le=100)
    replay: FilePath | None = None

    @field_validator("endpoint")
    @classmethod
    def _endpoint_is_http(cls, value: str) -> str:
        return _http_url(value).rstrip("/")

    @model_validator(mode="after")
    def _depth_covers_top(self) -> Self:
        if self.depth < self.top_n:
            raise ValueError(f"hub.depth ({self.depth}) must be at least hub.top_n ({self.top_n})")
        return self


class StoreSettings(_Section):
    """SQLite at `path` (the default), or PostgreSQL at `url`; `DATABASE_URL` in the environment wins over both."""

    path: FilePath = Path("trendwatch.db")
    url: str | None = None
    lease: Annotated[Duration, _at_least("3s")] = timedelta(seconds=90)
    keep_outbox: Annotated[Duration, _at_least("1h")] = timedelta(days=30)  # sent/dropped alerts older than this go

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            postgres_url(value)
        except ValueError as exc:
            raise ValueError(f"{exc} (the URL is not repeated here: it may hold a password)") from None
        return value.strip()

    @property
    def location(self) -> StoreLocation:
        """The store to open: the PostgreSQL URL when one is set, else the SQLite file."""
        return StoreLocation.of(self.url if self.url else self.path)


class ConsoleSettings(_Section):
    enabled: bool = True
    format: Literal["text", "jsonl"] = "text"


class AlertSettings(_Section):
    reentry_cooldown: Duration = timedelta(hours=24)  # also holds back `left` and `climber` (bot/rules/churn.py)
    new_leader: bool = True
    climb: int = Field(3, ge=1, le=100)  # places a model must rise within the top N in one poll to be a `climber`


def _exactly_one(**keys: object) -> None:
    """Two keys of which a table must set one: a share rule's `above`/`below`, a watch's `author`/`model`."""
    first, second = keys
    if (keys[first] is None) == (keys[second] is None):
        raise ValueError(f"give exactly one of {first!r} or {second!r}")


class ShareRule(_Section):
    """`{country, above = P}` or `{country, below = P}` in whole percents."""

    country: CountryCode
    above: int | None = Field(None, ge=0, le=100)
    below: int | None = Field(None, ge=0, le=100)
    for_polls: int = Field(1, ge=1)
    hysteresis: float | None = Field(None, ge=0, le=100)
    notify_resolved: bool = False
    list: str = DEFAULT_LIST
    basis: Basis = DEFAULT_BASIS  # what the share is decided on: bot.domain.shares

    @field_validator("basis", mode="before")
    @classmethod
    def _known_basis(cls, value: object) -> object:
        if value not in BASES:
            choices = ", ".join(f'"{basis}"' for basis in BASES)
            raise ValueError(f"unknown basis {value!r}; choose one of {choices} (default \"{DEFAULT_BASIS}\")")
        return value

    @model_validator(mode="after")
    def _one_direction(self) -> Self:
        _exactly_one(above=self.above, below=self.below)
        return self

    @property
    def direction(self) -> Literal["above", "below"]:
        return "above" if self.above is not None else "below"

    @property
    def threshold(self) -> int:
        value = self.above if self.above is not None else self.below
        assert value is not None
        return value

    @property
    def key(self) -> str:
        """Stable identity for stored rule state; the default list keeps today's keys."""
        key = f"{self.country}:{self.direction}:{self.threshold}"
        if self.basis != DEFAULT_BASIS:  # another basis is another rule, with its own state
            key = f"{key}:{self.basis}"
        return key if self.list == DEFAULT_LIST else f"{self.list}:{key}"


_SUBSCRIPTION_NAME = re.compile(r"[a-z0-9-]{1,32}")


def subscription_name(text: str) -> str:
    """A subscription's name within its channel (issue 20), as config and commands both accept it.

    Short lowercase words with dashes: a name is typed in every command that acts on the subscription
    (`subscription:china-desk` on Slack), so no spaces, no case to get wrong. ValueError says what fits.
    """
    if _SUBSCRIPTION_NAME.fullmatch(text) is None:
        shown = "".join(char if char.isprintable() else "\ufffd" for char in text[:40])
        raise ValueError(f"{shown!r} is not a subscription name: use 1 to 32 lowercase letters, digits or dashes"
                         " (e.g. china-desk)")
    return text


class Route(_Section):
    """`[[routes]]`: one subscription of one channel; several routes of one channel each take their own `name`."""

    platform: Literal["discord", "slack", "console"]
    channel: str = Field(min_length=1)
    name: str = DEFAULT_SUBSCRIPTION  # the subscription's name in its channel: several routes of one channel

    @field_validator("name")
    @classmethod
    def _subscription_name(cls, name: str) -> str:
        return subscription_name(name)
    kinds: tuple[str, ...] = ("entered", "new_leader", "share", "digest")
    # Channel filters (bot/rules/filters.py): which lists, and which entries of them, this channel hears about.
    lists: tuple[str, ...] = Field((DEFAULT_LIST,), min_length=1)  # an empty list would hear nothing
    countries: tuple[CountryCode, ...] = ()
    tasks: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    derivatives: bool = True
    # The look of its alerts about models (issue 20): "full" (the default), "compact", or a custom template
    # such as "{rank}. {country_flag} {id}" (bot/delivery/templates.py). Unset keeps what `/alerts format` set.
    template: str | None = None

    @field_validator("template")
    @classmethod
    def _usable_template(cls, template: str | None) -> str | None:
        if template is not None:
            try:
                stored_look(template)
            except TemplateError as exc:
                raise ValueError(str(exc)) from None
        return template

    # Follow-ups about a model in the thread of the message that announced it (bot/delivery/threading.py).
    threads: Literal["off", "on", "broadcast"] = "off"

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, kinds: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [k for k in kinds if k not in ALERT_KINDS]
        if unknown:
            raise ValueError(f"unknown alert kind(s) {unknown}; known: {list(ALERT_KINDS)}")
        return kinds

    @model_validator(mode="after")
    def _discord_ids_are_numbers(self) -> Self:
        if self.platform == "discord" and not (self.channel.isascii() and self.channel.isdigit()):
            raise ValueError(f"a Discord channel id is a number like '123456789012345678', got {self.channel!r}"
                             " (Developer Mode → right-click the channel → Copy Channel ID)")
        return self


_LIST_NAME = r"^[a-z0-9-]+$"


class TrendList(_Section):
    """One more trending list (`[[lists]]`): its own snapshots, rules and alerts. Filters go to the Hub."""

    name: str = Field(pattern=_LIST_NAME, max_length=40)
    kind: Literal["models", "datasets", "spaces"] = "models"
    top_n: int | None = Field(None, ge=1, le=100)
    depth: int | None = Field(None, ge=1, le=1000)
    pipeline_tag: str | None = Field(None, min_length=1)
    author: str | None = Field(None, min_length=1)
    library: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _filters_fit_kind(self) -> Self:
        if self.pipeline_tag is not None and self.kind != "models":
            raise ValueError("pipeline_tag filters models only; spaces and datasets have no pipeline tag")
        if self.library is not None and self.kind != "models":
            raise ValueError("library filters models only")
        return self


class Watch(_Section):
    """`[[watch]]`: an author (namespace) or one model to be told about; `list` defaults to the models list."""

    author: str | None = Field(None, min_length=1, pattern=r"^[^/\s]+$")
    model: str | None = Field(None, min_length=3, pattern=r"^[^/\s]+/[^/\s]+$")
    list: str = DEFAULT_LIST

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        _exactly_one(author=self.author, model=self.model)
        return self


class CountrySettings(_Section):
    """`overrides` maps a namespace ("org") or a model id ("org/name") to a country.

    `derivatives`: "standard" (re-uploads to their base, a lab keeps its own fine-tunes),
    "base" (every derivative to its base: the ATOM Project's view) or "publisher" (every
    model of a known lab to that lab). `lineage_max_age`: how long a looked-up lineage is trusted.
    """

    overrides: dict[str, CountryCode] = {}
    derivatives: Literal["standard", "base", "publisher"] = "standard"
    lineage_max_age: Duration = timedelta(days=30)


class DeliverySettings(_Section):
    interval: Annotated[Duration, _at_least("1s")] = timedelta(seconds=30)
    concurrency: int = Field(100, ge=1, le=256)  # most sends in flight per platform (aiohttp's connection limit)
    max_backoff: Annotated[Duration, _at_least("1s")] = timedelta(minutes=30)
    max_wait: Annotated[Duration, _at_least("1s")] = timedelta(seconds=60)  # a longer Retry-After re-queues the alert
    # How long a deliverer's claim on a channel's alerts holds unless renewed (every third of it, while it works):
    # the longest a killed deliverer's channels wait before another `run` takes them (PostgreSQL: several deliver).
    claim: Annotated[Duration, _at_least("3s")] = timedelta(seconds=30)


class DiscordSettings(_Section):
    """`shard_count` unset: as many shards as Discord recommends (`GET /gateway/bot`), all in this process.
    `shard_ids` splits the gateway over several processes: each runs its own shards of `shard_count`."""

    enabled: bool = False
    api_base: HttpUrl = "https://discord.com/api/v10"
    guild_ids: tuple[int, ...] = ()
    shard_count: int | None = Field(None, ge=1, le=100_000)
    shard_ids: tuple[int, ...] | None = None

    @field_validator("shard_ids")
    @classmethod
    def _shards_of_the_count(cls, ids: tuple[int, ...] | None, info: ValidationInfo) -> tuple[int, ...] | None:
        """Every process must agree on the count, so Discord maps each server to exactly one of them."""
        if ids is None:
            return None
        count = info.data.get("shard_count")
        if count is None:
            raise ValueError("needs discord.shard_count too: every process must give the same total")
        if not ids:
            raise ValueError("is empty; leave it out to run every shard in this process")
        outside = [shard for shard in ids if not 0 <= shard < count]
        if outside:
            raise ValueError(f"{outside} outside 0..{count - 1} (shard ids count from 0 up to shard_count - 1)")
        if len(set(ids)) != len(ids):
            raise ValueError(f"{sorted({shard for shard in ids if ids.count(shard) > 1})} given twice")
        return tuple(sorted(ids))


#: The bot scopes of slack-manifest.yml (a test holds them equal): what "Add to Slack" asks a workspace for.
MANIFEST_SCOPES = ("commands", "chat:write", "chat:write.public", "files:write", "channels:join", "users:read",
                   "channels:history", "groups:history")


class SlackSettings(_Section):
    enabled: bool = False
    api_url: HttpUrl = "https://slack.com/api/"
    mode: Literal["socket", "http"] = "socket"
    port: int = Field(3000, ge=1, le=65535)
    command: str = "/trending"
    admins: tuple[str, ...] = ()
    # "Add to Slack": workspaces install the app through OAuth (HTTP mode); their tokens live in the store.
    oauth: bool = False
    scopes: tuple[str, ...] = MANIFEST_SCOPES
    authorize_url: HttpUrl = "https://slack.com/oauth/v2/authorize"

    @field_validator("scopes")
    @classmethod
    def _scope_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one bot scope (e.g. 'chat:write'), or leave the key out for the manifest's")
        for scope in value:
            if not re.fullmatch(r"[a-z][a-z0-9_.-]*(:[a-z0-9_.-]+)*", scope):
                raise ValueError(f"{scope!r} is not a Slack scope like 'chat:write'")
        return value

    @field_validator("oauth")
    @classmethod
    def _oauth_over_http(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("mode") != "http":
            raise ValueError('"Add to Slack" needs mode = "http" (Slack sends installers back to'
                             " /slack/oauth_redirect on this bot)")
        return value

    @field_validator("command")
    @classmethod
    def _slash_name(cls, value: str) -> str:
        if not re.fullmatch(r"/[a-z0-9_-]{1,31}", value):
            raise ValueError(f"expected a slash command like '/trending' (lowercase, up to 32 long), got {value!r}")
        return value


class DigestSettings(_Section):
    """The weekly digest (`enabled`, `schedule`) and the daily one (`daily`, issue 20), on one calendar: `timezone`.

    `daily` is the local time the daily digest of the day before is made ("HH:MM"), or "off". It is made only
    when some channel takes the `digest-daily` kind (or the console is on), so the default time costs nothing
    until a channel subscribes. `enabled = false` turns off both; `grace` bounds the catch-up of both after
    the bot was down.
    """

    enabled: bool = True
    schedule: str = "mon 09:00"
    timezone: str = "UTC"
    grace: Annotated[Duration, _at_least("1m")] = timedelta(hours=12)
    daily: str | None = "09:00"

    @field_validator("daily", mode="before")
    @classmethod
    def _time_or_off(cls, value: object) -> object:
        if value is None or value is False or (isinstance(value, str) and value.strip().lower() == "off"):
            return None
        if not isinstance(value, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError(f"expected a time of day like '08:00' (24-hour HH:MM) or 'off', got {value!r}")
        return value.strip()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. 'UTC', 'Europe/Paris')") from None
        return value

    @field_validator("schedule")
    @classmethod
    def _day_and_time(cls, value: str) -> str:
        if not re.fullmatch(r"(mon|tue|wed|thu|fri|sat|sun) ([01]\d|2[0-3]):[0-5]\d", value.strip().lower()):
            raise ValueError(f"expected '<day> HH:MM' like 'mon 09:00', got {value!r}")
        return value.strip().lower()


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"  # json: one object a line on stderr, for hosts that index logs


class OpsSettings(_Section):
    """The health and metrics endpoint (bot/web/ops.py); `$PORT` wins over `port`, as hosts assign it.

    `host` unset: 0.0.0.0 when the port is `$PORT` (the host's router must reach it), else 127.0.0.1.
    """

    enabled: bool = False
    port: int = Field(9100, ge=0, le=65535)
    host: str | None = None


class WebSettings(_Section):
    """The read-only web page (bot/web/site.py), served by the same server as `/healthz` and `/metrics`.

    `$PORT` wins over `port`, as for `[ops]`. The page is meant to be public: `host` unset is 0.0.0.0,
    and `/healthz` then leaves out the lease holder's host name and pid.
    """

    enabled: bool = False
    port: int = Field(8080, ge=0, le=65535)
    host: str | None = None
    title: str = Field("Trendwatch", min_length=1, max_length=80)


class TenantSettings(_Section):
    """One deployment serving many Discord servers and Slack workspaces (tenants).

    Caps are per tenant and count what its commands made (config routes belong to no tenant); unset is
    unlimited, as for a self-hosted bot. `keep_after_leaving`: how long a server or workspace that removed
    the bot keeps its settings (its channels are stopped at once) before they are deleted.
    """

    max_subscriptions: int | None = Field(None, ge=1)
    max_watches: int | None = Field(None, ge=1)
    max_rules: int | None = Field(None, ge=1)
    keep_after_leaving: Duration = timedelta(days=30)


class Settings(_Section):
    hub: HubSettings = HubSettings()
    store: StoreSettings = StoreSettings()
    console: ConsoleSettings = ConsoleSettings()
    alerts: AlertSettings = AlertSettings()
    share_rules: tuple[ShareRule, ...] = ()
    routes: tuple[Route, ...] = ()
    countries: CountrySettings = CountrySettings()
    delivery: DeliverySettings = DeliverySettings()
    discord: DiscordSettings = DiscordSettings()
    slack: SlackSettings = SlackSettings()
    digest: DigestSettings = DigestSettings()
    log: LogSettings = LogSettings()
    ops: OpsSettings = OpsSettings()
    web: WebSettings = WebSettings()
    tenants: TenantSettings = TenantSettings()
    lists: tuple[TrendList, ...] = ()
    watch: tuple[Watch, ...] = ()

    @model_validator(mode="after")
    def _lists_hold_together(self) -> Self:

        check_lists(self)
        check_routes(self)
        return self


@dataclass(frozen=True)
class Secrets:
    """Tokens from the environment only: never from a file, never logged."""

    discord_token: SecretStr | None
    slack_bot_token: SecretStr | None
    slack_app_token: SecretStr | None
    slack_signing_secret: SecretStr | None
    hf_token: SecretStr | None
    slack_client_id: SecretStr | None = None
    slack_client_secret: SecretStr | None = None
    secret_key: SecretStr | None = None  # TRENDWATCH_SECRET_KEY: seals the tokens workspaces grant through OAuth

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Secrets:
        source = os.environ if env is None else env

        def secret(name: str) -> SecretStr | None:
            value = source.get(name, "").strip()
            return SecretStr(value) if value else None

        return cls(
            discord_token=secret("DISCORD_TOKEN"),
            slack_bot_token=secret("SLACK_BOT_TOKEN"),
            slack_app_token=secret("SLACK_APP_TOKEN"),
            slack_signing_secret=secret("SLACK_SIGNING_SECRET"),
            hf_token=secret("HF_TOKEN"),
            slack_client_id=secret("SLACK_CLIENT_ID"),
            slack_client_secret=secret("SLACK_CLIENT_SECRET"),
            secret_key=secret("TRENDWATCH_SECRET_KEY"),
        )


def _describe(error: dict[str, Any]) -> str:
    key = ""
    for part in error["loc"]:
        if isinstance(part, int):
            key += f"[{part}]"
        elif not str(part).startswith("function-"):
            key += f".{part}" if key else str(part)
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key (check the spelling against config.example.toml)"
    elif error["type"] != "value_error" and "input" in error and not isinstance(error["input"], dict):
        message += f" (got {error['input']!r})"
    if not key and re.match(r"^[\w.\[\]]+: ", message):  # a cross-section check names its own key
        return message
    return f"{key or '(top level)'}: {message}"


def parse_settings(data: dict[str, Any], env: dict[str, str] | None = None, origin: str = "config") -> Settings:
    """Validate a parsed TOML document; `HF_ENDPOINT`, `DATABASE_URL` and (Slack HTTP mode) `PORT` in the
    environment win over the file: hosts assign them."""
    source = os.environ if env is None else env
    for key in ("share_rules", "routes"):
        if isinstance(data.get(key), dict):
            raise ConfigError(f"{origin}: {key}: write each entry as [[{key}]] (double brackets, one per entry),"
                              f" not [{key}]")
    try:
        settings = Settings.model_validate(data)
        if endpoint := source.get("HF_ENDPOINT", "").strip():
            hub = HubSettings.model_validate({**settings.hub.model_dump(), "endpoint": endpoint})
            settings = settings.model_copy(update={"hub": hub})
        if database_url := source.get("DATABASE_URL", "").strip():
            try:
                store = StoreSettings.model_validate({**settings.store.model_dump(), "url": database_url})
            except ValidationError as exc:
                raise ConfigError(f"environment: DATABASE_URL: {exc.errors()[0]['msg'].removeprefix('Value error, ')}"
                                  ) from None
            settings = settings.model_copy(update={"store": store})
        if settings.slack.enabled and settings.slack.mode == "http" and (port := source.get("PORT", "").strip()):
            try:
                slack = SlackSettings.model_validate({**settings.slack.model_dump(), "port": port})
            except ValidationError:
                raise ConfigError(f"environment: PORT: expected a port number (1-65535), got {port!r}") from None
            settings = settings.model_copy(update={"slack": slack})
    except ValidationError as exc:
        first = exc.errors()[0]
        more = len(exc.errors()) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ConfigError(f"{origin}: {_describe(dict(first))}{suffix}") from None
    return settings


def load_settings(path: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read `path`, or ./trendwatch.toml if present, or run on embedded defaults."""
    source = os.environ if env is None else env
    if path is None:
        if configured := source.get("TRENDWATCH_CONFIG"):
            path = Path(configured)
        elif Path(DEFAULT_CONFIG_NAME).is_file():
            path = Path(DEFAULT_CONFIG_NAME)
        else:
            return parse_settings({}, env=dict(source), origin="defaults")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_settings(data, env=dict(source), origin=str(path))


def unavailable_platforms(settings: Settings, secrets: Secrets) -> dict[str, str]:
    """Platforms a route or subscription may name that nothing will send to now, and why.

    Their alerts are queued and wait; saying so (check-config, channels, the
    `run` log) is the only way an operator learns that a channel hears nothing.
    """
    found: dict[str, str] = {}
    if not settings.console.enabled:
        found["console"] = "[console] enabled = false"
    oauth = settings.slack.oauth  # "Add to Slack": the workspaces' tokens are in the store
    slack_token, slack_variable = ((secrets.slack_client_id, "SLACK_CLIENT_ID") if oauth
                                   else (secrets.slack_bot_token, "SLACK_BOT_TOKEN"))
    for platform, enabled, token, variable in (
        ("discord", settings.discord.enabled, secrets.discord_token, "DISCORD_TOKEN"),
        ("slack", settings.slack.enabled, slack_token, slack_variable),
    ):
        if not enabled:
            found[platform] = f"[{platform}] enabled = false"
        elif token is None:
            found[platform] = f"{variable} is not set"
    return found


def configured_lists(settings: Settings) -> list[ListSpec]:
    """The default list first, then `[[lists]]` in config order."""
    hub = settings.hub
    found = [ListSpec(DEFAULT_LIST, "models", hub.top_n, hub.depth)]
    for declared in settings.lists:
        top_n = declared.top_n or hub.top_n
        depth = declared.depth or max(hub.depth, top_n)
        found.append(ListSpec(declared.name, declared.kind, top_n, depth, declared.pipeline_tag, declared.author,
                              declared.library))
    return found


def list_named(settings: Settings, name: str | None) -> ListSpec:
    """The list a command or CLI option names (None = the default); ValueError names the known ones."""
    wanted = (name or DEFAULT_LIST).strip().lower()
    lists = configured_lists(settings)
    for spec in lists:
        if spec.name == wanted:
            return spec
    raise ValueError(f"no list named {name!r}; configured: {', '.join(spec.name for spec in lists)}")


def requests_per_5_minutes(settings: Settings) -> float:
    """Worst-case Hub requests in 5 minutes at `[hub] poll_interval` (retries inside `retry_budget` aside)."""
    per_poll = sum(spec.hub_requests_per_poll(settings.hub.lineage_lookups) for spec in configured_lists(settings))
    polls = math.ceil(300.0 / max(settings.hub.poll_interval.total_seconds(), 1.0))  # any window holds one
    return float(per_poll * polls)


def check_lists(settings: Settings) -> None:
    """Names unique and known wherever they are used; a multi-list config within the Hub's rate limit.

    ValueError with one line; `parse_settings` turns it into a ConfigError. A config without
    `[[lists]]` is not budget-checked, so single-list configs behave exactly as before.
    """
    names = [DEFAULT_LIST]
    for declared in settings.lists:
        if declared.name in RESERVED_NAMES:
            raise ValueError(f"lists: {declared.name!r} is a command word; pick another name")
        if declared.name.isdigit() or declared.name.upper() in iso_country_codes():
            # `/trending cn 5` must keep meaning the country and the count on Slack
            raise ValueError(f"lists: {declared.name!r} reads as a count or a country code; pick another name")
        if declared.name in names:
            what = "is the default list's name" if declared.name == DEFAULT_LIST else "is declared twice"
            raise ValueError(f"lists: {declared.name!r} {what}; every list needs its own name")
        names.append(declared.name)
    for index, declared in enumerate(settings.lists):
        top_n, depth = declared.top_n or settings.hub.top_n, declared.depth or settings.hub.depth
        if depth < top_n:  # every poll would be a short answer, a counted failure, forever
            raise ValueError(f"lists[{index}].depth: {depth} is less than its top_n {top_n}"
                             " (top_n and depth default to [hub]'s)")
    known = ", ".join(names)
    for index, route in enumerate(settings.routes):
        unknown = [name for name in route.lists if name not in names]
        if unknown:
            raise ValueError(f"routes[{index}].lists: unknown list(s) {unknown}; configured: {known}")
    for index, rule in enumerate(settings.share_rules):
        if rule.list not in names:
            raise ValueError(f"share_rules[{index}].list: unknown list {rule.list!r}; configured: {known}")
    for index, watch in enumerate(settings.watch):
        if watch.list not in names:
            raise ValueError(f"watch[{index}].list: unknown list {watch.list!r}; configured: {known}")
    if settings.lists:
        budget = requests_per_5_minutes(settings)
        if budget > HUB_REQUESTS_PER_5_MIN:
            raise ValueError(
                f"lists: {len(names)} lists at hub.poll_interval {settings.hub.poll_interval} may cost"
                f" {budget:.0f} Hub requests in 5 minutes, above the Hub's limit of {HUB_REQUESTS_PER_5_MIN}:"
                " poll less often, declare fewer lists or lower hub.lineage_lookups"
            )


def check_routes(settings: Settings) -> None:
    """One route per subscription: a second `[[routes]]` of the same platform, channel and name would silently
    overwrite the first's kinds and filters, so it is one line naming both."""
    seen: dict[tuple[str, str, str], int] = {}
    for index, route in enumerate(settings.routes):
        key = (route.platform, route.channel, route.name)
        if key in seen:
            raise ValueError(f"routes[{index}]: {route.platform}:{route.channel} subscription {route.name!r} is"
                             f" already routes[{seen[key]}]; give each [[routes]] of one channel its own name"
                             " (e.g. name = \"china-desk\")")
        seen[key] = index


def check_slack_oauth(settings: Settings, secrets: Secrets) -> None:
    """With `[slack] oauth = true`: every secret "Add to Slack" needs is set, and the key is a key; else one line."""
    if not (settings.slack.enabled and settings.slack.oauth):
        return
    for variable, value in (("SLACK_CLIENT_ID", secrets.slack_client_id),
                            ("SLACK_CLIENT_SECRET", secrets.slack_client_secret),
                            ("SLACK_SIGNING_SECRET", secrets.slack_signing_secret)):
        if value is None:
            raise ConfigError(f"environment: {variable} is not set; [slack] oauth = true needs it"
                              " (the app's Basic Information page)")
    try:
        Sealer.from_value(secrets.secret_key.get_secret_value() if secrets.secret_key else None)
    except SealError as exc:
        raise ConfigError(f"environment: {exc}") from None
