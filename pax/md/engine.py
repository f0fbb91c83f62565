"""BatchedMD: many trajectories, K ensemble members, one batched evaluation per step.

The trajectories live in an MDState (pax.md.state); each step runs the
integrator registered for each trajectory's `md.integrator` and the guards
(pax.md.guards) over it.
"""

from __future__ import annotations

import numpy as np
import torch
from ase import Atoms

from pax.al.uncertainty import MEASURES
from pax.errors import ConfigError
from pax.md.config import DrivingForce, MDConfig
from pax.md.forces import Graph, MemberOutputs, committee_stats, evaluate
from pax.md.guards import stop_broken
from pax.md.integrators import INTEGRATORS
from pax.md.layout import check_system
from pax.md.neighbors import build, needs_rebuild, within, wrap_positions
from pax.md.persist import dump, load, splice
from pax.md.state import (
    PAUSED,
    RUNNING,
    MDState,
    holds_system,
    new_state,
    place,
    to_atoms,
)
from pax.md.subset import Subset, make_subset
from pax.mlff.fast_product import for_inference
from pax.mlff.graphs import CPU_BATCH_ATOMS

PER_SYSTEM = (*MEASURES, "energy_sd")
"""The committee statistics `uncertainty()` reports per trajectory."""


class BatchedMD:
    """N trajectories propagated together on the forces of K MACE members.

    Each step evaluates the driving force (the member mean, or one member) on
    one graph batch of all running trajectories. Paused and stopped
    trajectories keep their state and are left out of the batch. `state` (an
    MDState) holds all trajectories; the models and caches stay here.
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
        driver=None,
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
            driver: the ASE calculator that propagates the trajectories when
                cfg.driving_force is foundation (one call per trajectory and step).
        """
        if not systems:
            raise ConfigError(
                "system.geometry", [], "BatchedMD needs at least one system"
            )
        self.cfg = cfg
        if (cfg.driving_force == DrivingForce.foundation) != (driver is not None):
            raise ConfigError(
                "md.driving_force",
                cfg.driving_force.value,
                "foundation needs a driver calculator (and only it takes one)",
            )
        self.driver = driver
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
        self.r_max_A: float | None = None
        self.set_models(models)
        seeds = (
            [c.seed + i for i, c in enumerate(self.configs)] if seeds is None else seeds
        )
        self.state: MDState = new_state(systems, self.configs, seeds, self.device)
        self._subset: Subset | None = None  # the running batch of state.candidates
        self._members: MemberOutputs | None = None  # all members, current positions
        self._members_key = b""  # the running mask _members was evaluated for

    # ----------------------------------------------------------------- public
    @property
    def running(self) -> np.ndarray:
        """(N,) bool: trajectories that advance() moves."""
        return self.state.running

    @property
    def paused(self) -> np.ndarray:
        """(N,) bool: trajectories waiting (e.g. for a label)."""
        return self.state.paused

    @property
    def stopped(self) -> np.ndarray:
        """(N,) bool: trajectories stopped by a guard; see stop_reason."""
        return self.state.stopped

    @property
    def steps(self) -> np.ndarray:
        """(N,) int64 steps each trajectory has taken."""
        return self.state.steps

    def stop_reason(self, i: int) -> str | None:
        """Why trajectory i stopped (see pax.md.guards)."""
        return self.state.reasons[i]

    def pause(self, i: int) -> None:
        """Leave trajectory i out of the steps until resume(i)."""
        if self.state.status[i] == RUNNING:
            self.state.status[i] = PAUSED

    def resume(self, i: int) -> None:
        """Let a paused trajectory move again (a stopped one needs reset)."""
        if self.state.status[i] == PAUSED:
            self.state.status[i] = RUNNING

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
        self.models = (
            [for_inference(m) for m in models]
            if self.cfg.element_contraction
            else list(models)
        )
        self._members = None
        if self.r_max_A is not None:  # trajectories exist: their forces are stale
            self.state.forces_valid[:] = False
            if self.r_max_A != cutoffs[0]:
                self.state.candidates = None
        self.r_max_A = cutoffs[0]

    def advance(self, steps: int) -> None:
        """Integrate every running trajectory by this many steps."""
        for _ in range(int(steps)):
            if not self.running.any():
                return
            self._step()

    def atoms(self, i: int) -> Atoms:
        """The current geometry of trajectory i, with velocities and masses."""
        return to_atoms(self.state, i)

    def reset(self, i: int, atoms: Atoms) -> None:
        """Restart trajectory i from this geometry (same or different system).

        Velocities are taken from atoms when it has them, else drawn at the
        trajectory's temperature. A stopped trajectory runs again; running or
        paused ones keep their status.
        """
        check_system(atoms, self.configs[i], i)
        if not holds_system(self.state, i, atoms):
            splice(self.state, i, atoms, self.configs)
        place(self.state, i, atoms, self.configs[i])
        self._members = None

    def uncertainty(self) -> dict:
        """Committee statistics of every running trajectory at its current positions.

        Returns:
            Each measure of pax.al.uncertainty.MEASURES and energy_sd (eV) as (N,)
            arrays, NaN for trajectories that are not running; atomic_sd, a list
            of (n_i,) arrays (eV/Å), empty for those not running.
        """
        n = self.state.layout.n_systems
        out = {k: np.full(n, np.nan) for k in PER_SYSTEM}
        out["atomic_sd"] = [np.zeros(0) for _ in range(n)]
        if not self.running.any():
            return out
        sub = self._current_subset()
        if self._members is None or self._members_key != sub.key:
            self._members = evaluate(
                self.models, self._graph(sub), False, self.dtype, self.max_batch_atoms
            )
            self._members_key = sub.key
        lay = self.state.layout
        geometry = {
            "positions": self.state.positions_A[sub.atoms],
            "masses": lay.masses_amu[sub.atoms],
            "cells": self.state.cell_A[sub.systems],
            "pbc": lay.pbc[sub.systems],
        }
        stats = committee_stats(
            self._members, sub.batch, sub.n_systems, lay.molecule[sub.atoms], geometry
        )
        atomic = stats["atomic_sd"].cpu().numpy()
        ptr = sub.ptr.cpu().numpy()
        for j, i in enumerate(sub.systems.tolist()):
            for key in PER_SYSTEM:
                out[key][i] = float(stats[key][j])
            out["atomic_sd"][i] = atomic[ptr[j] : ptr[j + 1]]
        return out

    def temperatures_K(self) -> np.ndarray:
        """(N,) instantaneous kinetic temperature of each trajectory (K)."""
        return self.state.temperature_K().cpu().numpy()

    def total_energies_eV(self) -> np.ndarray:
        """(N,) driving potential plus kinetic energy (eV) at the last evaluation."""
        return (self.state.energy_eV + self.state.kinetic_energy_eV()).cpu().numpy()

    def state_dict(self) -> dict:
        """Everything that moves: restoring it continues bit-identically."""
        return dump(self.state)

    def load_state_dict(self, state: dict) -> None:
        """Restore a state_dict() taken from a BatchedMD with the same settings."""
        self.state = load(state, self.configs, self.device)
        self._subset, self._members = None, None

    # --------------------------------------------------------------- internal
    def _current_subset(self) -> Subset:
        """Neighbour candidates up to date and the running subset graph cached."""
        st, skin_A = self.state, self.cfg.neighbor_skin_A
        lay = st.layout
        if st.candidates is None or needs_rebuild(
            st.candidates, st.positions_A, st.cell_A, lay.batch, skin_A
        ):
            st.positions_A = wrap_positions(
                st.positions_A, st.cell_A, lay.pbc, lay.batch
            )
            st.candidates = build(
                st.positions_A, lay.ptr, st.cell_A, lay.pbc, self.r_max_A + skin_A
            )
            self._subset = None
        key = self.running.tobytes()
        if self._subset is None or self._subset.key != key:
            self._subset = make_subset(st.candidates, lay, self.running, key)
        return self._subset

    def _graph(self, sub: Subset) -> Graph:
        """The model input for the running trajectories at the current positions."""
        positions = self.state.positions_A[sub.atoms]
        cell = self.state.cell_A[sub.systems]
        edge_index, shifts, unit_shifts = within(
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
        if self.driver is not None:
            self._evaluate_driver()
            return
        st, sub = self.state, self._current_subset()
        stress = bool(st.layout.pbc[sub.systems].any())
        one = self.cfg.driving_force == DrivingForce.member
        models = [self.models[self.cfg.driving_member]] if one else self.models
        out = evaluate(
            models, self._graph(sub), stress, self.dtype, self.max_batch_atoms
        )
        self._members, self._members_key = (None if one else out), sub.key
        st.forces[sub.atoms] = out.forces.mean(0)
        st.energy_eV[sub.systems] = out.energy_eV.mean(0)
        if out.stress is not None:
            st.stress[sub.systems] = out.stress.mean(0)
        st.forces_valid[sub.systems.cpu().numpy()] = True

    def _evaluate_driver(self) -> None:
        """Energies and forces of the running trajectories from the driver."""
        st = self.state
        for i in np.flatnonzero(st.running):
            atoms = to_atoms(st, int(i))
            atoms.calc = self.driver
            forces = atoms.get_forces()  # (n_i, 3) eV/Å
            s = st.layout.slice(int(i))
            st.forces[s] = torch.as_tensor(
                forces, dtype=st.forces.dtype, device=st.forces.device
            )
            st.energy_eV[int(i)] = float(atoms.get_potential_energy())
        st.forces_valid[st.running] = True

    def _step(self) -> None:
        """One step of every running trajectory, then the guards."""
        st = self.state
        if not st.forces_valid[st.running].all():
            self._evaluate_driving()
        running = torch.as_tensor(st.running, device=self.device)
        moving = {
            name: running & systems
            for name, systems in st.layout.integrator_systems.items()
        }
        steps = [
            INTEGRATORS[name](st, systems)
            for name, systems in moving.items()
            if bool(systems.any())
        ]
        for step in steps:
            next(step)  # each integrator up to its force evaluation
        self._members = None
        self._evaluate_driving()
        for step in steps:
            next(step, None)  # the rest of the step on the new forces
        st.steps[st.running] += 1
        stop_broken(st, self.cfg)
