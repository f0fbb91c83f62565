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
    molecule = c.molecule if c.molecule is not None else c.batch
    n_mol = int(molecule.max()) + 1
    k = c.forces.shape[0]
    totals = c.forces.new_zeros(k, n_mol, 3).index_add_(1, molecule, c.forces)
    dev = totals - totals.mean(0, keepdim=True)  # (K, M, 3) eV/Å
    sd = dev.square().mean(dim=(0, 2)).sqrt()  # (M,) eV/Å
    system = molecule.new_zeros(n_mol).scatter_reduce(
        0, molecule, c.batch, "amax", include_self=False
    )  # (M,) system of each molecule
    zeros = sd.new_zeros(c.n_systems)
    return zeros.scatter_reduce(0, system, sd, "amax", include_self=True)


def max_atomic_or_intermol_sd(c: Committee) -> Tensor:
    """(B,) the larger of max_atomic_sd and intermol_force_sd, eV/Å."""
    return max_atomic_sd(c).maximum(intermol_force_sd(c))


MEASURES: dict[str, Callable[[Committee], Tensor]] = {
    "max_atomic_sd": max_atomic_sd,
    "mean_atomic_sd": mean_atomic_sd,
    "energy_sd_per_atom": energy_sd_per_atom,
    "intermol_force_sd": intermol_force_sd,
    "max_atomic_or_intermol_sd": max_atomic_or_intermol_sd,
}
"""Measures `al.uncertainty` may name; each gives one value per system."""


def committee_uncertainty(c: Committee) -> dict[str, Tensor]:
    """Every measure of MEASURES, plus atomic_sd (A,) eV/Å and energy_sd (B,) eV."""
    out = {name: measure(c) for name, measure in MEASURES.items()}
    out["atomic_sd"] = c.atomic_sd
    out["energy_sd"] = energy_sd(c)
    return out
