"""Secrets the store must keep (the bot tokens Slack workspaces grant through OAuth), sealed at rest.

Sealed with Fernet (AES-128-CBC + HMAC-SHA256, a timestamped, authenticated token) under
`TRENDWATCH_SECRET_KEY`: one or more comma-separated Fernet keys, newest first. `MultiFernet`
seals with the first and opens with any, so a key rotates without a moment where stored rows
cannot be read: put the new key first, keep the old one after it, re-seal (`keygen --rotate`),
then drop the old one. A copy of the database alone is opaque text; a wrong or missing key is
one line naming the variable, never a driver or library traceback.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

SECRET_KEY_VARIABLE = "TRENDWATCH_SECRET_KEY"


class SealError(ValueError):
    """The key is missing or malformed, or no key given opens a sealed value: one line, naming the variable."""


def new_key() -> str:
    """A fresh key: urlsafe base64 of 32 random bytes (what `python -m bot keygen` prints)."""
    return Fernet.generate_key().decode("ascii")


class Sealer:
    """Seals and opens text with the newest of several keys; opens with any of them."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SealError(f"{SECRET_KEY_VARIABLE} is not set: make one with `python -m bot keygen`")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.strip().encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                raise SealError(f"{SECRET_KEY_VARIABLE}: key {position} of {len(keys)} is not a Fernet key (urlsafe"
                                " base64 of 32 bytes); make one with `python -m bot keygen`") from None
        self._newest = fernets[0]
        self._all = MultiFernet(fernets)
        self.count = len(fernets)

    @classmethod
    def from_value(cls, value: str | None) -> Sealer:
        """`TRENDWATCH_SECRET_KEY` as the environment holds it: keys separated by commas, newest first."""
        keys = [part.strip() for part in (value or "").split(",") if part.strip()]
        return cls(keys)

    def seal(self, plain: str) -> str:
        return self._all.encrypt(plain.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._all.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise SealError(f"a stored secret does not open with any key in {SECRET_KEY_VARIABLE}: was the key that"
                            " sealed it removed? Put it back (after the newest) and re-seal with"
                            " `python -m bot keygen --rotate`") from None

    def is_newest(self, sealed: str) -> bool:
        """Whether the newest key sealed it (nothing to re-seal)."""
        try:
            self._newest.decrypt(sealed.encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True

    def reseal(self, sealed: str) -> str:
        """The same secret sealed with the newest key."""
        try:
            return self._all.rotate(sealed.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            self.open(sealed)  # raises the one line naming the variable
            raise
