"""What happened, as data: produced by `detect`, stored as JSON, rendered later.

Events are stored before anything is sent, so they must round-trip through
JSON exactly (`to_payload` / `event_from_payload`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    computed_field,
    model_serializer,
)

from bot.domain.outcomes import PollFailure
from bot.domain.shares import DEFAULT_BASIS, Basis
from bot.domain.snapshot import DEFAULT_LIST

# What a route or a subscription can ask for. `left`, `climber` and `digest-daily` are opt-in: no default kinds
# name them. `digest-daily` is stored as users type it (`/alerts subscribe digest-daily`), like every other kind a
# command names, so status lines, config routes, `?kind=` and the jsonl line all say the same word.
ALERT_KINDS = ("entered", "new_leader", "share", "source", "digest", "watched", "left", "climber", "digest-daily")
# The kinds a channel names in `alerts subscribe` and `alerts silence kind:` (a new #1 rides with `entered`;
# source notices and watches are not subscribed to by kind).
SUBSCRIBABLE = ("entered", "share", "digest", "left", "climber", "digest-daily")


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    taken_at: datetime
    # Which trending list this is about (issue 12): every alert carries it; `list_kind` makes its links.
    list: str = DEFAULT_LIST
    list_kind: Literal["models", "datasets", "spaces"] = "models"
    # A sample posted by `/alerts test` (issue 20): rendered marked as a test, never on the public page or
    # the feeds. Left out of the payload when False, so every real alert is stored exactly as before.
    test: bool = False

    def to_payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude=None if self.test else {"test"})


class EnteredModel(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    rank: int
    previous_rank: int | None = None
    country: str
    country_method: str = "unknown"
    country_via: str | None = None
    pipeline_tag: str | None = None  # what channel filters read (`tasks`, `derivatives`)
    derivative: bool = False  # a re-upload or quantization, by the attribution rule's own notion
    likes: int | None = None  # the Hub's counts at that poll, for message templates; None: not known
    downloads: int | None = None


class Entered(_Event):
    """Every model that entered the top N in one poll: one message, not one each."""

    kind: Literal["entered"] = "entered"
    top_n: int
    models: tuple[EnteredModel, ...]


class NewLeader(_Event):
    kind: Literal["new_leader"] = "new_leader"
    id: str
    country: str
    previous_id: str | None = None
    pipeline_tag: str | None = None
    derivative: bool = False
    likes: int | None = None
    downloads: int | None = None


class LeftModel(BaseModel):
    """A model that was in the previous snapshot's top N and is not in this one's.

    `rank` is where it is now (None: beyond the fetched depth). It held the top N from `in_top_since` to
    `last_in_top` (the previous snapshot); `at_least` when that stay reaches back to the list's first
    stored snapshot, so the bot cannot say when it began.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    rank: int | None
    previous_rank: int
    country: str
    country_method: str = "unknown"
    country_via: str | None = None
    in_top_since: datetime
    last_in_top: datetime
    at_least: bool = False
    pipeline_tag: str | None = None
    derivative: bool = False
    likes: int | None = None
    downloads: int | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def hours_in_top(self) -> float:
        """Stored and printed with the model so readers of the JSON need not subtract times."""
        return round((self.last_in_top - self.in_top_since).total_seconds() / 3600, 2)


class Left(_Event):
    """Every model that left the top N in one poll (minus recent leavers): one message, not one each."""

    kind: Literal["left"] = "left"
    top_n: int
    models: tuple[LeftModel, ...]


class ClimberModel(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    rank: int
    previous_rank: int
    country: str
    country_method: str = "unknown"
    country_via: str | None = None
    pipeline_tag: str | None = None
    derivative: bool = False
    likes: int | None = None
    downloads: int | None = None


class Climber(_Event):
    """Every model that rose at least `climb` places within the top N in one poll: one message."""

    kind: Literal["climber"] = "climber"
    top_n: int
    climb: int
    models: tuple[ClimberModel, ...]


class ShareChange(_Event):
    """A share rule started firing or resolved. `scope` is None for config rules."""

    kind: Literal["share"] = "share"
    country: str
    state: Literal["firing", "resolved"]
    direction: Literal["above", "below"]
    share: float
    threshold: int
    top_n: int
    count: int
    rule: str
    scope: int | None = None
    # How sure the figure is (issue 18): the top N's entries of unknown origin, how many were known,
    # and what the rule decided on. Alerts stored before these existed read as the default basis.
    unknown: int = 0
    known: int | None = None
    basis: Basis = DEFAULT_BASIS


class SourceHealth(_Event):
    """The Hub kept failing (`failing`) or answers again (`recovered`)."""

    kind: Literal["source"] = "source"
    state: Literal["failing", "recovered"]
    failures: int
    error: str = ""
    reason: PollFailure | None = None  # None in notices stored before reasons were recorded

    @model_serializer(mode="wrap")
    def _reason_when_known(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A notice without a reason (a recovery) is stored and sent as before reasons existed."""
        data: dict[str, Any] = handler(self)
        if data.get("reason") is None:
            data.pop("reason", None)
        return data


class Watched(_Event):
    """A watched author's item appeared in the fetched depth for the first time, or a watched item entered the top N.

    `scope` is None for a `[[watch]]` of the config (every route taking `watched`), or the
    destination id of the channel that asked with `/alerts watch`.
    """

    kind: Literal["watched"] = "watched"
    id: str
    rank: int
    country: str = "unknown"
    watch: str  # 'author deepseek-ai' | 'model org/name'
    reason: Literal["appeared", "entered"]
    top_n: int
    depth: int
    scope: int | None = None
    likes: int | None = None
    downloads: int | None = None


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Gap(_Part):
    """A stretch with no snapshot (Hub outage, bot down): readers should not trust it."""

    start: datetime
    end: datetime


class DigestNewcomer(_Part):
    id: str
    country: str
    best_rank: int
    hours_in_top: float
    entered_at: datetime


class DigestLeader(_Part):
    id: str
    country: str
    hours: float


class DigestClimber(_Part):
    id: str
    country: str
    from_rank: int
    to_rank: int


class DigestRunner(_Part):
    id: str
    country: str
    longest_run_hours: float
    hours_in_top: float
    whole_week: bool


class CountryAverage(_Part):
    """Average share (percent of the top N) over the week's snapshots; `change` vs the week before."""

    country: str
    average: float
    previous: float | None = None
    change: float | None = None


class UnknownNamespace(_Part):
    """A namespace whose models the bot could not place, and how many top-N entries they held that week."""

    namespace: str
    entries: int
    models: tuple[str, ...] = ()


class ShareChart(_Part):
    """What the chart needs, so it can be drawn at send time without the store.

    `shares[i][j]` is the percent of the top N held by `countries[i]` at `times[j]`;
    `countries` holds the leading countries, then "other" and "unknown" when present.
    """

    times: tuple[datetime, ...]
    countries: tuple[str, ...]
    shares: tuple[tuple[float, ...], ...]
    gaps: tuple[Gap, ...] = ()


class ListSection(_Part):
    """A non-default list's week in the digest, short: what entered its top N for the first time, and who led."""

    name: str
    kind: Literal["models", "datasets", "spaces"]
    top_n: int
    snapshots: int
    newcomers: tuple[str, ...] = ()
    leaders: tuple[str, ...] = ()


class Digest(_Event):
    """One ISO week of the trending list, in the configured time zone. `snapshots == 0` means no data."""

    kind: Literal["digest"] = "digest"
    week: str
    start: datetime
    end: datetime
    timezone: str
    top_n: int
    snapshots: int
    gaps: tuple[Gap, ...] = ()
    newcomers: tuple[DigestNewcomer, ...] = ()
    leaders: tuple[DigestLeader, ...] = ()
    climbers: tuple[DigestClimber, ...] = ()
    long_runners: tuple[DigestRunner, ...] = ()
    countries: tuple[CountryAverage, ...] = ()
    chart: ShareChart | None = None
    unknown_namespaces: tuple[UnknownNamespace, ...] = ()
    lists: tuple[ListSection, ...] = ()
    unknown_average: float = 0.0  # top-N entries of unknown origin per snapshot, said beside every average
    archives: tuple[tuple[str, int], ...] = ()  # (archive, snapshots) of the week imported, not polled


class DailyLeader(_Part):
    """One stretch at #1 during the day: held from `since` (its first snapshot there) for `hours`."""

    id: str
    country: str
    since: datetime
    hours: float


class DailyHold(_Part):
    """One country's entries in the top N of the day's last snapshot."""

    country: str
    count: int


class DailyDigest(_Event):
    """One calendar day of the trending list, in the configured time zone (issue 20). `snapshots == 0`: no data.

    `leaders` are the stretches at #1 in time order (the first held #1 when the day began, the last at its
    end; a list that flips all day keeps the latest ones); `leader_changes` counts every change, also those
    left out. `closing` is the top N of the day's last snapshot by country, with `closing_unknown` of its
    `closing_listed` entries of unknown origin.
    """

    kind: Literal["digest-daily"] = "digest-daily"
    day: str
    start: datetime
    end: datetime
    timezone: str
    top_n: int
    snapshots: int
    gaps: tuple[Gap, ...] = ()
    newcomers: tuple[DigestNewcomer, ...] = ()
    leaders: tuple[DailyLeader, ...] = ()
    leader_changes: int = 0
    held: tuple[DigestLeader, ...] = ()  # hours at #1 per model over the day, most first: a flipping day, summed
    climbers: tuple[DigestClimber, ...] = ()
    countries: tuple[CountryAverage, ...] = ()  # the day's average, `change` from the day before
    closing: tuple[DailyHold, ...] = ()
    closing_unknown: int = 0
    closing_listed: int = 0
    unknown_average: float = 0.0
    archives: tuple[tuple[str, int], ...] = ()


Event = Annotated[Entered | NewLeader | ShareChange | SourceHealth | Digest | Watched | Left | Climber | DailyDigest,
                  Field(discriminator="kind")]
_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def event_from_payload(payload: dict[str, Any]) -> Event:
    return _EVENT_ADAPTER.validate_python(payload)
