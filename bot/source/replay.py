"""A source that replays recorded Hub answers (`[hub] replay = "file"`).

The file holds one JSON object a line, `{"taken_at": ISO, "models": [...]}`,
where `models` is what `/api/models` answered; `.gz` files are read as gzip.
Each fetch returns the first recorded snapshot newer than the last stored one,
so `once` walks through the file across runs and `demo` replays it all.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from bot.domain.snapshot import Snapshot
from bot.source.hub import HubError, snapshot_from_json
from store.db import from_iso


class ReplaySource:
    name = "replay"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._records: list[tuple[datetime, object]] | None = None

    def _load(self) -> list[tuple[datetime, object]]:
        if self._records is None:
            opener = gzip.open if self.path.suffix == ".gz" else open
            records: list[tuple[datetime, object]] = []
            try:
                with opener(self.path, "rt", encoding="utf-8") as handle:
                    for number, text in enumerate(handle, start=1):
                        if not text.strip():
                            continue
                        try:
                            record = json.loads(text)
                            records.append((from_iso(record["taken_at"]), record["models"]))
                        except (ValueError, KeyError, TypeError) as exc:
                            raise HubError(f"{self.path}:{number}: not a replay record ({exc})") from exc
            except OSError as exc:
                raise HubError(f"cannot read replay file {self.path}: {exc.strerror or exc}") from exc
            records.sort(key=lambda record: record[0])
            self._records = records
        return self._records

    def __len__(self) -> int:
        return len(self._load())

    async def fetch(self, after: datetime | None) -> Snapshot:
        for taken_at, models in self._load():
            if after is None or taken_at > after:
                return snapshot_from_json(models, taken_at)
        raise HubError(f"replay file {self.path} has no snapshot after the last stored one")

    async def lookup_tags(self, model_ids: Sequence[str]) -> dict[str, list[str]]:
        return {}

    def stop(self) -> None:
        """Nothing to interrupt: reading the file does not wait on anyone."""
