"""Helpers the tests share: no test module imports another; what two of them need lives here."""

from __future__ import annotations



