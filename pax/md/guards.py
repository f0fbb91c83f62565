"""Checks that stop a broken trajectory while the rest of the batch goes on."""

from __future__ import annotations

import logging

import torch

from pax.md.integrators import kinetic_energy, per_system_sum, temperature_K
from pax.md.layout import Layout

log = logging.getLogger(__name__)

NAN = "nan_forces"
"""Stop reason: non-finite forces or positions."""
HOT = "runaway_temperature"
"""Stop reason: kinetic temperature above md.max_temperature_K."""
APART = "atoms_flew_apart"
"""Stop reason: a molecule's atom beyond md.max_bond_stretch_A from all others."""
COLLIDED = "atoms_collided"
"""Stop reason: two atoms of a molecule closer than md.min_distance_A."""


def non_finite(
    positions_A: torch.Tensor, forces: torch.Tensor, layout: Layout
) -> torch.Tensor:
    """(N,) bool: systems with a NaN or infinite position or force."""
    bad = ~(
        torch.isfinite(positions_A).all(-1) & torch.isfinite(forces).all(-1)
    )  # (A,)
    return per_system_sum(bad.to(torch.float64), layout.batch, layout.n_systems) > 0


def too_hot(
    velocities: torch.Tensor, layout: Layout, max_temperature_K: float
) -> torch.Tensor:
    """(N,) bool: systems hotter than max_temperature_K."""
    kinetic = kinetic_energy(
        velocities, layout.masses_amu, layout.batch, layout.n_systems
    )
    return temperature_K(kinetic, layout.dof) > max_temperature_K


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


def flew_apart(
    positions_A: torch.Tensor, layout: Layout, max_distance_A: float
) -> torch.Tensor:
    """(N,) bool: molecules with an atom beyond max_distance_A from every other atom.

    Periodic systems and single atoms are never flagged.
    """
    counts = layout.ptr[1:] - layout.ptr[:-1]
    nearest, valid = nearest_distances(positions_A, layout)
    lonely = ((nearest > max_distance_A) & valid).any(dim=1)
    return lonely & ~layout.pbc.any(dim=1) & (counts > 1)


def collided(
    positions_A: torch.Tensor, layout: Layout, min_distance_A: float
) -> torch.Tensor:
    """(N,) bool: molecules with two atoms closer than min_distance_A.

    A poor early model can let atoms fuse; such geometries teach nothing useful.
    Periodic systems are not checked (images are not considered here).
    """
    nearest, valid = nearest_distances(positions_A, layout)
    fused = ((nearest < min_distance_A) & valid).any(dim=1)
    return fused & ~layout.pbc.any(dim=1)
