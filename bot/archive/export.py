"""Stored snapshot rows (`store.exports.snapshot_rows`) as CSV or JSONL: pure writers, one row per entry.

The same columns in both, in this order; `import` reads either back (`rows-csv`, `rows-jsonl`).
Times are the store's own UTC text, so a round trip (export, import, export) gives the same rows.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

from store.db import utc_iso
from store.exports import SnapshotRow

COLUMNS = ("taken_at", "list", "rank", "id", "likes", "downloads", "trending_score", "pipeline_tag", "country",
           "country_method", "country_via", "archive", "source")


def row_values(row: SnapshotRow) -> dict[str, str | int | float | None]:
    """One row as named values (None = unknown), the order of `COLUMNS`."""
    return {
        "taken_at": utc_iso(row.taken_at), "list": row.list_name, "rank": row.rank, "id": row.id,
        "likes": row.likes, "downloads": row.downloads, "trending_score": row.trending_score,
        "pipeline_tag": row.pipeline_tag, "country": row.country, "country_method": row.country_method,
        "country_via": row.country_via, "archive": row.archive, "source": row.source,
    }


def to_csv(rows: Iterable[SnapshotRow]) -> str:
    """A header and one line per row; unknown values are empty cells."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row_values(row).values()])
    return out.getvalue()


def to_jsonl(rows: Iterable[SnapshotRow]) -> str:
    """One JSON object a line; unknown values are null."""
    return "".join(json.dumps(row_values(row), ensure_ascii=False) + "\n" for row in rows)
