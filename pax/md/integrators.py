"""Integrator pieces over a batch of systems: kicks, drifts, thermostat, barostat.

Units: positions Å, velocities Å/fs, forces eV/Å, masses amu, energies eV,
temperatures K, times fs. Constants come from ase.units so that the dynamics
match ASE's to rounding.

One step of every integrator uses one force evaluation (forces at the start of
the step are those from the end of the previous one):

- nve: velocity Verlet  B(dt/2) A(dt) B(dt/2), as ase.md.verlet.VelocityVerlet.
- langevin: BAOAB (Leimkuhler and Matthews), B(dt/2) A(dt/2) O(dt) A(dt/2) B(dt/2),
  with O the exact Ornstein-Uhlenbeck update v <- c1 v + sqrt(1 - c1²) sqrt(kT/m) ξ,
  c1 = exp(-friction dt). Its configurational sampling error is O(dt²) small.
- npt: ase.md.nptberendsen.NPTBerendsen's isotropic Berendsen thermostat and
  barostat ahead of a velocity Verlet step; the pressure comes from the stress of
  the previous force evaluation (ASE evaluates the forces once more after the
  rescaling; the rescaling moves atoms by ~1e-6 of their coordinates per step).
"""

from __future__ import annotations

import logging

import torch
from ase import units

log = logging.getLogger(__name__)

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


def half_kick(
    velocities: torch.Tensor,
    forces: torch.Tensor,
    masses_amu: torch.Tensor,
    dt_fs: torch.Tensor,
    moving: torch.Tensor,
) -> torch.Tensor:
    """V + dt/2 F/m on the moving atoms (A,) bool; dt_fs (A,) per atom."""
    dv = (0.5 * dt_fs * ACCEL / masses_amu).unsqueeze(-1) * forces  # (A, 3) Å/fs
    return torch.where(moving.unsqueeze(-1), velocities + dv, velocities)


def drift(
    positions_A: torch.Tensor,
    velocities: torch.Tensor,
    dt_fs: torch.Tensor,
    moving: torch.Tensor,
) -> torch.Tensor:
    """X + dt v on the moving atoms; dt_fs (A,) per atom."""
    return torch.where(
        moving.unsqueeze(-1),
        positions_A + dt_fs.unsqueeze(-1) * velocities,
        positions_A,
    )


def ornstein_uhlenbeck(
    velocities: torch.Tensor,
    c1: torch.Tensor,
    sigma: torch.Tensor,
    noise: torch.Tensor,
    thermostatted: torch.Tensor,
) -> torch.Tensor:
    """The exact friction-and-noise update of the Langevin O step.

    Args:
        velocities: (A, 3) Å/fs.
        c1: (A,) exp(-friction dt).
        sigma: (A,) sqrt(kT/m) in Å/fs.
        noise: (A, 3) standard normal draws (zeros where not thermostatted).
        thermostatted: (A,) bool.
    """
    c2 = torch.sqrt(1 - c1.square())
    new = c1.unsqueeze(-1) * velocities + (c2 * sigma).unsqueeze(-1) * noise
    return torch.where(thermostatted.unsqueeze(-1), new, velocities)


def berendsen_velocity_scale(
    temperature_now_K: torch.Tensor,
    target_K: torch.Tensor,
    dt_fs: torch.Tensor,
    tau_fs: torch.Tensor,
) -> torch.Tensor:
    """ASE's NVTBerendsen scaling factor (N,), clipped to [0.9, 1.1]."""
    scale = torch.sqrt(1 + (target_K / temperature_now_K - 1) * dt_fs / tau_fs)
    return scale.clamp(0.9, 1.1)


def berendsen_cell_scale(
    stress: torch.Tensor,
    velocities: torch.Tensor,
    masses_amu: torch.Tensor,
    batch: torch.Tensor,
    cell_A: torch.Tensor,
    pressure_GPa: torch.Tensor,
    compressibility_per_GPa: torch.Tensor,
    dt_fs: torch.Tensor,
    tau_fs: torch.Tensor,
) -> torch.Tensor:
    """ASE's NPTBerendsen isotropic scaling factor (N,) of cells and positions.

    The pressure includes the ideal-gas (kinetic) term, as ASE's
    ``get_stress(include_ideal_gas=True)``.

    Args:
        stress: (N, 3, 3) eV/Å³ from the model.
        velocities: (A, 3) Å/fs.
        masses_amu: (A,).
        batch: (A,).
        cell_A: (N, 3, 3).
        pressure_GPa: (N,) target pressure.
        compressibility_per_GPa: (N,).
        dt_fs: (N,) time step.
        tau_fs: (N,) barostat time.
    """
    n = cell_A.shape[0]
    volume = torch.linalg.det(cell_A).abs()  # (N,) Å³
    v_ase = velocities / FS
    mvv = per_system_sum(
        masses_amu[:, None, None] * v_ase.unsqueeze(-1) * v_ase.unsqueeze(-2), batch, n
    )  # (N, 3, 3) eV
    total = stress - mvv / volume[:, None, None]
    pressure = -torch.diagonal(total, dim1=-2, dim2=-1).sum(-1) / 3  # (N,) eV/Å³
    beta = compressibility_per_GPa / GPA  # (N,) Å³/eV
    return 1 - dt_fs / tau_fs * beta / 3 * (pressure_GPa * GPA - pressure)
