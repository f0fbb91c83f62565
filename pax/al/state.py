"""Crash-safe saving of workflow state, with the previous generation kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pax.fileio import atomic_write, read_or_prev


def save_state(path: Path, state: Any) -> None:
    """Write state to path atomically; the previous file is kept as path.prev."""
    atomic_write(path, lambda fh: torch.save(state, fh), keep_prev=True)


def load_state(path: Path) -> Any | None:
    """The saved state, falling back to path.prev when path is corrupt; None if absent.

    Raises PaxError naming the files when neither can be read.
    """
    return read_or_prev(path, _load, "state file")


def _load(path: Path) -> Any:
    return torch.load(path, weights_only=False)
