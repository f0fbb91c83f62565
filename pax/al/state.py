"""Crash-safe saving of workflow state, with the previous generation kept."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from pax.errors import PaxError

log = logging.getLogger(__name__)


def save_state(path: Path, state: Any) -> None:
    """Write state to path atomically; the previous file is kept as path.prev."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        torch.save(state, fh)
        fh.flush()
        os.fsync(fh.fileno())
    if path.exists():
        os.replace(path, path.with_name(path.name + ".prev"))
    os.replace(tmp, path)


def load_state(path: Path) -> Any | None:
    """The saved state, falling back to path.prev when path is corrupt; None if absent.

    Raises PaxError naming the files when neither can be read.
    """
    prev = path.with_name(path.name + ".prev")
    if not path.exists() and not prev.exists():
        return None
    errors = []
    for candidate in (path, prev):
        if not candidate.exists():
            continue
        try:
            state = torch.load(candidate, weights_only=False)
        except Exception as exc:  # truncated or garbled pickle
            errors.append(f"{candidate}: {exc.__class__.__name__}")
            log.warning(
                "state file %s is unreadable (%s); trying the previous one",
                candidate,
                exc,
            )
            continue
        if candidate is prev:
            log.warning("resumed from the previous state %s", prev)
        return state
    raise PaxError("no readable state: " + "; ".join(errors))
