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


def coerce_enums(obj: Any, group: str, fields: dict[str, type]) -> None:
    """Turn plain strings in obj's Enum fields into members (built in Python).

    Raises:
        ConfigError: naming group.field and the choices for an unknown value.
    """
    for key, enum in fields.items():
        value = getattr(obj, key)
        if isinstance(value, enum):
            continue
        try:
            setattr(obj, key, enum(value))
        except ValueError:
            choices = "|".join(e.value for e in enum)
            raise ConfigError(f"{group}.{key}", value, f"choose {choices}") from None
