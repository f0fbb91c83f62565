"""Batched ensemble molecular dynamics: many trajectories, K MACE members, one step."""

from pax.md.engine import BatchedMD

__all__ = ["BatchedMD"]
