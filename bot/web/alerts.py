"""Alerts that were sent, as the public sees them: `/alerts`, `/api/alerts` and both feeds read this.

An alert's id is its stored event's id, which never changes: a feed reader that has seen it once
never shows it again. What a channel asked for only for itself (a `/alerts watch` or a channel's
own share rule: `scope` set) is left out, and so is a sample of `/alerts test` (`test`); nothing says
which channels, servers or workspaces got an alert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from bot.domain.country_codes import iso_country_codes
from bot.domain.events import ALERT_KINDS, event_from_payload
from bot.domain.snapshot import UNKNOWN
from bot.log import get_logger
from bot.web.share import BadParameter, list_param
from bot.web.summary import alert_line, event_countries
from store.db import Conn
from store.web_reads import sent_alerts

log = get_logger(__name__)

SHOWN = 100  # alerts on a page or in a feed
SCANNED = 2000  # newest sent events read to find them when filters are given


@dataclass(frozen=True, slots=True)
class PublicAlert:
    id: int
    kind: str
    list: str
    title: str
    text: str
    sent_at: datetime  # when the alert was stored (it is sent right after)
    countries: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "list": self.list, "title": self.title, "text": self.text,
                "sent_at": self.sent_at.isoformat(), "countries": list(self.countries)}


@dataclass(frozen=True, slots=True)
class AlertFilter:
    list_name: str | None = None
    kind: str | None = None
    country: str | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str], lists: Sequence[str]) -> AlertFilter:
        list_name = list_param(params, lists) if params.get("list", "").strip() else None
        kind = params.get("kind", "").strip() or None
        if kind is not None and kind not in ALERT_KINDS:
            raise BadParameter(f"kind: expected one of {', '.join(ALERT_KINDS)}, got {kind!r}")
        country = params.get("country", "").strip() or None
        if country is not None:
            country = UNKNOWN if country.lower() == UNKNOWN else country.upper()
            if country != UNKNOWN and country not in iso_country_codes():
                raise BadParameter(f"country: expected a two-letter code like CN, or 'unknown', got {country!r}")
        return cls(list_name, kind, country)

    def as_params(self) -> dict[str, str]:
        found = {"list": self.list_name, "kind": self.kind, "country": self.country}
        return {key: value for key, value in found.items() if value}


async def public_alerts(conn: Conn, wanted: AlertFilter, limit: int = SHOWN,
                        pruned_before: datetime | None = None) -> list[PublicAlert]:
    """Sent alerts matching the filter, newest first; `pruned_before`: see `sent_alerts`."""
    found: list[PublicAlert] = []
    for sent in await sent_alerts(conn, (wanted.kind,) if wanted.kind else (), limit=SCANNED,
                                  pruned_before=pruned_before):
        try:
            event = event_from_payload(sent.payload)
        except ValidationError:
            log.warning("alert %d: stored payload no longer reads as an event; left off the page", sent.id)
            continue
        if getattr(event, "scope", None) is not None or event.test:  # a channel's own, or an `/alerts test` sample
            continue
        if wanted.list_name is not None and event.list != wanted.list_name:
            continue
        countries = event_countries(event)
        if wanted.country is not None and wanted.country not in countries:
            continue
        title, text = alert_line(event)
        found.append(PublicAlert(sent.id, sent.kind, event.list, title, text, sent.created_at,
                                 tuple(sorted(countries))))
        if len(found) >= limit:
            break
    return found
