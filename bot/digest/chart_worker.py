"""Charts drawn in a short-lived child process (`python -m bot.digest.chart`), never in the bot's own.

Drawing with matplotlib costs the importing process ~40 MiB that never go back, and its
20–40 ms of drawing hold the GIL, stalling every send and slash command on the event loop even
from a worker thread. A child process per chart returns both: the bot only writes a small JSON
request and reads the PNG back through pipes. A chart is drawn a few times a week, so the child's
start-up (about a second) is cheap next to what it saves.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import datetime, timedelta

from bot.digest.chart import digest_title  # no matplotlib at import: it loads inside the drawing functions
from bot.domain.events import Digest, ShareChart
from bot.domain.messages import Image
from bot.log import get_logger

log = get_logger(__name__)
TIMEOUT = timedelta(seconds=60)
# `python -m bot.digest.chart` at a lower CPU priority, set before its imports: on a small host the
# child's second of CPU must not take turns with the bot's event loop.
SECRETS = frozenset({"DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "HF_TOKEN"})
WORKER = "import os; os.nice(10); from bot.digest.chart import main; raise SystemExit(main())"


class ChartError(Exception):
    """The worker could not draw the chart; the message is its one-line reason."""


def worker_environment() -> dict[str, str]:
    """The bot's environment without its secrets: drawing needs no token."""
    return {name: value for name, value in os.environ.items() if name not in SECRETS}


async def draw(
    chart: ShareChart, title: str, span: tuple[datetime, datetime] | None = None, timezone: str | None = None,
) -> bytes:
    """PNG bytes of the share chart, drawn by `python -m bot.digest.chart` in a child process."""
    request = {
        "chart": chart.model_dump(mode="json"),
        "title": title,
        "span": [span[0].isoformat(), span[1].isoformat()] if span else None,
        "timezone": timezone,
    }
    try:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", WORKER, env=worker_environment(),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise ChartError(f"cannot start the chart worker: {exc}") from None
    try:
        async with asyncio.timeout(TIMEOUT.total_seconds()):
            png, errors = await child.communicate(json.dumps(request).encode())
    except BaseException as exc:  # timeout, or the bot shutting down: no orphan left drawing
        if child.returncode is None:
            child.kill()
            await child.wait()
        if isinstance(exc, TimeoutError):
            raise ChartError(f"the chart worker took longer than {TIMEOUT.total_seconds():g} s") from None
        raise
    if child.returncode != 0 or not png.startswith(b"\x89PNG"):
        lines = errors.decode(errors="replace").strip().splitlines()
        raise ChartError(lines[-1] if lines else f"chart worker exited with status {child.returncode}")
    return png


async def digest_image(digest: Digest) -> Image | None:
    """The digest's chart as an attachment (as `bot.digest.chart.digest_image`), drawn out of process."""
    if digest.chart is None or not digest.chart.times:
        return None
    title = digest_title(digest)
    png = await draw(digest.chart, title, (digest.start, digest.end), digest.timezone)
    return Image(filename=f"trendwatch-{digest.week}.png", data=png, description=title)
