"""Checks that stop a broken trajectory while the rest of the batch goes on.

A guard is a function `guard(state, cfg) -> (N,) bool` that flags broken
trajectories; GUARDS maps each stop reason to its guard. Adding a guard: one
such function and its line in GUARDS (or in EVERY_STEP).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch

from pax.md.config import MDConfig
from pax.md.layout import Layout
from pax.md.quantities import per_system_sum
from pax.md.state import STOPPED, MDState

log = logging.getLogger(__name__)

NAN = "nan_forces"
"""Stop reason: non-finite forces or positions."""
HOT = "runaway_temperature"
"""Stop reason: kinetic temperature above md.max_temperature_K."""
APART = "atoms_flew_apart"
"""Stop reason: a molecule's atom beyond md.max_bond_stretch_A from all others."""
COLLIDED = "atoms_collided"
"""Stop reason: two atoms of a molecule closer than md.min_distance_A."""


def non_finite(state: MDState, cfg: MDConfig) -> torch.Tensor:
    """(N,) bool: systems with a NaN or infinite position or force."""
    bad = ~(
        torch.isfinite(state.positions_A).all(-1) & torch.isfinite(state.forces).all(-1)
    )  # (A,)
    lay = state.layout
    return per_system_sum(bad.to(torch.float64), lay.batch, lay.n_systems) > 0


def too_hot(state: MDState, cfg: MDConfig) -> torch.Tensor:
    """(N,) bool: systems hotter than md.max_temperature_K."""
    return state.temperature_K() > cfg.max_temperature_K


def nearest_distances(
    positions_A: torch.Tensor, layout: Layout
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per atom, the distance to its nearest neighbour (no periodic images).

    Returns (nearest (N, n_max) Å, valid (N, n_max) bool); padding is invalid.
    """
    counts = layout.ptr[1:] - layout.ptr[:-1]
    n_sys, n_max = counts.numel(), int(counts.max())
    local = (
        torch.arange(positions_A.shape[0], device=positions_A.device)
        - layout.ptr[layout.batch]
    )
    padded = positions_A.new_full((n_sys, n_max, 3), float("nan"))
    padded[layout.batch, local] = positions_A
    dist = torch.cdist(padded, padded)  # (N, n, n) Å; NaN rows for padding
    dist = torch.nan_to_num(dist, nan=float("inf"))
    dist.diagonal(dim1=1, dim2=2).fill_(float("inf"))
    valid = torch.arange(n_max, device=counts.device)[None, :] < counts[:, None]
    return dist.min(dim=2).values, valid


def flew_apart(state: MDState, cfg: MDConfig) -> torch.Tensor:
    """(N,) bool: molecules with an atom beyond md.max_bond_stretch_A from all others.

    Periodic systems and single atoms are never flagged.
    """
    lay = state.layout
    counts = lay.ptr[1:] - lay.ptr[:-1]
    nearest, valid = nearest_distances(state.positions_A, lay)
    lonely = ((nearest > cfg.max_bond_stretch_A) & valid).any(dim=1)
    return lonely & ~lay.pbc.any(dim=1) & (counts > 1)


def collided(state: MDState, cfg: MDConfig) -> torch.Tensor:
    """(N,) bool: molecules with two atoms closer than md.min_distance_A.

    A poor early model can let atoms fuse; such geometries teach nothing useful.
    Periodic systems are not checked (images are not considered here).
    """
    nearest, valid = nearest_distances(state.positions_A, state.layout)
    fused = ((nearest < cfg.min_distance_A) & valid).any(dim=1)
    return fused & ~state.layout.pbc.any(dim=1)


Guard = Callable[[MDState, MDConfig], torch.Tensor]

EVERY_STEP: dict[str, Guard] = {NAN: non_finite}
"""Guards run after every step, by stop reason."""
GUARDS: dict[str, Guard] = {HOT: too_hot, APART: flew_apart, COLLIDED: collided}
"""Guards run every md.check_every steps, by stop reason."""


def stop_broken(state: MDState, cfg: MDConfig) -> None:
    """Stop the running trajectories a guard flags, with its reason (logged)."""
    guards = dict(EVERY_STEP)
    if int(state.steps[state.running].max(initial=0)) % cfg.check_every == 0:
        guards.update(GUARDS)
    flags = {
        reason: guard(state, cfg).cpu().numpy() for reason, guard in guards.items()
    }
    for reason, flagged in flags.items():
        for i in np.flatnonzero(flagged & state.running):
            state.status[i], state.reasons[i] = STOPPED, reason
            log.warning(
                "trajectory %d stopped at step %d: %s", i, state.steps[i], reason
            )
