"""Archive files → snapshots, from real rows: ranks, counts, times, and rows that cannot be read."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.archive.formats import (
    dedupe,
    detect_format,
    parse,
    parse_rows_csv,
    parse_trending_cache,
    parse_trending_json,
    time_from_name,
    until_bound,
)
from tests.support.archives import real_snapshots, trending_cache, trending_json

WHEN = datetime(2026, 3, 2, 12, 17, 14, tzinfo=UTC)


def test_park_onezero_cache_keeps_the_order_as_ranks_and_the_repo_data():
    when, rows = real_snapshots()[0]
    parsed = parse_trending_cache(trending_cache(rows), when, "trending_cache.json")
    assert parsed.unreadable == []
    (snapshot,) = parsed.snapshots
    assert snapshot.taken_at == when
    assert [(e.rank, e.id, e.likes, e.downloads, e.pipeline_tag) for e in snapshot.entries] == [
        (row["rank"], row["model_id"], row["likes"], row["downloads"], row["pipeline_tag"]) for row in rows]


def test_a_bad_entry_is_counted_with_its_reason_and_the_rest_kept():
    _, rows = real_snapshots()[0]
    data = json.loads(trending_cache(rows))
    data["bad id"] = {"repoData": {"id": "has a space", "likes": 3}, "repoType": "model"}
    data[rows[0]["model_id"]]["repoData"]["likes"] = "lots"  # a drifted field: unknown, as the live poll does
    parsed = parse_trending_cache(json.dumps(data), WHEN, "f")
    assert len(parsed.snapshots[0].entries) == 10
    assert parsed.snapshots[0].entries[0].likes is None
    assert len(parsed.unreadable) == 1
    assert "entry #11" in parsed.unreadable[0].where and "id" in parsed.unreadable[0].reason


def test_not_json_is_one_unreadable_line_not_an_exception():
    parsed = parse("trending-cache", "{not json", "trending_cache.json at commit abc", WHEN)
    assert parsed.snapshots == [] and "not JSON" in parsed.unreadable[0].reason


def test_trending_json_reads_a_list_with_ranks_and_scores():
    _, rows = real_snapshots()[1]
    parsed = parse_trending_json(trending_json(rows), WHEN, "trending.json")
    entries = parsed.snapshots[0].entries
    assert [e.id for e in entries] == [row["model_id"] for row in rows]
    assert entries[0].trending_score == 99 and entries[0].created_at == datetime(2026, 2, 20, 10, tzinfo=UTC)


def test_trending_json_reads_the_wrapped_shape_ranked_by_position():
    _, rows = real_snapshots()[1]
    parsed = parse_trending_json(trending_json(rows, wrapped=True), WHEN, "trending.json")
    assert [(e.rank, e.id) for e in parsed.snapshots[0].entries] == [
        (i, row["model_id"]) for i, row in enumerate(rows, start=1)]


def test_a_file_without_any_time_is_refused_with_one_line():
    _, rows = real_snapshots()[0]
    parsed = parse_trending_json(trending_json(rows), None, "snap.json")
    assert parsed.snapshots == [] and "no time" in parsed.unreadable[0].reason
    own = json.dumps({"fetched_at": "2026-03-05T06:00:00Z", "models": json.loads(trending_json(rows))})
    assert parse_trending_json(own, None, "snap.json").snapshots[0].taken_at == datetime(2026, 3, 5, 6, tzinfo=UTC)


def test_rows_csv_groups_by_day_with_plausible_severo_headers():
    text = ("date,id,likes,downloads,trendingScore\n"
            "2023-08-08T11:00:44.930Z,meta-llama/Llama-2-7b,100,2000,50\n"
            "2023-08-08T11:00:44.930Z,stabilityai/sdxl,90,,40\n"
            "2023-08-09T11:00:41.000Z,stabilityai/sdxl,95,3000,45\n"
            "yesterday,x/y,1,1,1\n")
    parsed = parse_rows_csv(text, "models.csv", kind="models")
    assert [(s.taken_at.day, [(e.rank, e.id, e.downloads) for e in s.entries]) for s in parsed.snapshots] == [
        (8, [(1, "meta-llama/Llama-2-7b", 2000), (2, "stabilityai/sdxl", None)]),
        (9, [(1, "stabilityai/sdxl", 3000)])]
    assert [(u.where, "not a date" in u.reason) for u in parsed.unreadable] == [("models.csv line 5", True)]


def test_rows_without_an_id_column_are_one_line_naming_the_columns():
    parsed = parse_rows_csv("when,what\n2023-08-08,x\n", "odd.csv")
    assert parsed.snapshots == [] and "no taken_at and no id column" in parsed.unreadable[0].reason


def test_a_rank_taken_twice_is_unreadable():
    text = "taken_at,rank,id\n2026-03-01,1,a/b\n2026-03-01,1,c/d\n"
    parsed = parse_rows_csv(text, "x.csv")
    assert [e.id for e in parsed.snapshots[0].entries] == ["a/b"] and "rank 1" in parsed.unreadable[0].reason


def test_times_from_file_names_and_bounds():
    assert time_from_name("trending-2026-03-02T12-17-14Z.json") == WHEN
    assert time_from_name("20260302_1217.json") == datetime(2026, 3, 2, 12, 17, tzinfo=UTC)
    assert time_from_name("snapshot.json") is None
    assert until_bound("2026-03-02") == datetime(2026, 3, 3, tzinfo=UTC)


def test_format_detection_and_dedupe():
    assert detect_format("trending_cache.json", "{") == "trending-cache"
    assert detect_format("trending.json", "[{") == "trending-json"
    assert detect_format("export.jsonl", "{") == "rows-jsonl"
    assert detect_format("models.csv", "a,b") == "rows-csv"
    assert detect_format("notes.txt", "hello") is None
    _, rows = real_snapshots()[0]
    once = parse_trending_cache(trending_cache(rows), WHEN, "f").snapshots
    assert dedupe(once + once)[1] == 1
