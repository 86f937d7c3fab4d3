"""The read-only web page: each page's data once, served as HTML, as JSON under `/api/…`, as CSV or a feed.

Served by the same aiohttp server as `/healthz` and `/metrics` (`OpsEndpoint(pages=Site(...).routes())`),
so every response sets its own security headers instead of relying on a middleware that a shared
server (Slack's HTTP mode) would not have. Nothing here writes to the store: every handler only
calls readers. Pages are rendered by Jinja2 with autoescaping on, so a model id or list name
holding markup is shown as text; the chart is SVG drawn on the server, and the page fetches
nothing but its own CSS and script.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.archive.export import to_csv
from bot.attribution.upkeep import audit
from bot.config import Settings, configured_lists
from bot.domain.lists import ListSpec, item_url
from bot.domain.snapshot import UNKNOWN
from bot.log import get_logger
from bot.web import chart
from bot.web.alerts import AlertFilter, PublicAlert, public_alerts
from bot.web.feeds import atom_feed, json_feed
from bot.web.share import BadParameter, DayCache, ShareQuery, ShareTable, list_param, share_csv, share_table
from bot.web.summary import country_name, flag, headline, how_decided, movement
from store.db import Database
from store.exports import snapshot_rows
from store.snapshots import latest_snapshots, newest_snapshot, share_summary, top_counts
from store.web_reads import find_item, held_back_alerts, item_origin, rank_days

log = get_logger(__name__)

HERE = Path(__file__).parent
STATIC = HERE / "static"
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
                                " base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
AUDIT_DAYS = 30
HELD_BACK_WINDOW = timedelta(days=30)  # the alerts page counts what channel silences held back this far
EXPORT_MAX_DAYS = 400  # one /export/snapshots.csv request: a year and a bit of 15-minute polls


class NotFound(LookupError):
    """Nothing at this address (an unknown model); the message is the whole answer."""


@dataclass(frozen=True, slots=True)
class View:
    """One page's answer: `data` is the JSON, `context` adds what only the HTML needs (chart markup)."""

    template: str
    title: str
    data: dict[str, Any]
    context: dict[str, Any] = field(default_factory=dict)


def secure(response: web.StreamResponse) -> web.StreamResponse:
    response.headers.update(SECURITY_HEADERS)
    return response


def one_line(status: int, message: str) -> web.Response:
    """A refused or missing request: one plain line, never a traceback."""
    response = web.Response(status=status, text=message.splitlines()[0] + "\n", content_type="text/plain")
    secure(response)
    return response


def _dumps(value: Any) -> str:
    return safe_json(json.dumps(value, ensure_ascii=False))


def safe_json(text: str) -> str:
    """`<`, `>` and `&` as JSON escapes: the same data, but never markup even if a browser were to sniff it."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


Builder = Callable[[web.Request], Awaitable[View]]


class Site:
    """The pages of one bot: its configured lists, its store, read only."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.title = settings.web.title
        self.keep_outbox = settings.store.keep_outbox  # sent rows older than this are pruned; their events stay
        self.lists: dict[str, ListSpec] = {spec.name: spec for spec in configured_lists(settings)}
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True,
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.env.globals.update(flag=flag, country_name=country_name, site_title=self.title,
                                lists=list(self.lists), swatch=chart.swatch, q=quote)
        self.days = DayCache()
        self.static = {path.name: path.read_bytes() for path in STATIC.iterdir() if path.suffix in STATIC_TYPES}

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self._page(self.top)), web.get("/api/top", self._json(self.top)),
            web.get("/share", self._page(self.share)), web.get("/api/share", self._json(self.share)),
            web.get("/export/share.csv", self.share_export),
            web.get("/export/snapshots.csv", self.snapshots_export),
            web.get("/model/{hub_id:.+}", self._page(self.model)),
            web.get("/api/model/{hub_id:.+}", self._json(self.model)),
            web.get("/attribution", self._page(self.attribution)),
            web.get("/api/attribution", self._json(self.attribution)),
            web.get("/alerts", self._page(self.alerts)), web.get("/api/alerts", self._json(self.alerts)),
            web.get("/feeds/alerts.atom", self.atom), web.get("/feeds/alerts.json", self.json_feed),
            web.get("/static/{name}", self.static_file),
        ]

    # ---- answering -------------------------------------------------------------------------------------------

    async def _view(self, build: Builder, request: web.Request) -> View | web.Response:
        try:
            return await build(request)
        except BadParameter as exc:
            return one_line(400, f"bad parameter: {exc}")
        except NotFound as exc:
            return one_line(404, str(exc))
        except Exception as exc:  # a store that cannot be read is one line, not a traceback
            log.warning("web page %s: cannot read the store: %s: %s", request.path, type(exc).__name__, exc)
            return one_line(503, "the store cannot be read right now; try again shortly")

    def _page(self, build: Builder) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            view = await self._view(build, request)
            if isinstance(view, web.Response):
                return view
            html = self.env.get_template(view.template).render(
                title=view.title, data=view.data, api=self._api_path(request), **view.context)
            return secure(web.Response(text=html, content_type="text/html"))
        return handler

    def _json(self, build: Builder) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            view = await self._view(build, request)
            if isinstance(view, web.Response):
                return view
            return secure(web.json_response(view.data, dumps=_dumps))
        return handler

    @staticmethod
    def _api_path(request: web.Request) -> str:
        path = "/api/top" if request.path == "/" else "/api" + request.path
        return path + (f"?{request.query_string}" if request.query_string else "")

    def _list(self, request: web.Request) -> ListSpec:
        return self.lists[list_param(request.query, list(self.lists))]

    # ---- pages -----------------------------------------------------------------------------------------------

    async def top(self, _request: web.Request) -> View:
        """`/`: each list's latest top N with movement, countries and the headline."""
        sections: list[dict[str, Any]] = []
        for spec in self.lists.values():
            latest = await latest_snapshots(self.db.conn, 2, spec.name)
            if not latest:
                sections.append({"list": spec.name, "kind": spec.kind, "taken_at": None, "top_n": spec.top_n,
                                 "headline": "No snapshot yet", "entries": []})
                continue
            current = latest[0]
            previous = latest[1].snapshot if len(latest) > 1 else None
            top = current.snapshot.top(current.top_n)
            taken = current.snapshot.taken_at
            week = await share_summary(self.db.conn, taken - timedelta(days=7), taken, spec.name)
            counts = top_counts(top, current.top_n)
            sections.append({
                "list": spec.name, "kind": spec.kind, "taken_at": taken.isoformat(), "top_n": current.top_n,
                "headline": headline(counts, current.top_n, [mix for _, mix, _ in week.distribution]),
                "counts": counts,
                "entries": [{
                    "rank": entry.rank, "id": entry.id, "url": item_url(spec.kind, entry.id),
                    "previous_rank": previous.rank_of(entry.id) if previous else None,
                    "movement": movement(entry.rank, previous.rank_of(entry.id), current.top_n) if previous else "new",
                    "country": entry.country, "method": entry.attribution.method, "via": entry.attribution.via,
                    "how": how_decided(entry.attribution.method, entry.attribution.via),
                } for entry in top],
            })
        return View("top.html", "Trending now", {"lists": sections})

    async def share(self, request: web.Request) -> View:
        query = ShareQuery.parse(request.query, list(self.lists))
        table = await share_table(self.db.conn, query, self.days)
        return View("share.html", f"Country shares of the {query.list_name} top N", table.to_json(),
                    self._share_context(table))

    def _share_context(self, table: ShareTable) -> dict[str, Any]:
        colours = chart.colour_of(table.countries)
        span = f"{table.start} to {table.end}" if table.start else "no data"
        return {
            "chart": chart.share_chart(table.buckets, table.countries,
                                       f"Share of the {table.query.list_name} top N by country, {span},"
                                       f" per {table.query.resolution}", table.query.resolution),
            "colours": colours,
            "export": "/export/share.csv?" + urlencode(table.query.as_params()),
            "query": table.query.as_params(),
            "table": table,
        }

    async def share_export(self, request: web.Request) -> web.StreamResponse:
        """The figures of `/share` as CSV: the same table, through `share_csv` (as `python -m bot share --csv`)."""
        view = await self._view(self.share, request)
        if isinstance(view, web.Response):
            return view
        table: ShareTable = view.context["table"]
        name = f"share-{table.query.list_name}-{table.query.resolution}.csv"
        return secure(web.Response(text=share_csv(table), content_type="text/csv", charset="utf-8",
                                   headers={"Content-Disposition": f'attachment; filename="{name}"'}))

    async def snapshot_rows(self, request: web.Request) -> View:
        """Every stored entry of one list over a range of days, as `python -m bot export snapshots` writes it.

        Without `from`/`to` it is the last 7 days of the list's history; one request covers at most
        `EXPORT_MAX_DAYS`, so a public page cannot be asked for a whole 15-minute history at once.
        """
        query = ShareQuery.parse(request.query, list(self.lists))
        newest = await newest_snapshot(self.db.conn, query.list_name)
        last = query.end or (newest.snapshot.taken_at.date() if newest else datetime.now(UTC).date())
        first = query.start or last - timedelta(days=6)
        if (last - first).days + 1 > EXPORT_MAX_DAYS:
            raise BadParameter(f"from/to: at most {EXPORT_MAX_DAYS} days per export, asked for"
                               f" {(last - first).days + 1}")
        rows = await snapshot_rows(self.db.conn, query.list_name, datetime.combine(first, datetime.min.time(), UTC),
                                   datetime.combine(last, datetime.max.time(), UTC))
        return View("", "", {}, {"csv": to_csv(rows), "name": f"snapshots-{query.list_name}-{first}-{last}.csv"})

    async def snapshots_export(self, request: web.Request) -> web.StreamResponse:
        view = await self._view(self.snapshot_rows, request)
        if isinstance(view, web.Response):
            return view
        return secure(web.Response(text=view.context["csv"], content_type="text/csv", charset="utf-8",
                                   headers={"Content-Disposition": f'attachment; filename="{view.context["name"]}"'}))

    async def model(self, request: web.Request) -> View:
        spec = self._list(request)
        wanted = request.match_info["hub_id"]
        found = await find_item(self.db.conn, spec.name, wanted)
        if found is None:
            raise NotFound(f"no item {wanted!r} on the list {spec.name!r}")
        item_id, hub_id = found
        days = await rank_days(self.db.conn, item_id)
        origin = await item_origin(self.db.conn, item_id)
        data = {
            "list": spec.name, "id": hub_id, "url": item_url(spec.kind, hub_id),
            "country": origin.country if origin else UNKNOWN,
            "method": origin.method if origin else "unknown", "via": origin.via if origin else None,
            "how": how_decided(origin.method, origin.via) if origin else how_decided("unknown", None),
            "days": [{"day": d.day.isoformat(), "best_rank": d.best, "worst_rank": d.worst,
                      "snapshots": d.snapshots, "source": d.archive or "live"} for d in days],
        }
        best: dict[str, int] = {}
        for d in days:
            best[d.day.isoformat()] = min(best.get(d.day.isoformat(), d.best), d.best)
        points = sorted(best.items())
        worst = max((rank for _, rank in points), default=1)
        return View("model.html", hub_id, data,
                    {"chart": chart.rank_chart(points, worst, f"Best rank per day of {hub_id}")})

    async def attribution(self, request: web.Request) -> View:
        spec = self._list(request)
        latest = await latest_snapshots(self.db.conn, 1, spec.name)
        rows = []
        if latest:
            since = latest[0].snapshot.taken_at - timedelta(days=AUDIT_DAYS)
            rows = [asdict(row) for row in await audit(self.db.conn, since, list_name=spec.name)]
            for row in rows:
                row["models"] = list(row["models"])
                row["how"] = how_decided(row["method"], row["via"])
        return View("attribution.html", f"Attribution audit of {spec.name}",
                    {"list": spec.name, "days": AUDIT_DAYS, "namespaces": rows})

    async def alerts(self, request: web.Request) -> View:
        wanted = AlertFilter.parse(request.query, list(self.lists))
        found = await public_alerts(self.db.conn, wanted, pruned_before=self._pruned_before())
        held = await held_back_alerts(self.db.conn, datetime.now(UTC) - HELD_BACK_WINDOW)
        return View("alerts.html", "Alerts sent", {"filter": wanted.as_params(),
                                                   "alerts": [alert.to_json() for alert in found],
                                                   "held_back": {"days": HELD_BACK_WINDOW.days, "alerts": held}})

    # ---- feeds and files ------------------------------------------------------------------------------------

    async def _feed_alerts(self, request: web.Request) -> list[PublicAlert] | web.Response:
        try:
            wanted = AlertFilter.parse(request.query, list(self.lists))
            return await public_alerts(self.db.conn, wanted, pruned_before=self._pruned_before())
        except BadParameter as exc:
            return one_line(400, f"bad parameter: {exc}")
        except Exception as exc:
            log.warning("feed %s: cannot read the store: %s: %s", request.path, type(exc).__name__, exc)
            return one_line(503, "the store cannot be read right now; try again shortly")

    def _pruned_before(self) -> datetime:
        return datetime.now(UTC) - self.keep_outbox

    @staticmethod
    def _self_path(request: web.Request) -> str:
        return request.path + (f"?{request.query_string}" if request.query_string else "")

    async def atom(self, request: web.Request) -> web.StreamResponse:
        found = await self._feed_alerts(request)
        if isinstance(found, web.Response):
            return found
        body = atom_feed(found, f"{self.title}: alerts", _origin(request), self._self_path(request),
                         request.query_string)
        return secure(web.Response(body=body, content_type="application/atom+xml", charset="utf-8"))

    async def json_feed(self, request: web.Request) -> web.StreamResponse:
        found = await self._feed_alerts(request)
        if isinstance(found, web.Response):
            return found
        text = safe_json(json_feed(found, f"{self.title}: alerts", _origin(request), self._self_path(request)))
        return secure(web.Response(text=text, content_type="application/feed+json", charset="utf-8"))

    async def static_file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in self.static:
            return one_line(404, f"no file {name!r}")
        return secure(web.Response(body=self.static[name], content_type=STATIC_TYPES[Path(name).suffix],
                                   headers={"Cache-Control": "public, max-age=3600"}))


def _origin(request: web.Request) -> str:
    """scheme://host of this request, for links in feeds (ids never depend on it)."""
    return f"{request.scheme}://{request.host}"
