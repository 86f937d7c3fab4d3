"""The web page as a reader uses it: every page, its JSON, the CSV, the feeds, bad parameters, and its safety.

A real aiohttp server on 127.0.0.1 over a store holding imported (archive) and polled history, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest

from bot.domain.events import Entered, EnteredModel, ShareChange, Watched
from bot.web.site import SECURITY_HEADERS
from store import silences
from store.db import Database
from store.destinations import upsert_destination
from store.outbox import add_event
from tests.support.cli import bot
from tests.support.stores import query, store_of
from tests.support.web import CHANNEL, add_sent_alert, add_snapshot, ranked, site_client, web_settings

ARCHIVE = "park-onezero/daily-hf-trending"
EVIL = 'evil"org/<script>alert("x")</script>'
DAY0 = datetime(2024, 1, 1, 12, tzinfo=UTC)  # a Monday
LIVE0 = datetime(2024, 1, 15, 0, tzinfo=UTC)  # a Monday, two weeks later
CN = [(f"Qwen/q{i}", "CN") for i in range(10)]
US = [(f"meta-llama/l{i}", "US") for i in range(10)]


async def fill(db: Database) -> None:
    """Two archived weeks (one snapshot a day), then a day of polls every 6 hours; one id holds markup."""
    for day in range(14):  # archive: first week 6 CN / 3 US / 1 unknown, second week 4 CN / 6 US
        mix = [*CN[:6], *US[:3], ("nobody/x", "unknown")] if day < 7 else CN[:4] + US[:6]
        await add_snapshot(db, DAY0 + timedelta(days=day), ranked(*mix), archive=ARCHIVE)
    for poll in range(4):  # live: CN 5, US 4, and the id with markup at rank 10 (unknown country)
        order = [*CN[:5], *US[:4], (EVIL, "unknown")] if poll < 3 else [(EVIL, "unknown"), *CN[:5], *US[:4]]
        await add_snapshot(db, LIVE0 + timedelta(hours=6 * poll), ranked(*order))
    at = LIVE0 + timedelta(hours=18)
    await add_sent_alert(db, Entered(taken_at=at, top_n=10, models=(EnteredModel(id=EVIL, rank=1, country="unknown"),)),
                         at)
    await add_sent_alert(db, ShareChange(taken_at=at, country="CN", state="firing", direction="above", share=50.0,
                                         threshold=50, top_n=10, count=5, rule="CN above 50"), at)
    await add_sent_alert(db, Watched(taken_at=at, id="Qwen/q1", rank=2, country="CN", watch="model Qwen/q1",
                                     reason="entered", top_n=10, depth=100, scope=1), at)  # a channel's own watch
    await add_sent_alert(db, ShareChange(taken_at=at, country="US", state="firing", direction="below", share=40.0,
                                         threshold=50, top_n=10, count=4, rule="US below 50"), at, delivered=False)


PAGES = ["/", "/share", "/share?resolution=day&from=2024-01-01&to=2024-01-31", "/model/Qwen/q0",
         "/model/" + EVIL.replace('"', "%22").replace("<", "%3C").replace(">", "%3E"), "/attribution", "/alerts",
         "/api/top", "/api/share", "/api/model/Qwen/q0", "/api/attribution", "/api/alerts", "/export/share.csv",
         "/export/snapshots.csv",
         "/feeds/alerts.atom", "/feeds/alerts.json", "/static/site.css", "/static/site.js"]


async def test_every_page_answers_with_strict_headers_escaped_text_and_no_channel(db_path: Path) -> None:
    async with site_client(db_path) as (client, db):
        await fill(db)
        for path in PAGES:
            response = await client.get(path)
            body = await response.text()
            assert response.status == 200, (path, body)
            for header, value in SECURITY_HEADERS.items():
                assert response.headers[header] == value, (path, header)
            assert CHANNEL not in body and "discord" not in body.lower(), path
            if not path.endswith(".csv"):  # CSV is data (text/csv, nosniff); everything else never holds markup
                assert "<script>alert" not in body, path
        page = await (await client.get("/")).text()
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
        assert "evil&#34;org" in page  # the quote too: it could close an attribute


async def test_the_front_page_says_who_holds_the_top_and_what_moved(db_path: Path) -> None:
    async with site_client(db_path) as (client, db):
        await fill(db)
        top = (await (await client.get("/api/top")).json())["lists"][0]
        assert top["headline"] == "China holds 5 of 10 (4–5 this week, 1 unknown)"
        first, second = top["entries"][:2]
        assert (first["id"], first["movement"], first["previous_rank"]) == (EVIL, "▲9", 10)
        assert (second["id"], second["movement"], second["country"], second["how"]) == (
            "Qwen/q0", "▼1", "CN", "namespace Qwen")
        page = await (await client.get("/")).text()
        assert "China holds 5 of 10 (4–5 this week, 1 unknown)" in page
        assert "\U0001F1E8\U0001F1F3" in page  # China's flag


async def test_share_averages_each_week_marks_archive_and_live_and_matches_its_csv(db_path: Path) -> None:
    async with site_client(db_path) as (client, db):
        await fill(db)
        data = await (await client.get("/api/share?resolution=week")).json()
        assert data["from"] == "2024-01-01" and data["to"] == "2024-01-15"
        assert data["countries"] == ["CN", "US", "unknown"]
        assert data["sources"] == [ARCHIVE, "live"]
        weeks = data["buckets"]
        assert [(w["start"], w["snapshots"], w["sources"]) for w in weeks] == [
            ("2024-01-01", 7, [ARCHIVE]), ("2024-01-08", 7, [ARCHIVE]), ("2024-01-15", 4, ["live"])]
        assert weeks[0]["shares"] == {"CN": 60.0, "US": 30.0, "unknown": 10.0}
        assert weeks[0]["unknown_entries"] == 1.0
        assert weeks[1]["shares"] == {"CN": 40.0, "US": 60.0, "unknown": 0.0}
        assert weeks[2]["shares"] == {"CN": 50.0, "US": 40.0, "unknown": 10.0}

        text = await (await client.get("/export/share.csv?resolution=week")).text()
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) == len(weeks) * len(data["countries"])
        for row in rows:
            week = next(w for w in weeks if w["start"] == row["start"])
            assert float(row["share_percent"]) == week["shares"][row["country"]]
            assert float(row["unknown_entries"]) == week["unknown_entries"]
            assert (row["end"], int(row["snapshots"]), int(row["top_n"]), row["sources"].split(";")) == (
                week["end"], week["snapshots"], week["top_n"], week["sources"])

        page = await (await client.get("/share?resolution=week")).text()
        assert page.count('class="band"') == 3 and 'data-country="unknown" data-points="3"' in page
        assert page.count('data-source="archive"') == 2 and page.count('data-source="live"') == 1
        assert ARCHIVE in page


async def test_a_range_picks_its_days(db_path: Path) -> None:
    async with site_client(db_path) as (client, db):
        await fill(db)
        data = await (await client.get("/api/share?from=2024-01-03&to=2024-01-04&resolution=day")).json()
        assert [b["start"] for b in data["buckets"]] == ["2024-01-03", "2024-01-04"]
        data = await (await client.get("/api/share?resolution=month")).json()
        assert [(b["start"], b["snapshots"]) for b in data["buckets"]] == [("2024-01-01", 18)]


@pytest.mark.parametrize(("path", "line"), [
    ("/share?from=2024-13-01", "bad parameter: from: expected a date like 2024-01-31, got '2024-13-01'"),
    ("/api/share?to=yesterday", "bad parameter: to: expected a date like 2024-01-31, got 'yesterday'"),
    ("/export/share.csv?list=%3Cscript%3E", "bad parameter: list: no list named '<script>'; this bot has: models"),
    ("/share?resolution=hour", "bad parameter: resolution: expected one of day, week, month, got 'hour'"),
    ("/api/share?from=2024-02-01&to=2024-01-01", "bad parameter: from (2024-02-01) is after to (2024-01-01)"),
    ("/alerts?kind=nope", "bad parameter: kind: expected one of entered, new_leader, share, source, digest,"
                          " watched, left, climber, digest-daily, got 'nope'"),
    ("/feeds/alerts.atom?country=ZZ", "bad parameter: country: expected a two-letter code like CN, or 'unknown',"
                                      " got 'ZZ'"),
    ("/export/snapshots.csv?from=2023-01-01&to=2024-12-31", "bad parameter: from/to: at most 400 days per export,"
                                                             " asked for 731"),
    ("/export/snapshots.csv?from=2024-1-1", "bad parameter: from: expected a date like 2024-01-31, got '2024-1-1'"),
    ("/model/no/such?list=models", "no item 'no/such' on the list 'models'"),
])
async def test_a_bad_parameter_gets_one_clear_line(db_path: Path, path: str, line: str) -> None:
    async with site_client(db_path) as (client, db):
        await fill(db)
        response = await client.get(path)
        assert response.status == (404 if path.startswith("/model") else 400)
        assert response.content_type == "text/plain"
        assert await response.text() == line + "\n"
        assert response.headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]


async def test_a_models_page_gives_its_rank_history_and_origin(db_path: Path) -> None:
    async with site_client(db_path) as (client, db):
        await fill(db)
        data = await (await client.get("/api/model/qwen/Q0")).json()  # any case, as the Hub
        assert (data["id"], data["country"], data["how"]) == ("Qwen/q0", "CN", "namespace Qwen")
        assert len(data["days"]) == 15
        assert data["days"][0] == {"day": "2024-01-01", "best_rank": 1, "worst_rank": 1, "snapshots": 1,
                                   "source": ARCHIVE}
        assert data["days"][-1] == {"day": "2024-01-15", "best_rank": 1, "worst_rank": 2, "snapshots": 4,
                                    "source": "live"}
        page = await (await client.get("/model/Qwen/q0")).text()
        assert 'class="rank" data-points="15"' in page


async def test_alerts_newest_first_without_private_or_unsent_ones(db_path: Path) -> None:
    async with site_client(db_path) as (client, db):
        await fill(db)
        alerts = (await (await client.get("/api/alerts")).json())["alerts"]
        assert [a["kind"] for a in alerts] == ["share", "entered"]
        assert alerts[0]["title"] == "China is at or above 50% on models"
        assert alerts[1]["text"] == f"Entered the top 10: #1 {EVIL} (unknown)."
        only = (await (await client.get("/api/alerts?kind=entered&country=unknown")).json())["alerts"]
        assert [a["kind"] for a in only] == ["entered"]


async def test_feeds_parse_keep_their_ids_and_filter(db_path: Path) -> None:
    async with site_client(db_path) as (client, db):
        await fill(db)
        seen: dict[str, list[str]] = {}
        for path in ("/feeds/alerts.atom", "/feeds/alerts.json"):
            first, again = [await (await client.get(path)).text() for _ in range(2)]
            assert first == again  # nothing in a feed changes between requests but new alerts
            if path.endswith(".atom"):
                parsed = feedparser.parse(first)
                assert not parsed.bozo, parsed.bozo_exception
                ids = [entry.id for entry in parsed.entries]
                assert parsed.entries[1].title == "1 new in the top 10 on models"
                assert EVIL in parsed.entries[1].summary
            else:
                document: dict[str, Any] = json.loads(first)
                assert document["version"] == "https://jsonfeed.org/version/1.1"
                ids = [item["id"] for item in document["items"]]
                assert all(item["content_text"] for item in document["items"])
            seen[path] = ids
        assert seen["/feeds/alerts.atom"] == seen["/feeds/alerts.json"]
        assert len(set(seen["/feeds/alerts.atom"])) == 2
        # The same alert keeps its id however the feed is filtered or reached.
        filtered = feedparser.parse(await (await client.get("/feeds/alerts.atom?kind=share&country=CN&list=models"))
                                    .text())
        assert [entry.id for entry in filtered.entries] == seen["/feeds/alerts.atom"][:1]
        none = json.loads(await (await client.get("/feeds/alerts.json?country=FR")).text())
        assert none["items"] == []


def dump(db_path: Path) -> list[tuple[Any, ...]]:
    """Every row of every table, in order: compared before and after a crawl."""
    if isinstance(store_of(db_path), Path):
        tables = [name for (name,) in query(db_path, "SELECT name FROM sqlite_master WHERE type = 'table'"
                                                     " AND name NOT LIKE 'items_search%' ORDER BY name")]
    else:
        tables = [name for (name,) in query(db_path, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                                                     " ORDER BY tablename")]
    rows: list[tuple[Any, ...]] = []
    for table in tables:
        rows.extend((table, *row) for row in query(db_path, f'SELECT * FROM "{table}" ORDER BY 1'))
    return rows


async def test_crawling_every_page_writes_nothing(db_path: Path) -> None:
    async with site_client(db_path) as (client, db):
        await fill(db)
        before = dump(db_path)
        for path in [*PAGES, "/share?from=bad", "/model/x/y", "/feeds/alerts.json?kind=share"]:
            await (await client.get(path)).read()
        assert dump(db_path) == before
        assert len(before) > 100


async def test_share_csv_on_the_command_line_is_the_export_byte_for_byte(db_path: Path, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[store]\npath = "{db_path}"\n', encoding="utf-8")
    async with site_client(db_path) as (client, db):
        await fill(db)
        for params, args in [("?resolution=week", ()), ("?from=2024-01-02&to=2024-01-15&resolution=day",
                                                        ("--from", "2024-01-02", "--to", "2024-01-15",
                                                         "--resolution", "day"))]:
            served = await (await client.get("/export/share.csv" + params)).text()
            run = await bot("share", "--csv", "--config", str(config), *args)
            assert run.code == 0, run.err
            assert run.out == served and served.count("\n") > 3
    bad = await bot("share", "--csv", "--config", str(config), "--from", "2024-02-01", "--to", "2024-01-01")
    assert (bad.code, bad.out) == (1, "")
    assert bad.err == "trendwatch: share --csv: from (2024-02-01) is after to (2024-01-01)\n"


async def test_share_follows_new_polls_imports_and_reattribution_between_requests(db_path: Path) -> None:
    async with site_client(db_path) as (client, db):
        await fill(db)

        async def weeks() -> dict[str, dict[str, Any]]:
            data = await (await client.get("/api/share?resolution=week")).json()
            return {week["start"]: week for week in data["buckets"]}

        assert (await weeks())["2024-01-15"]["snapshots"] == 4
        await add_snapshot(db, LIVE0 + timedelta(days=1), ranked(*US))  # a new poll
        assert (await weeks())["2024-01-15"]["snapshots"] == 5
        await add_snapshot(db, DAY0 - timedelta(days=7), ranked(*CN), archive="older/archive")  # an import, earlier
        before = await weeks()
        assert before["2023-12-25"]["shares"]["CN"] == 100.0 and before["2023-12-25"]["sources"] == ["older/archive"]
        assert before["2024-01-15"]["shares"]["US"] == 52.0  # (4 * 40 + 100) / 5
        async with db.transaction() as conn:  # what a re-attribution leaves: other counts, a new time
            await conn.execute("UPDATE snapshots SET top_counts = '{\"JP\": 10}' WHERE taken_at < ?",
                               ("2024-01-01T00:00:00Z",))
            await conn.execute("UPDATE attribution_state SET reattributed_at = '2026-01-01T00:00:00.000000Z'")
        assert (await weeks())["2023-12-25"]["shares"]["JP"] == 100.0
        served = await (await client.get("/export/share.csv")).text()
    config_free = await site_fresh_csv(db_path)
    assert served == config_free  # what the page holds in memory is what a fresh read gives


async def site_fresh_csv(db_path: Path) -> str:
    async with site_client(db_path) as (client, _):
        return await (await client.get("/export/share.csv")).text()


async def test_a_new_bot_with_nothing_stored_answers_every_page(db_path: Path) -> None:
    settings = web_settings(db_path, lists=[{"name": "spaces", "kind": "spaces"}])
    async with site_client(db_path, settings) as (client, _):
        for path in [p for p in PAGES if "/model/" not in p] + ["/share?list=spaces", "/?list=spaces"]:
            response = await client.get(path)
            assert response.status == 200, (path, await response.text())
        top = await (await client.get("/api/top")).json()
        assert [(s["list"], s["headline"]) for s in top["lists"]] == [("models", "No snapshot yet"),
                                                                      ("spaces", "No snapshot yet")]
        assert (await (await client.get("/api/share")).json())["buckets"] == []
        assert "No snapshots in this range" in await (await client.get("/share")).text()


async def test_a_models_origin_is_found_when_its_last_seen_time_names_no_snapshot(db_path: Path) -> None:
    async with site_client(db_path) as (client, db):
        await fill(db)
        async with db.transaction() as conn:
            await conn.execute("UPDATE items SET last_seen = '2001-01-01T00:00:00.000000Z' WHERE hub_id = 'Qwen/q3'")
        data = await (await client.get("/api/model/Qwen/q3")).json()
        assert (data["country"], data["how"]) == ("CN", "namespace Qwen")


async def test_a_configured_title_with_markup_is_text(db_path: Path) -> None:
    settings = web_settings(db_path, web={"enabled": True, "title": '<script>alert("t")</script>'})
    async with site_client(db_path, settings) as (client, db):
        await fill(db)
        for path in ["/", "/alerts", "/share"]:
            page = await (await client.get(path)).text()
            assert "<script>alert" not in page and "&lt;script&gt;alert(&#34;t&#34;)" in page
        feed = feedparser.parse(await (await client.get("/feeds/alerts.atom")).text())
        assert not feed.bozo and feed.feed.title == '<script>alert("t")</script>: alerts'


async def test_an_alert_stays_listed_after_the_outbox_forgets_its_rows(db_path: Path) -> None:
    async with site_client(db_path) as (client, db):
        await fill(db)  # its alerts were stored in 2024: older than the outbox keeps rows (30 days)
        async with db.transaction() as conn:
            await conn.execute("DELETE FROM outbox WHERE status = 'delivered'")  # what pruning leaves
        alerts = (await (await client.get("/api/alerts")).json())["alerts"]
        assert [a["kind"] for a in alerts] == ["share", "entered"]  # the unsent one is still pending: not listed
        fresh = await add_sent_alert(db, Entered(taken_at=datetime.now(UTC), top_n=10, models=(
            EnteredModel(id="Qwen/new", rank=1, country="CN"),)), datetime.now(UTC), delivered=False)
        async with db.transaction() as conn:
            await conn.execute("DELETE FROM outbox WHERE event_id = ?", (fresh,))
        ids = [a["id"] for a in (await (await client.get("/api/alerts")).json())["alerts"]]
        assert fresh not in ids  # recent and without a delivered row: never sent


async def test_the_snapshots_export_is_what_the_command_line_exports(db_path: Path, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[store]\npath = "{db_path}"\n', encoding="utf-8")
    async with site_client(db_path) as (client, db):
        await fill(db)
        served = await (await client.get("/export/snapshots.csv?from=2024-01-10&to=2024-01-15")).text()
        run = await bot("export", "snapshots", "--config", str(config), "--from", "2024-01-10", "--to", "2024-01-15",
                        "--format", "csv")
        assert run.code == 0, run.err
        assert run.out == served
        rows = list(csv.DictReader(io.StringIO(served)))
        assert len(rows) == 5 * 10 + 4 * 10  # five archived days and four polls of ten entries
        assert {row["archive"] for row in rows} == {ARCHIVE, ""}
        recent = await (await client.get("/export/snapshots.csv")).text()  # default: the last 7 days of history
        assert {row["taken_at"][:10] for row in csv.DictReader(io.StringIO(recent))} == {
            f"2024-01-{day:02}" for day in range(9, 16)}


async def test_alerts_a_silence_held_back_are_counted_on_the_page_and_never_listed(db_path: Path) -> None:
    """A channel's silence stays that channel's business: the page says how many alerts silences held back in
    the last 30 days, not which, where or by whom, and lists none of them."""
    async with site_client(db_path) as (client, db):
        await fill(db)
        empty = await (await client.get("/alerts")).text()
        assert "held back" not in empty
        now = datetime.now(UTC)
        held = Entered(taken_at=now, top_n=10, models=(EnteredModel(id="deepseek-ai/held-back", rank=3, country="CN"),))
        async with db.transaction() as conn:
            destination = await upsert_destination(conn, "discord", CHANNEL, ["entered"], "config", now)
            silence = await silences.add_silence(conn, "discord", CHANNEL, None, "author", "deepseek-ai",
                                                 "alice (1)", now, now + timedelta(days=7))
            event_id = await add_event(conn, held, None, [], now)
            await silences.record_silenced(conn, event_id, [(destination.id, silence.id)], now)
        page = await (await client.get("/alerts")).text()
        assert "1 alert held back by channel\nsilences in the last 30 days" in page
        assert "deepseek-ai/held-back" not in page and "alice" not in page and CHANNEL not in page
        api = (await (await client.get("/api/alerts")).json())
        assert api["held_back"] == {"days": 30, "alerts": 1}
        assert "deepseek-ai/held-back" not in json.dumps(api["alerts"])
