"""Small archives built at test time from real rows (`archive_rows.jsonl`: five snapshots of the Hub's trending
top 10 as park-onezero/daily-hf-trending recorded them in March and April 2026): git repositories with one
commit per snapshot (commit times set through GIT_AUTHOR_DATE / GIT_COMMITTER_DATE), and folders of files."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

ROWS = Path(__file__).with_name("archive_rows.jsonl")
# Every top-10 snapshot park-onezero/daily-hf-trending recorded from 2 March to 31 May 2026 (141), ids and
# ranks only, as the archive's git history holds them: the page's screenshot is drawn from these.
PARK_TOP10 = Path(__file__).with_name("park_onezero_2026_03_to_05.jsonl")


def real_snapshots(rows: Path = ROWS) -> list[tuple[datetime, list[dict[str, Any]]]]:
    """(time, rows by rank) of each real snapshot, oldest first."""
    by_time: dict[str, list[dict[str, Any]]] = {}
    for line in rows.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        by_time.setdefault(row["snapshot_time"], []).append(row)
    return [(datetime.fromisoformat(time), sorted(rows, key=lambda row: row["rank"]))
            for time, rows in sorted(by_time.items())]


def trending_cache(rows: Sequence[dict[str, Any]]) -> str:
    """park-onezero's `trending_cache.json` shape: the Hub's /api/trending items keyed by id, in rank order."""
    return json.dumps({
        row["model_id"]: {"repoData": {"id": row["model_id"], "author": row["model_id"].split("/")[0],
                                       "likes": row.get("likes"), "downloads": row.get("downloads"),
                                       "pipeline_tag": row.get("pipeline_tag"), "repoType": "model"},
                          "repoType": "model"}
        for row in rows
    }, indent=1)


def trending_json(rows: Sequence[dict[str, Any]], wrapped: bool = False) -> str:
    """Nitjsefnie/hf-trending's `trending.json` shape: a list of Hub items (or {"source": ..., "models": [...]})."""
    items = [{"rank": row["rank"], "id": row["model_id"], "trendingScore": 100 - row["rank"],
              "pipeline_tag": row["pipeline_tag"], "likes": row["likes"], "downloads": row["downloads"],
              "createdAt": "2026-02-20T10:00:00.000Z"} for row in rows]
    if wrapped:
        return json.dumps({"source": "https://huggingface.co/api/models?sort=trendingScore&limit=10",
                           "models": [{"id": item["id"]} for item in items]})
    return json.dumps(items, indent=1)


def git(repo: Path, *args: str, when: datetime | None = None) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "archive", "GIT_AUTHOR_EMAIL": "archive@example.org",
           "GIT_COMMITTER_NAME": "archive", "GIT_COMMITTER_EMAIL": "archive@example.org"}
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when.isoformat()
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def git_archive(repo: Path, name: str, versions: Sequence[tuple[datetime, str | None]]) -> Path:
    """A repository whose file `name` changes once per (commit time, text); None deletes it in that commit."""
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "--quiet", "--initial-branch=main")
    (repo / "README.md").write_text("an archive\n", encoding="utf-8")
    for when, text in versions:
        if text is None:
            git(repo, "rm", "--quiet", name)
        else:
            (repo / name).write_text(text, encoding="utf-8")
            git(repo, "add", name, "README.md")
        git(repo, "commit", "--quiet", "--allow-empty", "-m", f"update {name}", when=when)
    return repo


def park_archive(repo: Path, broken: bool = True,
                 shape: Callable[[Sequence[dict[str, Any]]], str] = trending_cache, source: Path = ROWS) -> Path:
    """The real snapshots as a park-onezero-style git archive; `broken` adds one commit that is not JSON."""
    versions: list[tuple[datetime, str | None]] = [(when, shape(rows)) for when, rows in real_snapshots(source)]
    if broken:
        first = versions[0][0]
        versions.insert(1, (first.replace(hour=first.hour + 1), "{not json"))
    return git_archive(repo, "trending_cache.json" if shape is trending_cache else "trending.json", versions)
