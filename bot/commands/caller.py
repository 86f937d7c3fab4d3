"""What every command handler shares: who is asking, how an answer fails, and the user's words made safe."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.country_codes import iso_country_codes


class CommandError(Exception):
    """A user asked for something that cannot be answered; the text says why."""


def echo(text: object, limit: int = 40) -> str:
    """User input quoted back in an answer: one line, bounded, printable (no newline, no lone surrogate)."""
    raw = str(text)
    shown = "".join(char if char.isprintable() else "\ufffd" for char in raw[:limit])
    return shown + ("…" if len(raw) > limit else "")


def clean_input(text: str) -> str:
    """Free text from a platform, safe to bind in SQL: JSON may carry lone surrogates, which UTF-8 cannot,
    and NUL, which PostgreSQL's text cannot (SQLite could)."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks, from where. `tenant` is the server or workspace the command came from (the Discord
    interaction's guild id, the Slack payload's team id): every setting a command makes belongs to it, and
    a channel another tenant set up can be neither read nor changed. None only where the platform said none."""

    platform: str
    channel: str
    user: str
    is_admin: bool
    tenant: str | None = None
    tenant_name: str = ""  # the server's or workspace's name, when the platform sent it
    user_name: str = ""  # how the platform shows the user (who set a silence), when it sent it


def parse_country(text: str) -> str:
    code = text.strip().upper()
    if code not in iso_country_codes():
        raise CommandError(f"'{echo(text)}' is not a two-letter country code (ISO 3166-1, e.g. CN, US, FR).")
    return code
