"""Integrators over the MD state, registered by name (`md.integrator`).

Units as in pax.md.quantities. One step of every integrator uses one force
evaluation (forces at the start of the step are those from the end of the
previous one):

- nve: velocity Verlet  B(dt/2) A(dt) B(dt/2), as ase.md.verlet.VelocityVerlet.
- langevin: BAOAB (Leimkuhler and Matthews), B(dt/2) A(dt/2) O(dt) A(dt/2) B(dt/2),
  with O the exact Ornstein-Uhlenbeck update v <- c1 v + sqrt(1 - c1²) sqrt(kT/m) ξ,
  c1 = exp(-friction dt). Its configurational sampling error is O(dt²) small.
- isomtk, mtk: Martyna-Tobias-Klein NPT with Nose-Hoover chains, isotropic or
  full cell, as ase.md.nose_hoover_chain.IsotropicMTKNPT and MTKNPT (pax.md.mtk).
- npt: ase.md.nptberendsen.NPTBerendsen's isotropic Berendsen thermostat and
  barostat ahead of a velocity Verlet step; the pressure comes from the stress of
  the previous force evaluation (ASE evaluates the forces once more after the
  rescaling; the rescaling moves atoms by ~1e-6 of their coordinates per step).

An integrator is a generator function `step(state, systems)`: it moves the
trajectories in `systems` ((N,) bool) up to where the step needs new forces,
yields, and ends the step once the engine has put the driving forces there into
the state. The engine evaluates the forces of the whole batch at once, whatever
mix of integrators it holds. Adding an integrator: one such function, its line
in INTEGRATORS and its name in pax.md.config.Integrator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from pax.md.config import Integrator
from pax.md.mtk import isomtk, mtk
from pax.md.quantities import ACCEL, FS, GPA, per_system_sum, remove_com_velocity
from pax.md.state import MDState


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


def kick(state: MDState, atoms: torch.Tensor) -> None:
    """B(dt/2): half a time step of the driving forces on atoms ((A,) bool)."""
    lay = state.layout
    state.velocities = half_kick(
        state.velocities, state.forces, lay.masses_amu, lay.dt_fs, atoms
    )


def thermalise(state: MDState, systems: torch.Tensor) -> None:
    """O(dt): the Langevin friction and noise on these systems ((N,) bool)."""
    lay = state.layout
    atoms = systems[lay.batch]
    noise = torch.zeros_like(state.velocities)
    for i in torch.nonzero(systems).flatten().tolist():
        s = lay.slice(i)
        noise[s] = torch.randn(
            (s.stop - s.start, 3),
            generator=state.generators[i],
            dtype=torch.float64,
            device=state.device,
        )
    v = ornstein_uhlenbeck(state.velocities, lay.c1, lay.sigma, noise, atoms)
    fix = atoms & lay.fix_com[lay.batch]
    if bool(fix.any()):
        v = torch.where(
            fix.unsqueeze(-1),
            remove_com_velocity(v, lay.masses_amu, lay.batch, lay.n_systems),
            v,
        )
    state.velocities = v


def berendsen(state: MDState, systems: torch.Tensor) -> None:
    """ASE NPTBerendsen on these systems: rescale velocities, then cells and atoms."""
    lay = state.layout
    scale_v = berendsen_velocity_scale(
        state.temperature_K(), lay.temperature_K, lay.dt_sys_fs, lay.thermostat_time_fs
    )
    scale_v = torch.where(systems, scale_v, torch.ones_like(scale_v))
    state.velocities = state.velocities * scale_v[lay.batch].unsqueeze(-1)
    mu = berendsen_cell_scale(
        state.stress,
        state.velocities,
        lay.masses_amu,
        lay.batch,
        state.cell_A,
        lay.pressure_GPa,
        lay.compressibility_per_GPa,
        lay.dt_sys_fs,
        lay.barostat_time_fs,
    )
    mu = torch.where(systems, mu, torch.ones_like(mu))
    state.cell_A = state.cell_A * mu[:, None, None]
    state.positions_A = state.positions_A * mu[lay.batch].unsqueeze(-1)


def nve(state: MDState, systems: torch.Tensor) -> Iterator[None]:
    """Velocity Verlet: B(dt/2) A(dt), forces, B(dt/2)."""
    lay = state.layout
    atoms = systems[lay.batch]
    kick(state, atoms)
    state.positions_A = drift(state.positions_A, state.velocities, lay.dt_fs, atoms)
    yield
    kick(state, atoms)


def langevin(state: MDState, systems: torch.Tensor) -> Iterator[None]:
    """BAOAB: B(dt/2) A(dt/2) O(dt) A(dt/2), forces, B(dt/2)."""
    lay = state.layout
    atoms = systems[lay.batch]
    half_dt_fs = 0.5 * lay.dt_fs
    kick(state, atoms)
    state.positions_A = drift(state.positions_A, state.velocities, half_dt_fs, atoms)
    thermalise(state, systems)
    state.positions_A = drift(state.positions_A, state.velocities, half_dt_fs, atoms)
    yield
    kick(state, atoms)


def npt(state: MDState, systems: torch.Tensor) -> Iterator[None]:
    """Berendsen thermostat and barostat, then a velocity Verlet step."""
    berendsen(state, systems)
    yield from nve(state, systems)


Step = Callable[[MDState, torch.Tensor], Iterator[None]]

INTEGRATORS: dict[Integrator, Step] = {
    Integrator.nve: nve,
    Integrator.langevin: langevin,
    Integrator.npt: npt,
    Integrator.isomtk: isomtk,
    Integrator.mtk: mtk,
}
"""The integrator of each `md.integrator` value."""
