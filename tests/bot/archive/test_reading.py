"""Finding the snapshots in a source: git histories (each commit a snapshot, or an append-only CSV at HEAD),
names of archives, lists of severo's kinds, the progress bar."""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.archive import importer
from bot.archive.formats import Unreadable
from bot.archive.importer import plan
from bot.archive.reading import ArchiveError, read_source
from bot.config import parse_settings
from tests.support.archives import git, git_archive, park_archive, real_snapshots, trending_json


def test_a_nitjsefnie_style_history_is_one_snapshot_per_commit_at_its_time(tmp_path: Path):
    repo = park_archive(tmp_path / "hf-trending", broken=False, shape=trending_json)
    reading = read_source(repo)
    assert reading.archive == "Nitjsefnie/hf-trending"
    assert [s.taken_at for s in reading.parsed.snapshots] == [when.astimezone(UTC) for when, _ in real_snapshots()]
    assert reading.parsed.snapshots[0].entries[0].trending_score == 99
    assert reading.described == "git history of trending.json (5 commits)"


def test_a_deleted_version_is_reported_and_the_origin_names_the_archive(tmp_path: Path):
    (when, rows), (later, _) = real_snapshots()[:2]
    repo = git_archive(tmp_path / "mirror", "trending.json", [(when, trending_json(rows)), (later, None),
                                                               (later.replace(hour=23), trending_json(rows))])
    git(repo, "remote", "add", "origin", "https://github.com/someone/hf-trending-mirror.git")
    reading = read_source(repo)
    assert reading.archive == "someone/hf-trending-mirror"
    assert len(reading.parsed.snapshots) == 2
    assert [u.reason for u in reading.parsed.unreadable] == ["the commit deleted the file"]


def test_severo_style_csvs_are_read_at_head_and_go_to_the_list_of_their_kind(tmp_path: Path):
    day = datetime(2023, 8, 8, 11, tzinfo=UTC)
    repo = git_archive(tmp_path / "trending-repos", "models.csv",
                       [(day, "date,id,likes\n2023-08-08T11:00:44.930Z,meta-llama/Llama-2-7b,100\n")])
    (repo / "datasets.csv").write_text("date,id,likes\n2023-08-08T11:00:45.186Z,roneneldan/TinyStories,50\n",
                                       encoding="utf-8")
    git(repo, "add", "datasets.csv")
    git(repo, "commit", "--quiet", "-m", "datasets", when=day)
    reading = read_source(repo)
    assert reading.archive == "severo/trending-repos"
    assert sorted((s.kind or "", s.entries[0].id) for s in reading.parsed.snapshots) == [
        ("datasets", "roneneldan/TinyStories"), ("models", "meta-llama/Llama-2-7b")]
    problems: list[Unreadable] = []
    without = parse_settings({}, env={}, origin="test")
    assert [b.spec.name for b in plan(without, reading.parsed.snapshots, "x", None, None, problems)] == ["models"]
    assert "no [[lists]] entry of kind datasets" in problems[0].reason
    with_lists = parse_settings({"lists": [{"name": "hot-data", "kind": "datasets"}]}, env={}, origin="test")
    batches = plan(with_lists, reading.parsed.snapshots, "x", None, "mine", [])
    assert sorted((b.spec.name, b.archive) for b in batches) == [("hot-data", "mine"), ("models", "mine")]


def test_sources_that_cannot_be_read_are_one_line(tmp_path: Path):
    with pytest.raises(ArchiveError, match="does not exist"):
        read_source(tmp_path / "nowhere")
    (tmp_path / "bare").mkdir()
    git(tmp_path / "bare", "init", "--quiet")
    (tmp_path / "bare" / "x.txt").write_text("x", encoding="utf-8")
    git(tmp_path / "bare", "add", "x.txt")
    git(tmp_path / "bare", "commit", "--quiet", "-m", "x")
    with pytest.raises(ArchiveError, match="git repository without an archive file"):
        read_source(tmp_path / "bare")
    (tmp_path / "broken.bundle").write_text("not a bundle", encoding="utf-8")
    with pytest.raises(ArchiveError, match="not a git bundle"):
        read_source(tmp_path / "broken.bundle")


def test_a_bundle_is_read_like_the_repository_it_holds(tmp_path: Path):
    repo = park_archive(tmp_path / "park", broken=False)
    git(repo, "bundle", "create", str(tmp_path / "park.bundle"), "--all")
    reading = read_source(tmp_path / "park.bundle")
    assert (reading.archive, len(reading.parsed.snapshots)) == ("park-onezero/daily-hf-trending", 5)


def test_the_progress_bar_shows_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert importer.progress_bar(10, "storing").disable
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    bar = importer.progress_bar(10, "storing")
    assert not bar.disable
    bar.update(10)
    bar.close()
    assert "storing:" in terminal.getvalue() and "/10" in terminal.getvalue()
