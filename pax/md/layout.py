"""The static layout of a batch: atoms, masses, periodicity and integrator settings.

Everything here depends only on which systems are in the batch and their MD
settings, never on positions or velocities; it is rebuilt when a trajectory is
replaced by a different system.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms

from pax.errors import ConfigError
from pax.md.config import Integrator, MDConfig
from pax.md.quantities import FS, KB

log = logging.getLogger(__name__)


@dataclass
class Layout:
    """Per-atom and per-system constants of the batch (float64 on the MD device)."""

    numbers: torch.Tensor
    """(A,) int64 atomic numbers."""
    masses_amu: torch.Tensor
    """(A,) amu."""
    ptr: torch.Tensor
    """(N + 1,) int64 atom offsets of each system."""
    batch: torch.Tensor
    """(A,) int64 system of each atom."""
    pbc: torch.Tensor
    """(N, 3) bool."""
    dof: torch.Tensor
    """(N,) kinetic degrees of freedom (3n, less 3 when the COM motion is removed)."""
    integrator_systems: dict[Integrator, torch.Tensor]
    """(N,) bool per integrator in use: the systems it moves."""
    dt_fs: torch.Tensor
    """(A,) time step of each atom's system (fs)."""
    c1: torch.Tensor
    """(A,) exp(-friction dt) of the Langevin O step."""
    sigma: torch.Tensor
    """(A,) sqrt(kT/m) (Å/fs), the Maxwell-Boltzmann velocity spread."""
    fix_com: torch.Tensor
    """(N,) bool: remove the centre-of-mass motion."""
    temperature_K: torch.Tensor
    """(N,) target temperature (K)."""
    pressure_GPa: torch.Tensor
    """(N,) NPT target pressure (GPa)."""
    compressibility_per_GPa: torch.Tensor
    """(N,) NPT compressibility (1/GPa)."""
    barostat_time_fs: torch.Tensor
    """(N,) NPT barostat time (fs)."""
    thermostat_time_fs: torch.Tensor
    """(N,) NPT thermostat time (fs)."""
    dt_sys_fs: torch.Tensor
    """(N,) time step per system (fs)."""
    molecule: torch.Tensor
    """(A,) int64 molecule of each atom, numbered across all systems."""
    local_molecules: list[np.ndarray]
    """Per system, (n_i,) molecule of each atom within it (as given)."""

    @property
    def n_systems(self) -> int:
        """Number of trajectories N."""
        return self.ptr.numel() - 1

    def slice(self, i: int) -> slice:
        """The atoms of trajectory i."""
        return slice(int(self.ptr[i]), int(self.ptr[i + 1]))


def make_layout(
    numbers: list[np.ndarray],
    masses_amu: list[np.ndarray],
    pbc: list[np.ndarray],
    configs: list[MDConfig],
    device: torch.device,
    molecules: list[np.ndarray] | None = None,
) -> Layout:
    """The layout for systems given as per-system arrays and their MD settings.

    molecules: per system, the molecule of each atom (pax.md.molecules); None
    counts each system as one molecule.
    """
    f64 = dict(dtype=torch.float64, device=device)
    counts = torch.tensor([len(z) for z in numbers], dtype=torch.int64, device=device)
    ptr = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
    batch = torch.repeat_interleave(torch.arange(len(numbers), device=device), counts)
    masses = torch.tensor(np.concatenate(masses_amu), **f64)

    def per_system(fn) -> torch.Tensor:
        return torch.tensor([float(fn(c)) for c in configs], **f64)

    dt_sys = per_system(lambda c: c.timestep_fs)
    temp = per_system(lambda c: c.temperature_K)
    names = [Integrator(c.integrator) for c in configs]
    integrator_systems = {
        name: torch.tensor([n == name for n in names], dtype=torch.bool, device=device)
        for name in dict.fromkeys(names)
    }
    c1_sys = per_system(lambda c: math.exp(-c.friction_per_fs * c.timestep_fs))
    fix_com = torch.tensor(
        [c.fix_com for c in configs], dtype=torch.bool, device=device
    )
    dof = 3 * counts.to(torch.float64) - 3 * (fix_com & (counts > 1)).to(torch.float64)
    if molecules is None:
        molecules = [np.zeros(len(z), dtype=np.int64) for z in numbers]
    offsets = np.cumsum([0] + [int(m.max()) + 1 if len(m) else 0 for m in molecules])
    global_molecules = np.concatenate(
        [np.asarray(m, dtype=np.int64) + off for m, off in zip(molecules, offsets)]
    )
    return Layout(
        numbers=torch.tensor(np.concatenate(numbers), dtype=torch.int64, device=device),
        masses_amu=masses,
        ptr=ptr,
        batch=batch,
        pbc=torch.tensor(np.array(pbc), dtype=torch.bool, device=device),
        dof=dof,
        integrator_systems=integrator_systems,
        dt_fs=dt_sys[batch],
        c1=c1_sys[batch],
        sigma=torch.sqrt(KB * temp[batch] / masses) * FS,
        fix_com=fix_com,
        temperature_K=temp,
        pressure_GPa=per_system(lambda c: c.pressure_GPa),
        compressibility_per_GPa=per_system(lambda c: c.compressibility_per_GPa),
        barostat_time_fs=per_system(lambda c: c.barostat_time_fs),
        thermostat_time_fs=per_system(lambda c: c.thermostat_time_fs),
        dt_sys_fs=dt_sys,
        molecule=torch.tensor(global_molecules, dtype=torch.int64, device=device),
        local_molecules=[np.asarray(m, dtype=np.int64) for m in molecules],
    )


def check_system(atoms: Atoms, cfg: MDConfig, index: int) -> None:
    """Refuse combinations the integrators cannot handle.

    Raises:
        ConfigError: NPT on a system that is not periodic in all directions, or
            a periodic direction with a zero lattice vector.
    """
    pbc = np.asarray(atoms.pbc, dtype=bool)
    npt = (Integrator.npt, Integrator.isomtk, Integrator.mtk)
    if cfg.integrator in npt and not pbc.all():
        raise ConfigError(
            "md.integrator",
            cfg.integrator.value,
            f"needs a cell periodic in x, y and z (system {index} is not)",
        )
    lengths = np.linalg.norm(np.asarray(atoms.cell), axis=1)
    if (pbc & (lengths == 0)).any():
        raise ConfigError(
            "system.geometry", index, "a periodic direction has a zero lattice vector"
        )
