"""The default output: alerts on stdout, readable text or one JSON object a line.

In `jsonl` mode stdout carries only alerts (logs go to stderr), so other tools
can read it line by line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from bot.delivery.adapter import Adapter
from bot.delivery.threading import Thread
from bot.domain.messages import Alert, Image, Message


def render_text(message: Message) -> str:
    stamp = f"[{message.timestamp:%Y-%m-%d %H:%M} UTC] " if message.timestamp else ""
    body = [f"{stamp}{message.title}"]
    body.extend(f"  {''.join(span.text for span in text_line)}" for text_line in message.lines)
    for field in message.fields:
        body.append(f"  {field.name}:")
        body.extend(f"    {''.join(span.text for span in text_line)}" for text_line in field.value)
    return "\n".join(body)


class ConsoleAdapter(Adapter):
    """Text or JSON lines on stdout. A message's image (a digest chart) is written as a PNG file into
    `image_dir` and its path printed; without an `image_dir` (and in `jsonl`) images are skipped."""

    platform = "console"

    def __init__(self, fmt: str = "text", stream: TextIO | None = None, image_dir: Path | None = None) -> None:
        self.format = fmt
        self._stream = stream
        self.image_dir = image_dir

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stdout

    async def send(self, channel: str, alert: Alert, mention: str | None = None,
                   thread: Thread | None = None) -> None:
        if self.format == "jsonl":
            text = json.dumps(alert.payload, ensure_ascii=False, separators=(", ", ": "))
        else:
            text = render_text(alert.message) + "\n"
            if alert.message.image is not None and self.image_dir is not None:
                path = self.save_image(alert.message.image)
                text = render_text(alert.message) + f"\n  chart: {path}\n"
        self.stream.write(text + "\n")
        self.stream.flush()

    def save_image(self, image: Image) -> Path:
        assert self.image_dir is not None
        self.image_dir.mkdir(parents=True, exist_ok=True)
        path = self.image_dir / Path(image.filename).name
        path.write_bytes(image.data)
        return path
