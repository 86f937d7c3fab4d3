"""The alert feeds: Atom (made by feedgen) and JSON Feed 1.1 (a dict serialised by json), never string templates.

Each entry's id comes from the stored event's id alone (`entry_id`), not from the address the
feed was fetched at nor the time: a reader that polls twice, or through another host name, sees
the same ids and shows an alert once. The feed's own `updated` is its newest alert's time, so an
unchanged feed is byte-for-byte the same.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from feedgen.feed import FeedGenerator

from bot.web.alerts import PublicAlert

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def entry_id(alert_id: int) -> str:
    """A tag URI (RFC 4151) naming the alert by its event id: stable across requests and hosts."""
    return f"tag:trendwatch,2025:alert/{alert_id}"


def feed_id(query: str) -> str:
    return f"tag:trendwatch,2025:alerts{'?' + query if query else ''}"


def atom_feed(alerts: Sequence[PublicAlert], title: str, origin: str, self_path: str, query: str) -> bytes:
    """Atom 1.0; `origin` (scheme://host) only makes links, never ids."""
    feed = FeedGenerator()
    feed.id(feed_id(query))
    feed.title(title)
    feed.author({"name": title})
    feed.link(href=f"{origin}/alerts", rel="alternate")
    feed.link(href=f"{origin}{self_path}", rel="self")
    feed.updated(max((a.sent_at for a in alerts), default=EPOCH))
    for alert in alerts:
        entry = feed.add_entry(order="append")
        entry.id(entry_id(alert.id))
        entry.title(alert.title)
        entry.link(href=f"{origin}/alerts#alert-{alert.id}")
        entry.published(alert.sent_at)
        entry.updated(alert.sent_at)
        entry.content(alert.text, type="text")
        entry.category([{"term": alert.kind}, {"term": f"list:{alert.list}"},
                        *({"term": f"country:{country}"} for country in alert.countries)])
    data: bytes = feed.atom_str(pretty=True)
    return data


def json_feed(alerts: Sequence[PublicAlert], title: str, origin: str, self_path: str) -> str:
    """JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/): `version`, `title`, `items` with `id` and content."""
    document = {
        "version": JSON_FEED_VERSION,
        "title": title,
        "home_page_url": f"{origin}/alerts",
        "feed_url": f"{origin}{self_path}",
        "description": "Alerts sent about the Hugging Face Hub's trending lists",
        "language": "en",
        "items": [{
            "id": entry_id(alert.id),
            "url": f"{origin}/alerts#alert-{alert.id}",
            "title": alert.title,
            "content_text": alert.text,
            "date_published": alert.sent_at.isoformat(),
            "tags": [alert.kind, f"list:{alert.list}", *(f"country:{c}" for c in alert.countries)],
        } for alert in alerts],
    }
    return json.dumps(document, ensure_ascii=False, indent=1)
