"""What happened, as data: produced by `detect`, stored as JSON, rendered later.

Events are stored before anything is sent, so they must round-trip through
JSON exactly (`to_payload` / `event_from_payload`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    taken_at: datetime

    def to_payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class EnteredModel(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    rank: int
    previous_rank: int | None = None
    country: str
    country_method: str = "unknown"
    country_via: str | None = None


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


class SourceHealth(_Event):
    """The Hub kept failing (`failing`) or answers again (`recovered`)."""

    kind: Literal["source"] = "source"
    state: Literal["failing", "recovered"]
    failures: int
    error: str = ""


Event = Annotated[Entered | NewLeader | ShareChange | SourceHealth, Field(discriminator="kind")]
_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def event_from_payload(payload: dict[str, Any]) -> Event:
    return _EVENT_ADAPTER.validate_python(payload)
