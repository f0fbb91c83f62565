"""Errors that pax reports to users as one line."""

from __future__ import annotations

from typing import Any


class PaxError(Exception):
    """An error a user can fix; the CLI prints its message without a traceback."""


class ConfigError(PaxError, ValueError):
    """A config value that is out of range or points at something unusable."""

    def __init__(self, key: str, value: Any, reason: str) -> None:
        self.key, self.value, self.reason = key, value, reason
        super().__init__(f"{key}={value!r}: {reason}")
