"""Uncertainty measures of a committee, by name (`al.uncertainty`).

One definition serves the batched MD, the AL check and the ASE calculator. Per
atom, the force SD is the root mean square over members and x, y, z of the
deviation from the member mean (aims-PAX's ``ensemble_sd``). Works on torch
tensors without importing torch, so the config schema can read MEASURES cheaply.
Adding a measure is one function of a `Committee` and one line in MEASURES.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

Tensor = Any  # torch.Tensor; torch itself is not imported here


@dataclass
class Committee:
    """What every measure sees: the members' predictions for a batch of systems."""

    forces: Tensor
    """(K, A, 3) forces of each member, eV/Å."""
    energies: Tensor
    """(K, B) energies of each member, eV."""
    batch: Tensor
    """(A,) system index of each atom (int64)."""
    n_systems: int
    """B."""
    molecule: Tensor | None = None
    """(A,) int64 molecule of each atom, numbered across the batch; None: each
    system is one molecule."""
    positions: Tensor | None = None
    """(A, 3) Å, for torques; None: torques are not measured (zero)."""
    masses: Tensor | None = None
    """(A,) amu, for the molecules' centres of mass."""
    cells: Tensor | None = None
    """(B, 3, 3) Å with pbc (B, 3) bool: minimum-image distances within molecules."""
    pbc: Tensor | None = None

    @cached_property
    def atomic_sd(self) -> Tensor:
        """(A,) per-atom force SD, eV/Å."""
        dev = self.forces - self.forces.mean(0, keepdim=True)  # (K, A, 3) eV/Å
        return dev.square().mean(dim=(0, 2)).sqrt()

    @cached_property
    def n_atoms(self) -> Tensor:
        """(B,) atoms per system."""
        return self.batch.bincount(minlength=self.n_systems)

    def per_system(self, atomic: Tensor, reduce: str) -> Tensor:
        """(B,) per-atom values reduced over each system ("amax" or "mean")."""
        zeros = atomic.new_zeros(self.n_systems)
        return zeros.scatter_reduce(0, self.batch, atomic, reduce, include_self=False)


def max_atomic_sd(c: Committee) -> Tensor:
    """(B,) largest per-atom force SD of each system, eV/Å (aims-PAX's measure)."""
    return c.per_system(c.atomic_sd, "amax")


def mean_atomic_sd(c: Committee) -> Tensor:
    """(B,) mean per-atom force SD of each system, eV/Å."""
    return c.per_system(c.atomic_sd, "mean")


def energy_sd(c: Committee) -> Tensor:
    """(B,) population SD of the member energies, eV."""
    return c.energies.std(dim=0, correction=0)


def energy_sd_per_atom(c: Committee) -> Tensor:
    """(B,) population SD of the member energies per atom, eV/atom."""
    return energy_sd(c) / c.n_atoms.to(c.energies.dtype)


def intermol_force_sd(c: Committee) -> Tensor:
    """(B,) largest committee SD of a molecule's total force in each system, eV/Å.

    The total force of a molecule is what moves it as a whole, so its spread
    is the uncertainty of the forces between molecules (aims-PAX's intermolecular
    uncertainty); zero for a system that is one molecule.
    """
    return _largest_molecule_sd(c, c.forces)


def intermol_torque_sd(c: Committee) -> Tensor:
    """(B,) largest committee SD of a molecule's torque about its centre of mass, eV.

    The spread of what rotates a molecule as a whole (aims-PAX's intermolecular
    uncertainty counts forces; torques are pax's addition); zero without positions
    and for a system of one molecule whose members' forces exert no net torque.
    """
    if c.positions is None or c.masses is None:
        return c.energies.new_zeros(c.n_systems)
    import torch

    molecule = c.molecule if c.molecule is not None else c.batch
    n_mol = int(molecule.max()) + 1
    index = torch.arange(molecule.numel(), device=molecule.device)
    first = index.new_full((n_mol,), molecule.numel())
    first = first.scatter_reduce(0, molecule, index, "amin")  # (M,) first atom
    arm = c.positions - c.positions[first[molecule]]  # (A, 3) Å from a molecule atom
    if c.cells is not None and c.pbc is not None:
        arm = _minimum_image(arm, c.cells, c.pbc, c.batch)
    m = c.masses.unsqueeze(-1)
    total_mass = c.masses.new_zeros(n_mol).index_add_(0, molecule, c.masses)
    com = c.positions.new_zeros(n_mol, 3).index_add_(0, molecule, m * arm)
    arm = arm - (com / total_mass.unsqueeze(-1))[molecule]  # (A, 3) from the COM
    torque = arm.unsqueeze(0).cross(c.forces, dim=-1)  # (K, A, 3) eV
    return _largest_molecule_sd(c, torque)


def _largest_molecule_sd(c: Committee, per_atom: Tensor) -> Tensor:
    """(B,) per system, the largest committee SD of a molecule's sum of per_atom.

    per_atom: (K, A, 3); the SD is the RMS over members and x, y, z.
    """
    molecule = c.molecule if c.molecule is not None else c.batch
    n_mol = int(molecule.max()) + 1
    totals = per_atom.new_zeros(per_atom.shape[0], n_mol, 3)
    totals.index_add_(1, molecule, per_atom)  # (K, M, 3)
    dev = totals - totals.mean(0, keepdim=True)
    sd = dev.square().mean(dim=(0, 2)).sqrt()  # (M,)
    system = molecule.new_zeros(n_mol).scatter_reduce(
        0, molecule, c.batch, "amax", include_self=False
    )  # (M,) system of each molecule
    zeros = sd.new_zeros(c.n_systems)
    return zeros.scatter_reduce(0, system, sd, "amax", include_self=True)


def _minimum_image(d: Tensor, cells: Tensor, pbc: Tensor, batch: Tensor) -> Tensor:
    """Displacements (A, 3) reduced to the nearest image along periodic axes.

    cells (B, 3, 3) Å and pbc (B, 3) per system; batch (A,) the system of each atom.
    """
    import torch

    periodic = pbc.any(-1)[:, None, None]
    eye = torch.eye(3, dtype=cells.dtype, device=cells.device)
    cells = torch.where(periodic, cells, eye)  # molecules in vacuum: no images
    frac = (d.unsqueeze(1) @ torch.linalg.inv(cells)[batch]).squeeze(1)  # (A, 3)
    frac = frac - frac.round() * pbc[batch].to(frac.dtype)
    return (frac.unsqueeze(1) @ cells[batch]).squeeze(1)


def max_atomic_or_intermol_sd(c: Committee) -> Tensor:
    """(B,) the larger of max_atomic_sd and intermol_force_sd, eV/Å."""
    return max_atomic_sd(c).maximum(intermol_force_sd(c))


MEASURES: dict[str, Callable[[Committee], Tensor]] = {
    "max_atomic_sd": max_atomic_sd,
    "mean_atomic_sd": mean_atomic_sd,
    "energy_sd_per_atom": energy_sd_per_atom,
    "intermol_force_sd": intermol_force_sd,
    "intermol_torque_sd": intermol_torque_sd,
    "max_atomic_or_intermol_sd": max_atomic_or_intermol_sd,
}
"""Measures `al.uncertainty` may name; each gives one value per system."""


def committee_uncertainty(c: Committee) -> dict[str, Tensor]:
    """Every measure of MEASURES, plus atomic_sd (A,) eV/Å and energy_sd (B,) eV."""
    out = {name: measure(c) for name, measure in MEASURES.items()}
    out["atomic_sd"] = c.atomic_sd
    out["energy_sd"] = energy_sd(c)
    return out
