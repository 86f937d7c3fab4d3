"""`python -m bot import` and `export snapshots` as a user runs them: one summary line, one line per error."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.archives import park_archive
from tests.support.cli import bot


def config(tmp_path: Path, db_path: Path) -> Path:
    path = tmp_path / "trendwatch.toml"
    path.write_text(f'[store]\npath = "{db_path}"\n', encoding="utf-8")
    return path


async def test_import_says_what_it_did_and_twice_adds_nothing(tmp_path: Path, db_path: Path):
    archive, cfg = park_archive(tmp_path / "park"), config(tmp_path, db_path)
    dry = await bot("import", str(archive), "--dry-run", "--config", str(cfg))
    assert dry.code == 0, dry.err
    assert dry.out.splitlines()[0].startswith("would import 5 snapshots (50 rows) of park-onezero/daily-hf-trending")
    assert "nothing written (dry run)" in dry.out and "1 unreadable" in dry.out and "not JSON" in dry.out
    first = await bot("import", str(archive), "--config", str(cfg))
    assert first.code == 0 and first.out.startswith("imported 5 snapshots (50 rows)"), first.err
    again = await bot("import", str(archive), "--config", str(cfg))
    assert again.out.startswith("imported 0 snapshots (0 rows)") and "skipped 5 already present" in again.out
    assert first.err == "" and again.err == ""  # no progress bar when stderr is not a terminal
    exported = await bot("export", "snapshots", "--from", "2026-03-02", "--to", "2026-03-02", "--format", "jsonl",
                         "--config", str(cfg))
    rows = [json.loads(line) for line in exported.out.splitlines()]
    assert len(rows) == 10 and rows[0]["id"] == "Qwen/Qwen3.5-35B-A3B" and rows[0]["country"] == "CN"
    assert rows[0]["archive"] == "park-onezero/daily-hf-trending" and rows[0]["source"] == "archive"
    csv_out = await bot("export", "snapshots", "--config", str(cfg))
    assert csv_out.out.splitlines()[0].startswith("taken_at,list,rank,id,likes,downloads,trending_score")
    assert len(csv_out.out.splitlines()) == 51


async def test_import_errors_are_one_line_and_exit_1(tmp_path: Path, db_path: Path):
    cfg = config(tmp_path, db_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = {
        (str(tmp_path / "missing"),): "does not exist",
        (str(empty),): "neither a git repository nor a folder",
        (str(empty), "--format", "xml"): "unknown format 'xml'",
        (str(empty), "--since", "March"): "--since 'March' is not a date or time",
        (str(empty), "--list", "nope"): "no list named 'nope'",
    }
    for args, says in cases.items():
        run = await bot("import", *args, "--config", str(cfg))
        assert run.code == 1, (args, run.err)
        assert says in run.err and len(run.err.strip().splitlines()) == 1, (args, run.err)
    bad = await bot("export", "snapshots", "--to", "soon", "--config", str(cfg))
    assert bad.code == 1 and bad.err.strip() == ("trendwatch: --to 'soon' is not a date or time"
                                                 " (expected 2026-03-01 or 2026-03-01T12:00:00Z)")
