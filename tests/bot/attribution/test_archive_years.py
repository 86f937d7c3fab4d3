"""`python -m bench.attribution --archive`: an archive's ids, by year of the snapshot, read as the importer reads it.

The archive is built here at test time, in the shape park-onezero/daily-hf-trending keeps (each commit's
`trending_cache.json` is the Hub's `/api/trending` answer keyed by id, in rank order), from real rows of
bench/data; two commits are dated 2024 so the table has two years.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from bench.attribution import ArchiveError, archive_main, by_year, current_rules, load_truth, read_archive
from bench.trending_data import load_snapshots

REAL = load_snapshots()[0].model_ids  # the first real snapshot: Qwen, unsloth's GGUF, LiquidAI, zai-org, …


def commit(repo: Path, document: object, when: str, name: str = "trending_cache.json") -> None:
    (repo / name).write_text(json.dumps(document), encoding="utf-8")
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    subprocess.run(["git", "-C", str(repo), "add", name], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", "Update trending cache"], check=True, env=env)


def cache(ids: tuple[str, ...]) -> dict[str, object]:
    return {model_id: {"repoData": {"id": model_id, "author": model_id.split("/")[0]}, "repoType": "model"}
            for model_id in ids}


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    repo = tmp_path / "archive"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    commit(repo, cache(REAL), "2024-08-01T10:00:00+09:00")
    commit(repo, cache((*REAL[:9], "jane/mystery-7b")), "2024-12-31T23:30:00-02:00")  # 2025 in UTC
    (repo / "trending_cache.json").write_text("not json", encoding="utf-8")
    subprocess.run(["git", "-C", str(repo), "commit", "-qam", "broken"], check=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
                        "GIT_COMMITTER_DATE": "2026-03-02T12:00:00+00:00"})
    return repo


def test_each_commit_is_one_snapshot_at_its_commit_time_in_rank_order(archive: Path):
    read = read_archive(archive)
    assert [s.taken_at[:19] for s in read.snapshots] == ["2024-08-01T01:00:00", "2025-01-01T01:30:00"]
    assert read.snapshots[0].model_ids == REAL
    assert read.snapshots[1].model_ids[-1] == "jane/mystery-7b"
    assert read.unreadable == 1  # the version that is not JSON is counted and skipped, not fatal


def test_the_table_is_by_year_with_unknowns_and_their_namespaces(archive: Path):
    years = by_year(read_archive(archive).snapshots, current_rules(), load_truth())
    assert sorted(years) == ["2024", "2025"]
    assert years["2025"].measure.unknown_namespaces["jane"] == 1
    assert years["2024"].measure.unknown_namespaces["jane"] == 0
    assert all(not year.wrong for year in years.values()) and years["2024"].checked > 0


def test_an_entry_a_source_contradicts_is_counted_wrong(archive: Path, capsys: pytest.CaptureFixture[str]):
    truth = {**load_truth(), "qwen": "FR"}  # as if a source said Qwen were French
    years = by_year(read_archive(archive).snapshots, current_rules(), truth)
    assert any(text.startswith("Qwen/") and text.endswith("source says FR") for text in years["2024"].wrong)
    assert archive_main(archive, 10) == 0  # the shipped tables and the real reference: nothing wrong
    assert "wrong: 0 of" in capsys.readouterr().out


def test_a_bad_path_is_one_line_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert archive_main(tmp_path / "missing", 10) == 2
    (tmp_path / "plain").mkdir()
    subprocess.run(["git", "init", "-q", str(tmp_path / "plain")], check=True)
    commit(tmp_path / "plain", {"not": "an archive"}, "2024-01-01T00:00:00Z", name="README.json")
    assert archive_main(tmp_path / "plain", 10) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "does not exist" in err[0] and "without an archive file" in err[1]
    with pytest.raises(ArchiveError):
        read_archive(tmp_path / "missing")
