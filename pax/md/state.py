"""The state of all trajectories as one dataclass, as in torch-sim.

Integrators (pax.md.integrators) and guards (pax.md.guards) are functions over
it, pax.md.persist saves, restores and re-lays it out, pax.md.engine drives it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms

from pax.md.config import MDConfig
from pax.md.layout import Layout, check_system, make_layout
from pax.md.molecules import molecule_ids
from pax.md.mtk import fresh_rows
from pax.md.neighbors import Candidates
from pax.md.quantities import (
    FS,
    kinetic_energy,
    maxwell_boltzmann,
    remove_com_velocity,
    temperature_K,
)

RUNNING, PAUSED, STOPPED = 0, 1, 2
"""Values of MDState.status."""


@dataclass
class MDState:
    """N trajectories with their atoms concatenated (float64 on the MD device).

    Everything a run needs to continue bit-identically; the layout says which
    atoms belong to which trajectory.
    """

    layout: Layout
    """Atoms, masses and MD settings of each trajectory."""
    positions_A: torch.Tensor
    """(A, 3) Å."""
    velocities: torch.Tensor
    """(A, 3) Å/fs."""
    cell_A: torch.Tensor
    """(N, 3, 3) Å."""
    forces: torch.Tensor
    """(A, 3) eV/Å driving forces at the last evaluation."""
    stress: torch.Tensor
    """(N, 3, 3) eV/Å³ driving stress at the last evaluation."""
    energy_eV: torch.Tensor
    """(N,) driving potential energy at the last evaluation (eV)."""
    forces_valid: np.ndarray
    """(N,) bool: forces, stress and energy belong to the current positions."""
    status: np.ndarray
    """(N,) int8: RUNNING, PAUSED or STOPPED."""
    reasons: list[str | None]
    """Why each stopped trajectory stopped (a pax.md.guards reason), else None."""
    steps: np.ndarray
    """(N,) int64 steps taken."""
    generators: list[torch.Generator]
    """One RNG per trajectory: initial velocities and Langevin noise."""
    mtk: torch.Tensor | None = None
    """(N, pax.md.mtk.WIDTH) chain variables of the isomtk integrator."""
    candidates: Candidates | None = None
    """Verlet candidate pairs (neighbour list with skin); None: build anew."""

    @property
    def device(self) -> torch.device:
        """Where the tensors live."""
        return self.positions_A.device

    @property
    def running(self) -> np.ndarray:
        """(N,) bool: trajectories that the integrators move."""
        return self.status == RUNNING

    @property
    def paused(self) -> np.ndarray:
        """(N,) bool: trajectories waiting (e.g. for a label)."""
        return self.status == PAUSED

    @property
    def stopped(self) -> np.ndarray:
        """(N,) bool: trajectories stopped by a guard."""
        return self.status == STOPPED

    def kinetic_energy_eV(self) -> torch.Tensor:
        """(N,) kinetic energy of each trajectory (eV)."""
        lay = self.layout
        return kinetic_energy(self.velocities, lay.masses_amu, lay.batch, lay.n_systems)

    def temperature_K(self) -> torch.Tensor:
        """(N,) instantaneous kinetic temperature of each trajectory (K)."""
        return temperature_K(self.kinetic_energy_eV(), self.layout.dof)


def new_state(
    systems: list[Atoms],
    configs: list[MDConfig],
    seeds: list[int],
    device: torch.device,
) -> MDState:
    """The state of these starting geometries; velocities from them or drawn.

    Raises:
        ConfigError: a system its integrator cannot handle (see check_system).
    """
    for i, (atoms, cfg) in enumerate(zip(systems, configs, strict=True)):
        check_system(atoms, cfg, i)
    layout = make_layout(
        [a.numbers for a in systems],
        [a.get_masses() for a in systems],
        [np.asarray(a.pbc, bool) for a in systems],
        configs,
        device,
        [molecule_ids(a) for a in systems],
    )
    f64 = dict(dtype=torch.float64, device=device)
    positions_A = torch.tensor(np.concatenate([a.positions for a in systems]), **f64)
    n = len(systems)
    state = MDState(
        layout=layout,
        positions_A=positions_A,
        velocities=torch.zeros_like(positions_A),
        cell_A=torch.tensor(np.array([a.cell.array for a in systems]), **f64),
        forces=torch.zeros_like(positions_A),
        stress=torch.zeros(n, 3, 3, **f64),
        energy_eV=torch.zeros(n, **f64),
        forces_valid=np.zeros(n, dtype=bool),
        status=np.zeros(n, dtype=np.int8),
        reasons=[None] * n,
        steps=np.zeros(n, dtype=np.int64),
        generators=[torch.Generator(device=device).manual_seed(int(s)) for s in seeds],
    )
    state.mtk = fresh_rows(state.cell_A)
    for i, (atoms, cfg) in enumerate(zip(systems, configs, strict=True)):
        state.velocities[layout.slice(i)] = initial_velocities(state, i, atoms, cfg)
    return state


def initial_velocities(
    state: MDState, i: int, atoms: Atoms, cfg: MDConfig
) -> torch.Tensor:
    """(n_i, 3) Å/fs: from atoms if set, else Maxwell-Boltzmann, zero momentum."""
    s, lay = state.layout.slice(i), state.layout
    if atoms.has("momenta"):
        return torch.tensor(
            atoms.get_velocities() * FS, dtype=torch.float64, device=state.device
        )
    v = maxwell_boltzmann(lay.masses_amu[s], cfg.temperature_K, state.generators[i])
    if cfg.fix_com and len(atoms) > 1:
        zeros = torch.zeros(len(atoms), dtype=torch.int64, device=state.device)
        v = remove_com_velocity(v, lay.masses_amu[s], zeros, 1)
    return v


def holds_system(state: MDState, i: int, atoms: Atoms) -> bool:
    """Whether slot i has the atoms (numbers and masses, in order) of atoms."""
    s, lay = state.layout.slice(i), state.layout
    return (
        len(atoms) == s.stop - s.start
        and np.array_equal(atoms.numbers, lay.numbers[s].cpu().numpy())
        and np.array_equal(atoms.get_masses(), lay.masses_amu[s].cpu().numpy())
    )


def place(state: MDState, i: int, atoms: Atoms, cfg: MDConfig) -> None:
    """Put atoms' geometry and velocities into slot i, which holds its system.

    Velocities are drawn when atoms has none. A stopped trajectory runs again;
    running or paused ones keep their status.
    """
    s = state.layout.slice(i)
    f64 = dict(dtype=torch.float64, device=state.device)
    state.positions_A[s] = torch.tensor(atoms.positions, **f64)
    state.cell_A[i] = torch.tensor(atoms.cell.array, **f64)
    state.mtk[i] = fresh_rows(state.cell_A[i : i + 1])[0]
    state.velocities[s] = initial_velocities(state, i, atoms, cfg)
    state.forces_valid[i] = False
    if state.status[i] == STOPPED:
        state.status[i], state.reasons[i] = RUNNING, None
    state.candidates = None


def to_atoms(state: MDState, i: int) -> Atoms:
    """The current geometry of trajectory i, with velocities and masses."""
    s, lay = state.layout.slice(i), state.layout
    atoms = Atoms(
        numbers=lay.numbers[s].cpu().numpy(),
        positions=state.positions_A[s].cpu().numpy(),
        cell=state.cell_A[i].cpu().numpy(),
        pbc=lay.pbc[i].cpu().numpy(),
        masses=lay.masses_amu[s].cpu().numpy(),
    )
    atoms.set_velocities((state.velocities[s] / FS).cpu().numpy())
    atoms.info.update(md_trajectory=i, md_step=int(state.steps[i]))
    return atoms
