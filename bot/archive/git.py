"""Every version of one file in a git history, with its commit's time: what a git-scraped archive is.

Read with the `git` command itself (a subprocess), not a library: it adds no dependency, it is on
every machine that holds a git archive (that is how the archive got there), and it is fast: one
`git log --format=... -- PATH` lists the commits that touched the file, then ONE
`git cat-file --batch` process hands back every version's bytes in a single stream, instead of a
process (or an object-database walk in Python) per commit: a year of hourly commits reads in about
a second.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


class GitError(Exception):
    """The git history cannot be read; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class Version:
    commit: str
    committed_at: datetime
    text: str | None  # None: the commit deleted the file


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    if shutil.which("git") is None:
        raise GitError("git is not installed: it is needed to read a git archive (apt-get install git)")
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], input=stdin, capture_output=True, check=False)
    except OSError as exc:
        raise GitError(f"cannot run git: {exc}") from exc
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed in {repo}: {message[-1] if message else f'exit {done.returncode}'}")
    return done.stdout


def is_repository(path: Path) -> bool:
    """A folder whose own top is a git work tree (a folder inside some other repository is not an archive)."""
    if not path.is_dir() or shutil.which("git") is None:
        return False
    done = subprocess.run(["git", "-C", str(path), "rev-parse", "--show-toplevel"], capture_output=True, check=False)
    return done.returncode == 0 and Path(done.stdout.decode().strip()).resolve() == path.resolve()


def tracked_files(repo: Path) -> list[str]:
    """Paths in HEAD's tree (what archive file a repository holds)."""
    return [line for line in _git(repo, "ls-tree", "-r", "--name-only", "HEAD").decode().splitlines() if line]


def versions(repo: Path, path: str) -> Iterator[Version]:
    """Every commit of HEAD's history that touched `path`, oldest first, with the file as that commit left it."""
    listing = _git(repo, "log", "--reverse", "--format=%H %ct", "--", path).decode().split()
    commits = [(listing[i], datetime.fromtimestamp(int(listing[i + 1]), UTC)) for i in range(0, len(listing), 2)]
    if not commits:
        return
    request = "".join(f"{sha}:{path}\n" for sha, _ in commits).encode()
    stream = _git(repo, "cat-file", "--batch", stdin=request)
    at = 0
    for sha, moment in commits:
        end = stream.index(b"\n", at)
        header = stream[at:end].decode(errors="replace").split()
        at = end + 1
        if len(header) < 3 or header[-1] == "missing" or header[1] != "blob":
            yield Version(sha, moment, None)
            continue
        size = int(header[2])
        yield Version(sha, moment, stream[at:at + size].decode("utf-8", errors="replace"))
        at += size + 1  # the blob and its closing newline


def head_text(repo: Path, path: str) -> str:
    """The file as HEAD holds it (an append-only archive's latest version holds all of it)."""
    return _git(repo, "cat-file", "blob", f"HEAD:{path}").decode("utf-8", errors="replace")
