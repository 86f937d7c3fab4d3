"""Slack workspaces that installed the app ("Add to Slack"), OAuth states, and each channel's workspace.

The store's side of slack_sdk's `AsyncInstallationStore` / `AsyncOAuthStateStore` (the adapter,
`adapters/slack_installs.py`, turns its objects into the plain records here; the store knows no
chat library). Every installation is kept as JSON sealed with `TRENDWATCH_SECRET_KEY`
(`store.sealing`), beside the plain ids a lookup needs: no token is ever written in clear.
Lookups follow slack_sdk's own stores: the newest installation of a workspace (or of an
organisation, for an org-wide install, whose team id is '').
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.db import Conn, from_iso, utc_iso
from store.sealing import Sealer


@dataclass(frozen=True, slots=True)
class Workspace:
    """One installed workspace as an operator sees it: no token."""

    team_id: str
    enterprise_id: str
    team_name: str | None
    installed_at: datetime


def _key(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None) -> tuple[str, str]:
    """slack_sdk's lookup key: an org-wide install (or one without a team) is found by its enterprise alone."""
    return enterprise_id or "", "" if is_enterprise_install or not team_id else team_id


def _record(sealer: Sealer, sealed: object) -> dict[str, Any]:
    opened = json.loads(sealer.open(str(sealed)))
    if not isinstance(opened, dict):
        raise ValueError("a sealed installation is not a JSON object")
    return opened


async def save_installation(conn: Conn, sealer: Sealer, client_id: str, record: Mapping[str, Any],
                            installed_at: datetime) -> None:
    """One installer's installation in a workspace, replacing that installer's previous one (token rotation too)."""
    enterprise_id, team_id = _key(record.get("enterprise_id"), record.get("team_id"),
                                  record.get("is_enterprise_install"))
    await conn.execute(
        "INSERT INTO slack_installations (client_id, enterprise_id, team_id, user_id, team_name, installed_at, sealed)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (client_id, enterprise_id, team_id, user_id) DO UPDATE SET"
        " team_name = excluded.team_name, installed_at = excluded.installed_at, sealed = excluded.sealed",
        (client_id, enterprise_id, team_id, str(record.get("user_id") or ""), record.get("team_name"),
         utc_iso(installed_at), sealer.seal(json.dumps(dict(record), sort_keys=True))),
    )


async def save_bot(conn: Conn, sealer: Sealer, client_id: str, record: Mapping[str, Any],
                   installed_at: datetime) -> None:
    """The workspace's bot (one per workspace or organisation), replacing the previous one."""
    enterprise_id, team_id = _key(record.get("enterprise_id"), record.get("team_id"),
                                  record.get("is_enterprise_install"))
    await conn.execute(
        "INSERT INTO slack_bots (client_id, enterprise_id, team_id, team_name, installed_at, sealed)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (client_id, enterprise_id, team_id) DO UPDATE SET"
        " team_name = excluded.team_name, installed_at = excluded.installed_at, sealed = excluded.sealed",
        (client_id, enterprise_id, team_id, record.get("team_name"), utc_iso(installed_at),
         sealer.seal(json.dumps(dict(record), sort_keys=True))),
    )


async def find_installation(conn: Conn, sealer: Sealer, client_id: str, enterprise_id: str | None,
                            team_id: str | None, user_id: str | None = None,
                            is_enterprise_install: bool | None = False) -> dict[str, Any] | None:
    """The newest installation of the workspace (of `user_id` when given), opened; None when there is none."""
    enterprise, team = _key(enterprise_id, team_id, is_enterprise_install)
    sql = ("SELECT sealed FROM slack_installations WHERE client_id = ? AND enterprise_id = ? AND team_id = ?"
           + (" AND user_id = ?" if user_id is not None else "") + " ORDER BY installed_at DESC, id DESC LIMIT 1")
    params: tuple[str, ...] = (client_id, enterprise, team, *((user_id,) if user_id is not None else ()))
    row = await (await conn.execute(sql, params)).fetchone()
    return _record(sealer, row[0]) if row else None


async def find_bot(conn: Conn, sealer: Sealer, client_id: str, enterprise_id: str | None, team_id: str | None,
                   is_enterprise_install: bool | None = False) -> dict[str, Any] | None:
    enterprise, team = _key(enterprise_id, team_id, is_enterprise_install)
    row = await (await conn.execute(
        "SELECT sealed FROM slack_bots WHERE client_id = ? AND enterprise_id = ? AND team_id = ?"
        " ORDER BY installed_at DESC, id DESC LIMIT 1", (client_id, enterprise, team))).fetchone()
    return _record(sealer, row[0]) if row else None


async def delete_bot(conn: Conn, client_id: str, enterprise_id: str | None, team_id: str | None) -> int:
    cursor = await conn.execute("DELETE FROM slack_bots WHERE client_id = ? AND enterprise_id = ? AND team_id = ?",
                                (client_id, enterprise_id or "", team_id or ""))
    return cursor.rowcount


async def delete_installations(conn: Conn, client_id: str, enterprise_id: str | None, team_id: str | None,
                               user_id: str | None = None) -> int:
    """Every installation of the workspace, or only `user_id`'s."""
    sql = ("DELETE FROM slack_installations WHERE client_id = ? AND enterprise_id = ? AND team_id = ?"
           + (" AND user_id = ?" if user_id is not None else ""))
    params = (client_id, enterprise_id or "", team_id or "", *((user_id,) if user_id is not None else ()))
    return (await conn.execute(sql, params)).rowcount


async def workspaces(conn: Conn, client_id: str) -> list[Workspace]:
    """Every workspace with a bot installed, oldest install first (`tenants`, and the one-workspace fallback)."""
    rows = await (await conn.execute(
        "SELECT team_id, enterprise_id, team_name, installed_at FROM slack_bots WHERE client_id = ?"
        " ORDER BY installed_at, id", (client_id,))).fetchall()
    return [Workspace(str(team), str(enterprise), name, from_iso(str(at))) for team, enterprise, name, at in rows]


async def reseal_all(conn: Conn, sealer: Sealer) -> int:
    """Seal every stored installation again with the newest key; how many were not sealed with it. One transaction
    of the caller's: after it commits, the older keys can leave `TRENDWATCH_SECRET_KEY`."""
    changed = 0
    for table in ("slack_installations", "slack_bots"):
        rows = await (await conn.execute(f"SELECT id, sealed FROM {table} ORDER BY id")).fetchall()
        for row_id, sealed in rows:
            if sealer.is_newest(str(sealed)):
                continue
            await conn.execute(f"UPDATE {table} SET sealed = ? WHERE id = ?", (sealer.reseal(str(sealed)), row_id))
            changed += 1
    return changed


async def issue_state(conn: Conn, state: str, expires_at: datetime, now: datetime) -> None:
    """An install in progress; states that expired are swept on the way (an abandoned install leaves nothing)."""
    await conn.execute("DELETE FROM slack_oauth_states WHERE expires_at <= ?", (utc_iso(now),))
    await conn.execute("INSERT INTO slack_oauth_states (state, expires_at) VALUES (?, ?)", (state, utc_iso(expires_at)))


async def consume_state(conn: Conn, state: str, now: datetime) -> bool:
    """True once for a state issued here and not expired; a replayed or forged one is False."""
    cursor = await conn.execute("DELETE FROM slack_oauth_states WHERE state = ? AND expires_at > ?",
                                (state, utc_iso(now)))
    return cursor.rowcount == 1


async def record_channel_team(conn: Conn, channel: str, team_id: str, enterprise_id: str | None,
                              now: datetime) -> None:
    """The workspace a channel's slash command came from: its alerts go out with that workspace's token."""
    await conn.execute(
        "INSERT INTO slack_channel_teams (channel, team_id, enterprise_id, seen_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (channel) DO UPDATE SET team_id = excluded.team_id, enterprise_id = excluded.enterprise_id,"
        " seen_at = excluded.seen_at",
        (channel, team_id, enterprise_id or "", utc_iso(now)),
    )


async def channel_team(conn: Conn, channel: str) -> tuple[str, str] | None:
    """(team id, enterprise id or '') of the channel's workspace, when a slash command there told it."""
    row = await (await conn.execute("SELECT team_id, enterprise_id FROM slack_channel_teams WHERE channel = ?",
                                    (channel,))).fetchone()
    return (str(row[0]), str(row[1])) if row else None


async def channels_of(conn: Conn, team_id: str) -> list[str]:
    rows = await (await conn.execute("SELECT channel FROM slack_channel_teams WHERE team_id = ? ORDER BY channel",
                                     (team_id,))).fetchall()
    return [str(channel) for (channel,) in rows]
