"""The command-line contract, through `python -m bot` in a subprocess, against the fake Hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.hub import FakeHub, hub_model, ranked, write_replay
from tests.support.cli import CN, REPO, US, bot, write_config
from tests.support.stores import count, query, store_of


def snapshot_count(db: Path) -> int:
    return count(db, "SELECT COUNT(*) FROM snapshots")


def stored_bytes(db: Path) -> bytes:
    """Everything the store holds: the SQLite file, or every row of every table of the PostgreSQL database."""
    if store_of(db) == db:
        return db.read_bytes()
    tables = [row[0] for row in query(db, "SELECT table_name FROM information_schema.tables"
                                          " WHERE table_schema = current_schema()")]
    return "\n".join(repr(query(db, f'SELECT * FROM "{table}"')) for table in tables).encode()


async def test_once_prints_the_contract_jsonl(fake_hub: FakeHub, db_path: Path, tmp_path: Path):
    config = write_config(tmp_path / "c.toml", fake_hub, db_path)
    fake_hub.models = ranked(CN[:4] + US[:6])
    first = await bot("once", "--config", str(config))
    assert (first.code, first.out) == (0, "")  # the baseline says nothing

    fake_hub.models = ranked(CN[:6] + US[:4])
    second = await bot("once", "--config", str(config))
    assert second.code == 0, second.err
    alerts = second.lines()
    entered = [a for a in alerts if a["kind"] == "entered"]
    share = [a for a in alerts if a["kind"] == "share"]
    assert len(entered) == 1
    assert [(m["id"], m["rank"], m["country"]) for m in entered[0]["models"]] == [
        ("Qwen/q4", 5, "CN"), ("Qwen/q5", 6, "CN")]
    assert share == [share[0]] and {k: share[0][k] for k in ("country", "state", "direction", "share", "threshold")} \
        == {"country": "CN", "state": "firing", "direction": "above", "share": 60, "threshold": 50}

    third = await bot("once", "--config", str(config))
    assert (third.code, third.out) == (0, "")  # quiet when nothing changed


async def test_once_fails_with_one_line_and_stores_nothing(fake_hub: FakeHub, db_path: Path, tmp_path: Path):
    db = db_path
    config = write_config(tmp_path / "c.toml", fake_hub, db)
    fake_hub.models = ranked(US)
    assert (await bot("once", "--config", str(config))).code == 0
    printed = ""
    for breakage in ("status", "body", "empty", "ids"):
        if breakage == "status":
            fake_hub.fail(503, times=-1)
        elif breakage == "body":
            fake_hub.answer_raw("<!doctype html>", times=-1)
        elif breakage == "empty":
            fake_hub.answer_raw("[]", times=-1)
        else:
            fake_hub.answer_raw(json.dumps([{"likes": 3}]), times=-1)
        run = await bot("once", "--config", str(config))
        fake_hub.faults.clear()
        assert run.code == 1, breakage
        printed += run.out
        error_lines = [text for text in run.err.splitlines() if text.startswith("trendwatch:")]
        assert len(error_lines) == 1 and "poll failed" in error_lines[0], run.err
        assert snapshot_count(db) == 1
    notices = [json.loads(text) for text in printed.splitlines()]
    assert [(n["kind"], n["state"], n["failures"]) for n in notices] == [("source", "failing", 3)]


@pytest.mark.sqlite_only  # the embedded default is a SQLite file in the working directory
async def test_hf_endpoint_from_the_environment_is_honoured(fake_hub: FakeHub, tmp_path: Path):
    fake_hub.models = ranked(US)
    run = await bot("once", env={"HF_ENDPOINT": fake_hub.endpoint}, cwd=tmp_path)
    assert run.code == 0, run.err
    assert (tmp_path / "trendwatch.db").exists()  # embedded defaults: SQLite file in the working directory
    assert fake_hub.list_requests and fake_hub.list_requests[0].query["sort"] == "trendingScore"


async def test_trending_json_lists_rank_id_country(fake_hub: FakeHub, db_path: Path, tmp_path: Path):
    config = write_config(tmp_path / "c.toml", fake_hub, db_path)
    fake_hub.models = [
        hub_model("unsloth/Qwen3-8B-GGUF", 999, tags=["base_model:quantized:Qwen/Qwen3-8B"]),
        *ranked(US[:8]),
        hub_model("jane/thing", 1),
    ]
    assert (await bot("once", "--config", str(config))).code == 0
    run = await bot("trending", "--config", str(config), "--json")
    assert run.code == 0, run.err
    rows = json.loads(run.out)
    assert [(r["rank"], r["id"], r["country"]) for r in rows][:2] == [
        (1, "unsloth/Qwen3-8B-GGUF", "CN"), (2, "meta-llama/l0", "US")]
    assert rows[0]["country_via"] == "Qwen/Qwen3-8B" and rows[-1]["country"] == "unknown"

    text = await bot("trending", "--config", str(config))
    assert "via base model Qwen/Qwen3-8B" in text.out and "🇨🇳" in text.out


async def test_share_reports_current_shares(fake_hub: FakeHub, db_path: Path, tmp_path: Path):
    config = write_config(tmp_path / "c.toml", fake_hub, db_path)
    fake_hub.models = ranked(CN[:3] + US[:7])
    assert (await bot("once", "--config", str(config))).code == 0
    run = await bot("share", "--config", str(config), "--json")
    shares = {row["country"]: row["share"] for row in json.loads(run.out)["countries"]}
    assert shares == {"US": 70.0, "CN": 30.0}


async def test_trending_before_any_poll_says_what_to_do(tmp_path: Path, db_path: Path, fake_hub: FakeHub):
    config = write_config(tmp_path / "c.toml", fake_hub, db_path)
    run = await bot("trending", "--config", str(config))
    assert run.code == 1 and "python -m bot once" in run.err


async def test_check_config_names_the_bad_key(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[hub]\ntop_n = "ten"\n', encoding="utf-8")
    run = await bot("check-config", "--config", str(bad))
    assert run.code == 2
    assert run.err.strip().count("\n") == 0 and "hub.top_n" in run.err

    bad.write_text("[[share_rules]]\ncountry = 'CN'\nabove = 150\n", encoding="utf-8")
    run = await bot("once", "--config", str(bad))
    assert run.code == 2 and "share_rules[0].above" in run.err

    bad.write_text("[hub\n", encoding="utf-8")
    run = await bot("check-config", "--config", str(bad))
    assert run.code == 2 and "not valid TOML" in run.err

    example = await bot("check-config", "--config", str(REPO / "config.example.toml"))
    assert example.code == 0, example.err


async def test_secrets_never_reach_logs_or_the_database(fake_hub: FakeHub, db_path: Path, tmp_path: Path):
    db = db_path
    config = write_config(tmp_path / "c.toml", fake_hub, db)
    fake_hub.models = ranked(US)
    secret = "hf_SECRETtokenVALUE123"
    run = await bot("once", "--config", str(config), env={"HF_TOKEN": secret, "DISCORD_TOKEN": "d-" + secret})
    assert run.code == 0
    assert secret not in run.out + run.err
    assert secret.encode() not in stored_bytes(db)
    auth = fake_hub.list_requests[-1].headers.get("authorization", "")
    assert auth == f"Bearer {secret}"  # used for the Hub, and only there


async def test_replay_source_walks_a_recorded_file_across_runs(db_path: Path, tmp_path: Path, fake_hub: FakeHub):
    replay = tmp_path / "week.jsonl"
    write_replay(replay, [
        ("2025-07-21T00:00:00Z", ranked(US)),
        ("2025-07-21T01:00:00Z", ranked(CN[:1] + US[:9])),
    ])
    config = write_config(tmp_path / "c.toml", fake_hub, db_path, hub_extra=f'replay = "{replay}"')
    assert (await bot("once", "--config", str(config))).out == ""
    second = await bot("once", "--config", str(config))
    assert [a["kind"] for a in second.lines()] == ["entered", "left"]  # the console takes every kind
    exhausted = await bot("once", "--config", str(config))
    assert exhausted.code == 1 and "no snapshot after" in exhausted.err
    assert not fake_hub.requests  # replay never touches the Hub


async def test_demo_replays_a_week_without_network():
    run = await bot("demo", "--format", "jsonl", env={"HF_ENDPOINT": "http://127.0.0.1:9"})
    assert run.code == 0, run.err
    kinds = [a["kind"] for a in run.lines()]
    assert kinds.count("entered") >= 5 and "new_leader" in kinds
    states = [(a["threshold"], a["state"]) for a in run.lines() if a["kind"] == "share"]
    assert (60, "firing") in states and (60, "resolved") in states
