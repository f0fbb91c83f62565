"""BatchedMD: many trajectories, K ensemble members, one batched evaluation per step."""

from __future__ import annotations

import logging

import numpy as np
import torch
from ase import Atoms

from pax.errors import ConfigError
from pax.md import guards, neighbors
from pax.md import integrators as ig
from pax.md.config import DrivingForce, MDConfig
from pax.md.forces import Graph, MemberOutputs, committee_stats, evaluate
from pax.md.layout import check_system, make_layout
from pax.md.subset import Subset, make_subset
from pax.mlff.fast_product import for_inference

log = logging.getLogger(__name__)

RUNNING, PAUSED, STOPPED = 0, 1, 2
CPU_BATCH_ATOMS = 256
"""Default atoms per CPU model evaluation (scripts/bench/md.py: 8-16 aspirins
per sub-batch ran 25-35% faster than 32 at once)."""


class BatchedMD:
    """N trajectories propagated together on the forces of K MACE members.

    Each step evaluates the driving force (the member mean, or one member) on
    one graph batch of all running trajectories. Paused and stopped
    trajectories keep their state and are left out of the batch.
    """

    def __init__(
        self,
        cfg: MDConfig,
        models: list[torch.nn.Module],
        systems: list[Atoms],
        seeds: list[int] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        per_system: list[MDConfig] | None = None,
    ) -> None:
        """Set up the trajectories; velocities come from the Atoms or are drawn.

        Args:
            cfg: MD settings; its driving_force applies to the whole batch.
            models: the ensemble members (mace.modules.MACE or alike).
            systems: starting geometries, one per trajectory.
            seeds: one RNG seed per trajectory (default cfg.seed + i).
            device: where the state lives (default: the models' device).
            dtype: evaluate the models in this dtype (default: each model's own).
            per_system: MD settings per trajectory (default cfg for all).
        """
        if not systems:
            raise ConfigError(
                "system.geometry", [], "BatchedMD needs at least one system"
            )
        self.cfg = cfg
        self.configs = (
            list(per_system) if per_system is not None else [cfg] * len(systems)
        )
        if len(self.configs) != len(systems):
            raise ConfigError(
                "md", len(self.configs), f"per_system needs {len(systems)} configs"
            )
        self.device = (
            torch.device(device) if device else next(models[0].parameters()).device
        )
        self.dtype = dtype
        self.max_batch_atoms = cfg.max_batch_atoms or (
            CPU_BATCH_ATOMS if self.device.type == "cpu" else None
        )
        self.set_models(models)
        n = len(systems)
        seeds = (
            [c.seed + i for i, c in enumerate(self.configs)] if seeds is None else seeds
        )
        self._generators = [
            torch.Generator(device=self.device).manual_seed(int(s)) for s in seeds
        ]
        for i, (atoms, c) in enumerate(zip(systems, self.configs, strict=True)):
            check_system(atoms, c, i)
        self.layout = make_layout(
            [a.numbers for a in systems],
            [a.get_masses() for a in systems],
            [np.asarray(a.pbc, bool) for a in systems],
            self.configs,
            self.device,
        )
        f64 = dict(dtype=torch.float64, device=self.device)
        self.positions_A = torch.tensor(
            np.concatenate([a.positions for a in systems]), **f64
        )
        self.cell_A = torch.tensor(np.array([a.cell.array for a in systems]), **f64)
        self.velocities = torch.zeros_like(self.positions_A)  # (A, 3) Å/fs
        self.forces = torch.zeros_like(self.positions_A)  # (A, 3) eV/Å driving forces
        self.stress = torch.zeros(n, 3, 3, **f64)  # (N, 3, 3) eV/Å³ driving stress
        self.energy_eV = torch.zeros(n, **f64)  # (N,) driving potential energy
        self._forces_valid = np.zeros(n, dtype=bool)
        self._status = np.zeros(n, dtype=np.int8)
        self._reasons: list[str | None] = [None] * n
        self.steps = np.zeros(n, dtype=np.int64)
        self._cand: neighbors.Candidates | None = None
        self._subset: Subset | None = None
        self._members: MemberOutputs | None = None  # all members, current positions
        self._members_key = b""  # the running mask _members was evaluated for
        for i, atoms in enumerate(systems):
            self.velocities[self.layout.slice(i)] = self._initial_velocities(i, atoms)

    # ----------------------------------------------------------------- public
    @property
    def running(self) -> np.ndarray:
        """(N,) bool: trajectories that advance() moves."""
        return self._status == RUNNING

    @property
    def paused(self) -> np.ndarray:
        """(N,) bool: trajectories waiting (e.g. for a label)."""
        return self._status == PAUSED

    @property
    def stopped(self) -> np.ndarray:
        """(N,) bool: trajectories stopped by a guard; see stop_reason."""
        return self._status == STOPPED

    def stop_reason(self, i: int) -> str | None:
        """Why trajectory i stopped (see pax.md.guards)."""
        return self._reasons[i]

    def pause(self, i: int) -> None:
        """Leave trajectory i out of the steps until resume(i)."""
        if self._status[i] == RUNNING:
            self._status[i] = PAUSED

    def resume(self, i: int) -> None:
        """Let a paused trajectory move again (a stopped one needs reset)."""
        if self._status[i] == PAUSED:
            self._status[i] = RUNNING

    def set_models(self, models: list[torch.nn.Module]) -> None:
        """Use these members from now on (after retraining); trajectories are kept."""
        if not models:
            raise ConfigError("mlff.ensemble_size", 0, "MD needs at least one model")
        if (
            self.cfg.driving_force == DrivingForce.member
            and self.cfg.driving_member >= len(models)
        ):
            raise ConfigError(
                "md.driving_member",
                self.cfg.driving_member,
                f"only {len(models)} members",
            )
        cutoffs = sorted({float(m.r_max) for m in models})
        if len(cutoffs) != 1:
            raise ConfigError("mlff.r_max", cutoffs, "members disagree on the cutoff")
        if getattr(self, "r_max_A", None) != cutoffs[0]:
            self._cand = None
        self.r_max_A = cutoffs[0]
        self.models = (
            [for_inference(m) for m in models]
            if self.cfg.element_contraction
            else list(models)
        )
        self._members = None
        if hasattr(self, "_forces_valid"):
            self._forces_valid[:] = False

    def advance(self, steps: int) -> None:
        """Integrate every running trajectory by this many steps."""
        for _ in range(int(steps)):
            if not self.running.any():
                return
            self._step()

    def atoms(self, i: int) -> Atoms:
        """The current geometry of trajectory i, with velocities and masses."""
        s, lay = self.layout.slice(i), self.layout
        atoms = Atoms(
            numbers=lay.numbers[s].cpu().numpy(),
            positions=self.positions_A[s].cpu().numpy(),
            cell=self.cell_A[i].cpu().numpy(),
            pbc=lay.pbc[i].cpu().numpy(),
            masses=lay.masses_amu[s].cpu().numpy(),
        )
        atoms.set_velocities((self.velocities[s] / ig.FS).cpu().numpy())
        atoms.info.update(md_trajectory=i, md_step=int(self.steps[i]))
        return atoms

    def reset(self, i: int, atoms: Atoms) -> None:
        """Restart trajectory i from this geometry (same or different system).

        Velocities are taken from atoms when it has them, else drawn at the
        trajectory's temperature. A stopped trajectory runs again; running or
        paused ones keep their status.
        """
        check_system(atoms, self.configs[i], i)
        s = self.layout.slice(i)
        same = len(atoms) == s.stop - s.start and np.array_equal(
            atoms.numbers, self.layout.numbers[s].cpu().numpy()
        )
        if not same or not np.array_equal(
            atoms.get_masses(), self.layout.masses_amu[s].cpu().numpy()
        ):
            self._relayout(i, atoms)
            s = self.layout.slice(i)
        f64 = dict(dtype=torch.float64, device=self.device)
        self.positions_A[s] = torch.tensor(atoms.positions, **f64)
        self.cell_A[i] = torch.tensor(atoms.cell.array, **f64)
        self.velocities[s] = self._initial_velocities(i, atoms)
        self._forces_valid[i] = False
        if self._status[i] == STOPPED:
            self._status[i], self._reasons[i] = RUNNING, None
        self._cand, self._members = None, None

    def uncertainty(self) -> dict:
        """Committee statistics of every running trajectory at its current positions.

        Returns:
            max_atomic_sd, mean_atomic_sd (eV/Å) and energy_sd (eV) as (N,) arrays,
            NaN for trajectories that are not running; atomic_sd, a list of (n_i,)
            arrays (eV/Å), empty for those not running.
        """
        n = self.layout.n_systems
        out = {
            k: np.full(n, np.nan)
            for k in ("max_atomic_sd", "mean_atomic_sd", "energy_sd")
        }
        out["atomic_sd"] = [np.zeros(0) for _ in range(n)]
        if not self.running.any():
            return out
        sub = self._current_subset()
        if self._members is None or self._members_key != sub.key:
            self._members = evaluate(
                self.models, self._graph(sub), False, self.dtype, self.max_batch_atoms
            )
            self._members_key = sub.key
        stats = committee_stats(self._members, sub.batch, sub.n_systems)
        atomic = stats["atomic_sd"].cpu().numpy()
        ptr = sub.ptr.cpu().numpy()
        for j, i in enumerate(sub.systems.tolist()):
            for key in ("max_atomic_sd", "mean_atomic_sd", "energy_sd"):
                out[key][i] = float(stats[key][j])
            out["atomic_sd"][i] = atomic[ptr[j] : ptr[j + 1]]
        return out

    def temperatures_K(self) -> np.ndarray:
        """(N,) instantaneous kinetic temperature of each trajectory (K)."""
        lay = self.layout
        kin = ig.kinetic_energy(
            self.velocities, lay.masses_amu, lay.batch, lay.n_systems
        )
        return ig.temperature_K(kin, lay.dof).cpu().numpy()

    def total_energies_eV(self) -> np.ndarray:
        """(N,) driving potential plus kinetic energy (eV) at the last evaluation."""
        lay = self.layout
        kin = ig.kinetic_energy(
            self.velocities, lay.masses_amu, lay.batch, lay.n_systems
        )
        return (self.energy_eV + kin).cpu().numpy()

    def state_dict(self) -> dict:
        """Everything that moves: restoring it continues bit-identically."""
        from pax.md.persist import dump

        return dump(self)

    def load_state_dict(self, state: dict) -> None:
        """Restore a state_dict() taken from a BatchedMD with the same settings."""
        from pax.md.persist import load

        load(self, state)

    # --------------------------------------------------------------- internal
    def _initial_velocities(self, i: int, atoms: Atoms) -> torch.Tensor:
        """(n_i, 3) Å/fs: from atoms if set, else Maxwell-Boltzmann, zero momentum."""
        s, lay = self.layout.slice(i), self.layout
        if atoms.has("momenta"):
            return torch.tensor(
                atoms.get_velocities() * ig.FS, dtype=torch.float64, device=self.device
            )
        v = ig.maxwell_boltzmann(
            lay.masses_amu[s], self.configs[i].temperature_K, self._generators[i]
        )
        if self.configs[i].fix_com and len(atoms) > 1:
            zeros = torch.zeros(len(atoms), dtype=torch.int64, device=self.device)
            v = ig.remove_com_velocity(v, lay.masses_amu[s], zeros, 1)
        return v

    def _relayout(self, i: int, atoms: Atoms) -> None:
        """Replace system i by a different one (other atoms or masses)."""
        from pax.md.persist import splice

        splice(self, i, atoms)

    def _current_subset(self) -> Subset:
        """Neighbour candidates up to date and the running subset graph cached."""
        lay = self.layout
        if self._cand is None or neighbors.needs_rebuild(
            self._cand,
            self.positions_A,
            self.cell_A,
            lay.batch,
            self.cfg.neighbor_skin_A,
        ):
            self.positions_A = neighbors.wrap_positions(
                self.positions_A, self.cell_A, lay.pbc, lay.batch
            )
            self._cand = neighbors.build(
                self.positions_A,
                lay.ptr,
                self.cell_A,
                lay.pbc,
                self.r_max_A + self.cfg.neighbor_skin_A,
            )
            self._subset = None
        key = self.running.tobytes()
        if self._subset is None or self._subset.key != key:
            self._subset = make_subset(self._cand, lay, self.running, key)
        return self._subset

    def _graph(self, sub: Subset) -> Graph:
        """The model input for the running trajectories at the current positions."""
        positions = self.positions_A[sub.atoms]
        cell = self.cell_A[sub.systems]
        edge_index, shifts, unit_shifts = neighbors.within(
            sub.cand, positions, cell, sub.edge_system, self.r_max_A
        )
        return Graph(
            positions,
            sub.numbers,
            edge_index,
            shifts,
            unit_shifts,
            cell,
            sub.batch,
            sub.ptr,
        )

    def _evaluate_driving(self) -> None:
        """Driving forces (and stress, energy) of all running trajectories."""
        sub = self._current_subset()
        stress = bool(self.layout.pbc[sub.systems].any())
        if self.cfg.driving_force == DrivingForce.member:
            out = evaluate(
                [self.models[self.cfg.driving_member]],
                self._graph(sub),
                stress,
                self.dtype,
                self.max_batch_atoms,
            )
            self._members = None
        else:
            out = evaluate(
                self.models, self._graph(sub), stress, self.dtype, self.max_batch_atoms
            )
            self._members, self._members_key = out, sub.key
        self.forces[sub.atoms] = out.forces.mean(0)
        self.energy_eV[sub.systems] = out.energy_eV.mean(0)
        if out.stress is not None:
            self.stress[sub.systems] = out.stress.mean(0)
        self._forces_valid[sub.systems.cpu().numpy()] = True

    def _step(self) -> None:
        """One step of every running trajectory."""
        lay = self.layout
        if not self._forces_valid[self.running].all():
            self._evaluate_driving()
        run_sys = torch.as_tensor(self.running, device=self.device)
        moving = run_sys[lay.batch]  # (A,) bool
        if bool((lay.npt & run_sys).any()):
            self._berendsen(lay.npt & run_sys)
        self.velocities = ig.half_kick(
            self.velocities, self.forces, lay.masses_amu, lay.dt_fs, moving
        )
        thermo = moving & lay.langevin
        first = torch.where(lay.langevin, 0.5 * lay.dt_fs, lay.dt_fs)
        self.positions_A = ig.drift(self.positions_A, self.velocities, first, moving)
        if bool(thermo.any()):
            self._langevin_kick(run_sys, thermo)
            self.positions_A = ig.drift(
                self.positions_A, self.velocities, 0.5 * lay.dt_fs, thermo
            )
        self._members = None
        self._evaluate_driving()
        self.velocities = ig.half_kick(
            self.velocities, self.forces, lay.masses_amu, lay.dt_fs, moving
        )
        self.steps[self.running] += 1
        self._guard()

    def _langevin_kick(self, run_sys: torch.Tensor, thermo: torch.Tensor) -> None:
        lay = self.layout
        noise = torch.zeros_like(self.velocities)
        for i in torch.nonzero(run_sys & lay.langevin[lay.ptr[:-1]]).flatten().tolist():
            s = lay.slice(i)
            noise[s] = torch.randn(
                (s.stop - s.start, 3),
                generator=self._generators[i],
                dtype=torch.float64,
                device=self.device,
            )
        v = ig.ornstein_uhlenbeck(self.velocities, lay.c1, lay.sigma, noise, thermo)
        fix = thermo & lay.fix_com[lay.batch]
        if bool(fix.any()):
            v = torch.where(
                fix.unsqueeze(-1),
                ig.remove_com_velocity(v, lay.masses_amu, lay.batch, lay.n_systems),
                v,
            )
        self.velocities = v

    def _berendsen(self, npt_sys: torch.Tensor) -> None:
        """ASE NPTBerendsen: rescale velocities, then cells and positions."""
        lay = self.layout
        kin = ig.kinetic_energy(
            self.velocities, lay.masses_amu, lay.batch, lay.n_systems
        )
        temp = ig.temperature_K(kin, lay.dof)
        scale_v = ig.berendsen_velocity_scale(
            temp, lay.temperature_K, lay.dt_sys_fs, lay.thermostat_time_fs
        )
        scale_v = torch.where(npt_sys, scale_v, torch.ones_like(scale_v))
        self.velocities = self.velocities * scale_v[lay.batch].unsqueeze(-1)
        mu = ig.berendsen_cell_scale(
            self.stress,
            self.velocities,
            lay.masses_amu,
            lay.batch,
            self.cell_A,
            lay.pressure_GPa,
            lay.compressibility_per_GPa,
            lay.dt_sys_fs,
            lay.barostat_time_fs,
        )
        mu = torch.where(npt_sys, mu, torch.ones_like(mu))
        self.cell_A = self.cell_A * mu[:, None, None]
        self.positions_A = self.positions_A * mu[lay.batch].unsqueeze(-1)

    def _guard(self) -> None:
        """Stop trajectories: NaN forces, runaway temperature, lost or fused atoms."""
        lay, cfg = self.layout, self.cfg
        bad = guards.non_finite(self.positions_A, self.forces, lay).cpu().numpy()
        checks = [(guards.NAN, bad)]
        if int(self.steps[self.running].max(initial=0)) % cfg.check_every == 0:
            checks.append(
                (
                    guards.HOT,
                    guards.too_hot(self.velocities, lay, cfg.max_temperature_K)
                    .cpu()
                    .numpy(),
                )
            )
            checks.append(
                (
                    guards.APART,
                    guards.flew_apart(self.positions_A, lay, cfg.max_bond_stretch_A)
                    .cpu()
                    .numpy(),
                )
            )
            checks.append(
                (
                    guards.COLLIDED,
                    guards.collided(self.positions_A, lay, cfg.min_distance_A)
                    .cpu()
                    .numpy(),
                )
            )
        for reason, flagged in checks:
            for i in np.flatnonzero(flagged & self.running):
                self._status[i], self._reasons[i] = STOPPED, reason
                log.warning(
                    "trajectory %d stopped at step %d: %s", i, self.steps[i], reason
                )
