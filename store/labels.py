"""Operators' country labels for a namespace or a model id: set from the CLI only, never from chat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from store.db import Conn, from_iso, utc_iso


@dataclass(frozen=True, slots=True)
class Label:
    target: str
    country: str
    labelled_by: str
    labelled_at: datetime


async def set_label(conn: Conn, target: str, country: str, who: str, now: datetime) -> Label | None:
    """Store (or replace) a label; returns the one it replaced, if any."""
    before = await get_label(conn, target)
    await conn.execute(
        "INSERT INTO attribution_labels (target, country, labelled_by, labelled_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (target) DO UPDATE SET country = excluded.country, labelled_by = excluded.labelled_by,"
        " labelled_at = excluded.labelled_at",
        (target.lower(), country, who, utc_iso(now)),
    )
    return before


async def remove_label(conn: Conn, target: str) -> Label | None:
    before = await get_label(conn, target)
    await conn.execute("DELETE FROM attribution_labels WHERE target = ?", (target.lower(),))
    return before


async def get_label(conn: Conn, target: str) -> Label | None:
    async with conn.execute(
        "SELECT target, country, labelled_by, labelled_at FROM attribution_labels WHERE target = ?",
        (target.lower(),),
    ) as cursor:
        row = await cursor.fetchone()
    return Label(row[0], row[1], row[2], from_iso(row[3])) if row else None


async def all_labels(conn: Conn) -> dict[str, str]:
    """target → country, as `Rules.labels` reads them."""
    async with conn.execute("SELECT target, country FROM attribution_labels ORDER BY target") as cursor:
        return {str(target): str(country) for target, country in await cursor.fetchall()}
