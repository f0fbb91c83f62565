"""Batched ensemble molecular dynamics: many trajectories, K MACE members, one step.

`from pax.md import BatchedMD` imports torch lazily, so reading the config
schema (pax.md.config) stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BatchedMD"]


def __getattr__(name: str) -> Any:
    if name == "BatchedMD":
        from pax.md.engine import BatchedMD

        return BatchedMD
    raise AttributeError(f"module 'pax.md' has no attribute {name!r}")
