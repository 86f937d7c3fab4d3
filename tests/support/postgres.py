"""A real PostgreSQL server for the tests: Debian's own, started in a temporary folder on a free loopback port.

The server refuses to run as root, so as root it runs as the `postgres`
user (or `nobody`); otherwise as whoever runs the tests. Settings trade
durability for speed (fsync off): these databases die with the test run.
`TRENDWATCH_TEST_POSTGRES=postgresql://…` uses a server you started
yourself instead (each test still gets its own fresh database).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

HOW_TO_GET_IT = ("PostgreSQL not found: install Debian's package (apt-get install postgresql) or set"
                 " TRENDWATCH_TEST_POSTGRES=postgresql://user@host:port/db to a server of yours")


def bin_dir() -> Path | None:
    """initdb and pg_ctl live in the package's own versioned folder, not always on PATH."""
    versions = [folder for folder in Path("/usr/lib/postgresql").glob("*/bin") if (folder / "initdb").exists()]
    if versions:
        return max(versions, key=lambda folder: int(folder.parent.name) if folder.parent.name.isdigit() else 0)
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """One server; `fresh_url()` hands out a new empty database each call."""

    admin_url: str  # a database to connect to for CREATE DATABASE
    base: str  # URL without the database name
    process_dir: Path | None = None
    user: str | None = None
    bindir: Path | None = None
    options: str = ""
    _numbers: count[int] = field(default_factory=lambda: count(1))

    def psql(self, url: str, sql: str) -> str:
        psql = str(self.bindir / "psql") if self.bindir else "psql"
        done = subprocess.run([psql, url, "-v", "ON_ERROR_STOP=1", "-XAtq", "-c", sql],
                              capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout

    def fresh_url(self) -> str:
        name = f"tw_{os.getpid()}_{next(self._numbers)}"
        self.psql(self.admin_url, f"CREATE DATABASE {name}")
        return f"{self.base}/{name}"

    def pause(self) -> None:
        """Stop the server, keeping its data: what a managed database's maintenance restart looks like."""
        assert self.process_dir is not None and self.bindir is not None, "only a server these tests started"
        _as_owner(self.user, [str(self.bindir / "pg_ctl"), "-D", str(self.process_dir / "data"),
                              "-m", "fast", "-w", "stop"])

    def resume(self) -> None:
        assert self.process_dir is not None and self.bindir is not None and self.options
        _as_owner(self.user, [str(self.bindir / "pg_ctl"), "-D", str(self.process_dir / "data"), "-o",
                              self.options, "-l", str(self.process_dir / "server.log"), "-w", "-t", "60", "start"])

    def stop(self) -> None:
        if self.process_dir is None or self.bindir is None:
            return
        _as_owner(self.user, [str(self.bindir / "pg_ctl"), "-D", str(self.process_dir / "data"),
                              "-m", "immediate", "stop"], check=False)
        shutil.rmtree(self.process_dir, ignore_errors=True)


def _as_owner(user: str | None, argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    command = ["runuser", "-u", user, "--", *argv] if user else argv
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=check)


def _owner() -> str | None:
    """Who runs the server: not root (PostgreSQL refuses), so `postgres` or `nobody` when we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as")


def start_server() -> PostgresServer:
    """Start a throwaway server, or use TRENDWATCH_TEST_POSTGRES. Raises LookupError when there is none."""
    if external := os.environ.get("TRENDWATCH_TEST_POSTGRES", "").strip():
        base, _, _ = external.rpartition("/")
        return PostgresServer(admin_url=external, base=base, bindir=bin_dir())
    bindir = bin_dir()
    if bindir is None:
        raise LookupError(HOW_TO_GET_IT)
    user = _owner()
    # As root the server runs as another user, who must reach the folder: /tmp, not a TMPDIR under /root.
    folder = Path(tempfile.mkdtemp(prefix="trendwatch-pg-", dir="/tmp" if user else None))
    if user:
        shutil.chown(folder, user)
    port = _free_port()
    _as_owner(user, [str(bindir / "initdb"), "-D", str(folder / "data"), "-A", "trust", "-U", "postgres",
                     "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
    options = (f"-k {folder} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
               " -c full_page_writes=off -c max_connections=300 -c shared_buffers=64MB")
    _as_owner(user, [str(bindir / "pg_ctl"), "-D", str(folder / "data"), "-o", options,
                     "-l", str(folder / "server.log"), "-w", "-t", "60", "start"])
    base = f"postgresql://postgres@127.0.0.1:{port}"
    server = PostgresServer(admin_url=f"{base}/postgres", base=base, process_dir=folder, user=user,
                            bindir=bindir, options=options)
    deadline = time.monotonic() + 30
    while True:
        try:
            server.psql(server.admin_url, "SELECT 1")
            return server
        except RuntimeError:
            if time.monotonic() > deadline:
                server.stop()
                raise
            time.sleep(0.2)
