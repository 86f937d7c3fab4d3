"""The Dockerfile, built and run where a builder is installed: buildah (`apt-get install buildah`), chroot isolation.

These machines reach no image registry, so the base is Debian bookworm made
with debootstrap (`apt-get install debootstrap`, run as root) and imported once
as `localhost/trendwatch-base:bookworm`; later runs reuse it and buildah's layer
cache. Where either tool is missing they are skipped with the reason, except in
CI (`CI` set), where that fails: .ci/run installs both. They are marked
`container` and left out of `make test` (a build from nothing takes minutes):
`make container` runs them, and .ci/run does after `make test`. `podman run`
cannot start containers here (crun refuses this host's hybrid cgroups), so the
image runs with `buildah run`, in the host's network, against the fake Hub.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml  # type: ignore[import-untyped]

from store.db import postgres_url
from tests.fakes.hub import FakeHub, ranked
from tests.support.cli import REPO
from tests.support.ops import free_port, health
from tests.support.postgres import PostgresServer

BASE = "localhost/trendwatch-base:bookworm"
IMAGE = "localhost/trendwatch:test"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")  # a TLS-intercepting proxy's CA, where there is one
US = [f"meta-llama/l{i}" for i in range(10)]


def require(tool: str, why: str) -> None:
    """Skip without the tool, saying how to get it; in CI fail instead, so a missing builder cannot pass unseen."""
    if shutil.which(tool) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{why} (CI must build and run the image: see .ci/run)", pytrace=False)
        pytest.skip(why)


def buildah(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["buildah", *args], capture_output=True, text=True, timeout=timeout, check=False)


def ensure_base() -> None:
    """Make the bookworm base once: debootstrap's tree, added to an empty image by buildah itself (no podman)."""
    if buildah("inspect", "--type", "image", BASE).returncode == 0:
        return
    require("debootstrap", f"no {BASE} image, and no debootstrap to make one: `apt-get install debootstrap`")
    with tempfile.TemporaryDirectory(prefix="trendwatch-base-") as tmp:
        root, context = Path(tmp) / "root", Path(tmp) / "context"
        context.mkdir()
        made = subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(root),
                               "http://deb.debian.org/debian"], capture_output=True, text=True, timeout=1200,
                              check=False)
        assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
        packed = subprocess.run(["tar", "-C", str(root), "-cf", str(context / "root.tar"), "."],
                                capture_output=True, text=True, timeout=600, check=False)
        assert packed.returncode == 0, packed.stderr
        (context / "Containerfile").write_text("FROM scratch\nADD root.tar /\n", encoding="utf-8")
        imported = buildah("bud", "--isolation", "chroot", "-f", str(context / "Containerfile"), "-t", BASE,
                           str(context))
        assert imported.returncode == 0, imported.stdout[-2000:] + imported.stderr[-2000:]


def test_compose_wires_the_bot_to_its_database() -> None:
    """compose.yaml cannot be started here (no compose tool runs): check what the bot needs of it."""
    compose = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    db, bot = compose["services"]["db"], compose["services"]["bot"]
    assert db["image"].startswith("postgres:15")
    url = urlsplit(postgres_url(bot["environment"]["DATABASE_URL"]))
    assert url.hostname == "db" and url.port == 5432
    assert (url.username, url.password, url.path.lstrip("/")) == (
        db["environment"]["POSTGRES_USER"], db["environment"]["POSTGRES_PASSWORD"], db["environment"]["POSTGRES_DB"])
    assert bot["depends_on"]["db"]["condition"] == "service_healthy" and "pg_isready" in db["healthcheck"]["test"]
    assert bot["build"] == "." and (REPO / "Dockerfile").is_file()
    assert "/data" not in str(bot.get("volumes")), "the bot keeps no state when its store is PostgreSQL"


@pytest.fixture(scope="module")
def image() -> str:
    require("buildah", "no container builder: `apt-get install buildah` to build the Dockerfile")
    ensure_base()
    args = ["bud", "--isolation", "chroot", "--layers", "--build-arg", f"BASE={BASE}", "-t", IMAGE]
    if HOST_CA.is_file():
        args += ["--volume", f"{HOST_CA}:/run/host-ca.crt:ro", "--build-arg", "PIP_CERT=/run/host-ca.crt"]
    built = buildah(*args, str(REPO))
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return IMAGE


@pytest.fixture
def container(image: str) -> Iterator[str]:
    made = buildah("from", image)
    assert made.returncode == 0, made.stderr
    name = made.stdout.strip()
    yield name
    buildah("rm", name)


@pytest.mark.container
def test_the_image_runs_as_a_user_without_privileges(container: str) -> None:
    ran = buildah("run", "--isolation", "chroot", container, "--", "id", "-u")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() != "0"


@pytest.mark.container
@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
async def test_the_image_runs_the_bot_and_answers_healthz(container: str, fake_hub: FakeHub, tmp_path: Path,
                                                         store: str, request: pytest.FixtureRequest) -> None:
    """The image as compose.yaml runs it too: on PostgreSQL through DATABASE_URL (the test's server, host network)."""
    port = free_port()
    fake_hub.models = ranked(US)
    config_dir = tmp_path / "cfg"
    config_dir.mkdir()
    (config_dir / "c.toml").write_text(
        f'[hub]\nendpoint = "{fake_hub.endpoint}"\npoll_interval = "1s"\nretry_budget = "2s"\n\n'
        f'[store]\npath = "/data/t.db"\n\n[console]\nformat = "jsonl"\n\n'
        f'[ops]\nenabled = true\nport = {port}\n\n[log]\nformat = "json"\n', encoding="utf-8")
    environment: list[str] = []
    url = ""
    if store == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.fresh_url()
        environment = ["--env", f"DATABASE_URL={url}"]
    process = await asyncio.create_subprocess_exec(
        "buildah", "run", "--isolation", "chroot", *environment, "--volume", f"{config_dir}:/cfg:ro", container, "--",
        "timeout", "--preserve-status", "-s", "TERM", "20", "python", "-m", "bot", "run", "--config", "/cfg/c.toml",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(60):
            while (answer := await health(port))[0] != 200 or answer[1]["poll"] != "fresh":
                assert process.returncode is None, "the bot stopped before /healthz answered"
                await asyncio.sleep(0.3)
        assert answer[1]["role"] == "active"
        _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()[-2000:]
    messages = [json.loads(line)["message"] for line in err.decode().splitlines()]
    assert "shutting down" in messages
    assert fake_hub.list_requests
    if store == "postgresql":
        assert any(message.startswith("holding the worker lease on PostgreSQL") for message in messages), messages
        assert int(server.psql(url, "SELECT COUNT(*) FROM snapshots")) >= 1
