"""Where the snapshots of an import come from: a git archive (a clone or a `.bundle`), a folder, or one file.

A git archive is read commit by commit (each version of its archive file is one snapshot taken at
the commit's time), except an append-only CSV (severo/trending-repos), whose latest version holds
every day. A folder or a single file is read as it is; a file without a time of its own (a field,
else its name) is refused with one line.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.archive import git
from bot.archive.formats import (
    FORMATS,
    KIND_OF_FILE,
    Format,
    Parsed,
    Unreadable,
    detect_format,
    parse,
    time_from_name,
)


class ArchiveError(Exception):
    """The source cannot be read at all; one line for the user."""


# The archive files a git archive may hold, the format each is in, and the archive they are known from.
GIT_FILES: tuple[tuple[str, Format, str], ...] = (
    ("trending_cache.json", "trending-cache", "park-onezero/daily-hf-trending"),
    ("trending.json", "trending-json", "Nitjsefnie/hf-trending"),
    ("models.csv", "rows-csv", "severo/trending-repos"),
    ("datasets.csv", "rows-csv", "severo/trending-repos"),
    ("spaces.csv", "rows-csv", "severo/trending-repos"),
)
_SUFFIXES = (".json", ".jsonl", ".ndjson", ".csv")


@dataclass(slots=True)
class Reading:
    archive: str  # the name the snapshots are stored under, unless `--archive` names another
    described: str  # what was read, for the summary: "git history of trending_cache.json (145 commits)"
    parsed: Parsed = field(default_factory=Parsed)


def parse_format(text: str | None) -> Format | None:
    if text is None:
        return None
    for known in FORMATS:
        if text == known:
            return known
    raise ArchiveError(f"unknown format {text!r}; known: {', '.join(FORMATS)}")


def read_source(path: Path, fmt: Format | None = None, tick: Callable[[int], None] | None = None) -> Reading:
    """Every snapshot in `path` (a git repository, a `.bundle`, a folder or a file), with the unreadable rows."""
    if not path.exists():
        raise ArchiveError(f"{path} does not exist")
    try:
        if path.is_file() and path.suffix == ".bundle":
            with tempfile.TemporaryDirectory(prefix="trendwatch-import-") as tmp:
                clone = Path(tmp) / "archive"
                done = subprocess.run(["git", "clone", "--quiet", str(path), str(clone)], capture_output=True,
                                      check=False)
                if done.returncode != 0:
                    raise ArchiveError(f"{path} is not a git bundle that git can clone:"
                                       f" {done.stderr.decode(errors='replace').strip()[-200:]}")
                return _read_repository(clone, fmt, tick, origin=None)
        if git.is_repository(path):
            return _read_repository(path, fmt, tick, origin=_origin(path))
        if path.is_dir():
            return _read_folder(path, fmt, tick)
        return _read_files(path.parent, [path], fmt, tick, path.stem)
    except git.GitError as exc:
        raise ArchiveError(str(exc)) from None
    except OSError as exc:
        raise ArchiveError(f"cannot read {path}: {exc.strerror or exc}") from None


def _origin(repo: Path) -> str | None:
    """`owner/name` of the repository's `origin` when it is a hosted URL (github.com/owner/name.git)."""
    done = subprocess.run(["git", "-C", str(repo), "remote", "get-url", "origin"], capture_output=True, check=False)
    url = done.stdout.decode().strip()
    if done.returncode != 0 or ("://" not in url and "@" not in url):
        return None  # no origin, or a local path (a bundle, a folder)
    parts = url.replace(":", "/").rstrip("/").removesuffix(".git").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 and all(parts[-2:]) else None


def _read_repository(repo: Path, fmt: Format | None, tick: Callable[[int], None] | None,
                     origin: str | None) -> Reading:
    tracked = set(git.tracked_files(repo))
    wanted = [(name, found, known) for name, found, known in GIT_FILES if name in tracked and fmt in (None, found)]
    if not wanted:
        names = ", ".join(name for name, found, _ in GIT_FILES if fmt in (None, found))
        raise ArchiveError(f"{repo} is a git repository without an archive file"
                           f" ({names or 'none in format ' + str(fmt)}) at HEAD")
    reading = Reading(origin or wanted[0][2], "")
    described: list[str] = []
    for name, found, _known in wanted:
        kind = KIND_OF_FILE.get(name)
        if found in ("rows-csv", "rows-jsonl"):  # append-only: HEAD holds every row
            reading.parsed.extend(parse(found, git.head_text(repo, name), name, kind=kind))
            described.append(f"{name} at HEAD")
            if tick:
                tick(1)
            continue
        commits = 0
        for version in git.versions(repo, name):
            commits += 1
            where = f"{name} at commit {version.commit[:10]}"
            if version.text is None:
                reading.parsed.unreadable.append(Unreadable(where, "the commit deleted the file"))
            else:
                reading.parsed.extend(parse(found, version.text, where, taken_at=version.committed_at, kind=kind))
            if tick:
                tick(1)
        described.append(f"git history of {name} ({commits} commits)")
    reading.described = "; ".join(described)
    return reading


def _read_folder(folder: Path, fmt: Format | None, tick: Callable[[int], None] | None) -> Reading:
    files = sorted(path for path in folder.rglob("*") if path.is_file() and path.suffix.lower() in _SUFFIXES
                   and ".git" not in path.relative_to(folder).parts)
    if not files:
        raise ArchiveError(f"{folder} is neither a git repository nor a folder holding snapshot files"
                           f" ({', '.join(_SUFFIXES)})")
    return _read_files(folder, files, fmt, tick, folder.resolve().name)


def _read_files(root: Path, files: list[Path], fmt: Format | None, tick: Callable[[int], None] | None,
                name: str) -> Reading:
    reading = Reading(name, f"{len(files)} file{'s' if len(files) != 1 else ''}")
    for path in files:
        where = str(path.relative_to(root)) if path.is_relative_to(root) else path.name
        text = path.read_text(encoding="utf-8", errors="replace")
        found = fmt or detect_format(path.name, text[:4096])
        if found is None:
            reading.parsed.unreadable.append(Unreadable(where, "not a format import reads (use --format)"))
        else:
            reading.parsed.extend(parse(found, text, where, kind=KIND_OF_FILE.get(path.name.lower()),
                                        name_time=time_from_name(path.name)))
        if tick:
            tick(1)
    return reading
