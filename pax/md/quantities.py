"""Units and per-system quantities of a batch: sums, kinetic energy, temperature.

Units: positions Å, velocities Å/fs, forces eV/Å, masses amu, energies eV,
temperatures K, times fs. Constants come from ase.units so that the dynamics
match ASE's to rounding.
"""

from __future__ import annotations

import torch
from ase import units

FS = units.fs
"""One fs in ASE time units; v[Å/fs] = v_ase * FS."""
ACCEL = units.fs**2
"""(eV/Å)/amu -> Å/fs²."""
KB = units.kB
"""Boltzmann constant (eV/K)."""
GPA = units.GPa
"""One GPa in eV/Å³."""


def per_system_sum(
    values: torch.Tensor, batch: torch.Tensor, n_systems: int
) -> torch.Tensor:
    """Sum of per-atom values (A, ...) into (N, ...)."""
    out = values.new_zeros((n_systems, *values.shape[1:]))
    return out.index_add(0, batch, values)


def maxwell_boltzmann(
    masses_amu: torch.Tensor, temperature_K: float, generator: torch.Generator
) -> torch.Tensor:
    """Velocities (n, 3) Å/fs drawn from the Maxwell-Boltzmann distribution."""
    sigma = torch.sqrt(KB * temperature_K / masses_amu) * FS  # (n,) Å/fs
    noise = torch.randn(
        (masses_amu.numel(), 3),
        generator=generator,
        dtype=masses_amu.dtype,
        device=masses_amu.device,
    )
    return noise * sigma.unsqueeze(-1)


def remove_com_velocity(
    velocities: torch.Tensor,
    masses_amu: torch.Tensor,
    batch: torch.Tensor,
    n_systems: int,
) -> torch.Tensor:
    """Velocities (A, 3) Å/fs with each system's centre-of-mass motion removed."""
    momentum = per_system_sum(velocities * masses_amu.unsqueeze(-1), batch, n_systems)
    total_mass = per_system_sum(masses_amu, batch, n_systems)  # (N,) amu
    return velocities - (momentum / total_mass.unsqueeze(-1))[batch]


def kinetic_energy(
    velocities: torch.Tensor,
    masses_amu: torch.Tensor,
    batch: torch.Tensor,
    n_systems: int,
) -> torch.Tensor:
    """Kinetic energy (N,) eV of each system."""
    per_atom = 0.5 * masses_amu * velocities.square().sum(-1) / FS**2  # (A,) eV
    return per_system_sum(per_atom, batch, n_systems)


def temperature_K(kinetic_eV: torch.Tensor, dof: torch.Tensor) -> torch.Tensor:
    """Kinetic temperature (N,) K from kinetic energies (N,) eV and (N,) dof."""
    return 2 * kinetic_eV / (dof * KB)
