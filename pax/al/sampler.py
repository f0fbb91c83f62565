"""The IDG sampler: ASE MD, or pax's batched MD for a MACE model.

ASE MD runs xTB, a pretrained potential or the reference; a MACE model file
(or cached mace-mp/mace-off) runs in pax.md.BatchedMD.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator, all_changes
from ase.constraints import FixCom
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from ase.md.verlet import VelocityVerlet

from pax.config import PaxConfig
from pax.errors import PaxError

log = logging.getLogger(__name__)


class ReferenceCalculator(Calculator):
    """The reference method as an ASE calculator, for ab initio sampling (aimd)."""

    implemented_properties = ["energy", "forces", "stress"]

    def __init__(self, dft_cfg, workdir: Path) -> None:
        super().__init__()
        self.dft_cfg, self.workdir = dft_cfg, workdir

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        """Label the current geometry in this process."""
        from pax.dft import label

        super().calculate(atoms, properties, system_changes)
        result = label(self.atoms, self.dft_cfg, str(self.workdir))
        if not result.ok:
            raise PaxError(
                f"al.idg.sampler=aimd: the reference failed ({result.reason})"
            )
        self.results = {"energy": result.energy, "forces": result.forces}
        if result.stress is not None:
            self.results["stress"] = result.stress


def make_calculator(cfg: PaxConfig, run_dir: Path) -> Calculator:
    """The ASE calculator that drives IDG sampling, as al.idg.sampler says."""
    idg = cfg.al.idg
    if idg.sampler.value == "xtb":
        from tblite.ase import TBLite

        return TBLite(
            method=idg.sampler_xtb_method.value,
            charge=cfg.dft.charge,
            multiplicity=cfg.dft.multiplicity,
            verbosity=0,
        )
    if idg.sampler.value == "foundation":
        from pax.al.potentials import calculator, with_dispersion

        calc = calculator(idg.foundation_model)
        if idg.dispersion:
            calc = with_dispersion(calc, idg.dispersion_xc, idg.dispersion_damping)
        return calc
    return ReferenceCalculator(cfg.dft, run_dir / "aimd")


class Sampler:
    """ASE MD trajectories, run one after the other, each giving a frame in turn.

    There are al.idg.trajectories_per_system per system; trajectory i runs
    system i % len(systems) and `equilibrate` steps more before its first frame.
    The positions of each system's last frames (as many as AL trajectories of
    that system) are kept in `late[system]`, newest last: AL may start from them
    (al.start_from=idg_end).
    """

    def __init__(self, cfg: PaxConfig, systems: list[Atoms], run_dir: Path) -> None:
        self._lay_out(cfg, systems)
        self.calc = make_calculator(cfg, run_dir)
        for atoms, md in zip(self.trajs, self.md):
            # ASE's own recipe: FixCom, not Langevin's fixcm (deprecated, biased NVT)
            if md.fix_com and len(atoms) > 1 and not atoms.constraints:
                atoms.set_constraint(FixCom())

    def _lay_out(self, cfg: PaxConfig, systems: list[Atoms]) -> None:
        """Trajectories, their MD settings and step plans; velocities drawn."""
        from pax.md.per_system import system_md

        self.cfg = cfg
        idg = cfg.al.idg
        n = idg.trajectories_per_system * len(systems)
        self.n_systems = len(systems)
        per_system = system_md(cfg.md, systems, cfg.system.geometry)
        self.md = [per_system[i % len(systems)] for i in range(n)]
        self.sampler_steps = [idg.sampler_steps(md.timestep_fs) for md in self.md]
        self.keep = -(-cfg.al.num_trajectories // len(systems))
        self.trajs = [systems[i % len(systems)].copy() for i in range(n)]
        self.steps = [0] * n
        self.late: list[list[np.ndarray]] = [[] for _ in systems]  # (n_atoms, 3) Å
        self.next_traj = 0
        rng = np.random.default_rng(cfg.md.seed)
        for atoms, md in zip(self.trajs, self.md):
            if atoms.get_momenta().any():
                continue
            MaxwellBoltzmannDistribution(atoms, temperature_K=md.temperature_K, rng=rng)
            Stationary(atoms)

    def next_frame(self) -> tuple[int, Atoms]:
        """Run the next trajectory to its next frame; return (index, frame)."""
        i = self.next_traj
        self.next_traj = (i + 1) % len(self.trajs)
        atoms = self.trajs[i]
        atoms.calc = self.calc
        steps = self._due(i)
        self._dynamics(i, seed=self.cfg.md.seed + i + self.steps[i]).run(steps)
        self.steps[i] += steps
        atoms.calc = None
        return i, self._hand_out(i, atoms.positions)

    def temperature_K(self, i: int) -> float:
        """Kinetic temperature of trajectory i at its last frame (K)."""
        return float(self.trajs[i].get_temperature())

    def _due(self, i: int) -> int:
        """MD steps from trajectory i's last frame to its next one."""
        equilibrate, skip = self.sampler_steps[i]
        return skip + (equilibrate if self.steps[i] == 0 else 0)

    def _hand_out(self, i: int, positions: np.ndarray) -> Atoms:
        """Trajectory i's frame at `positions`, remembered among its system's late."""
        atoms = self.trajs[i]
        frame = Atoms(atoms.numbers, positions, cell=atoms.cell, pbc=atoms.pbc)
        frame.info["system"] = atoms.info.get("system", self.cfg.system.name)
        s = i % self.n_systems
        self.late[s] = [*self.late[s], frame.positions.copy()][-self.keep :]
        return frame

    def _dynamics(self, i: int, seed: int):
        atoms, md = self.trajs[i], self.md[i]
        if md.integrator.value == "nve":
            return VelocityVerlet(atoms, timestep=md.timestep_fs * units.fs)
        friction_per_fs = self.cfg.al.idg.friction_per_fs or md.friction_per_fs
        return Langevin(
            atoms,
            timestep=md.timestep_fs * units.fs,
            temperature_K=md.temperature_K,
            friction=friction_per_fs / units.fs,
            rng=np.random.default_rng(seed),
            fixcm=False,
        )

    def state_dict(self) -> dict:
        """Positions, momenta, step counts and late frames of every trajectory."""
        return {
            "positions": [a.positions.copy() for a in self.trajs],
            "momenta": [a.get_momenta() for a in self.trajs],
            "steps": list(self.steps),
            "late": [list(frames) for frames in self.late],
            "next_traj": self.next_traj,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from state_dict()."""
        for atoms, pos, mom in zip(self.trajs, state["positions"], state["momenta"]):
            atoms.positions = pos
            atoms.set_momenta(mom)
        self.steps = list(state["steps"])
        # states of older pax lack "late": no frames to start AL from
        self.late = [list(f) for f in state.get("late", [[] for _ in self.late])]
        self.next_traj = state["next_traj"]


RESTARTS = 5
"""The batched sampler gives up after all its trajectories stopped this often."""


class BatchedSampler(Sampler):
    """Sampler trajectories on a MACE model, propagated together (pax.md.BatchedMD).

    Once every trajectory's frame is handed out, all advance to their next frame
    in one batched MD (those with the same number of steps due together); the
    frames are handed out one per call, in trajectory order. The integrators
    are pax's: velocity Verlet for nve, Langevin otherwise (npt samples at fixed
    cell, like the ASE sampler), with al.idg.friction_per_fs when set. A
    trajectory an MD guard stops starts again from its system's geometry. The
    model runs on mlff.device.
    """

    def __init__(self, cfg: PaxConfig, systems: list[Atoms], run_dir: Path) -> None:
        from pax.al.potentials import mace_model
        from pax.md import BatchedMD
        from pax.md.config import DrivingForce, Integrator
        from pax.mlff.ensemble import resolve_device

        self._lay_out(cfg, systems)
        self.starts = [a.copy() for a in systems]
        friction = cfg.al.idg.friction_per_fs
        configs = [
            dataclasses.replace(
                md,
                integrator=(
                    Integrator.nve
                    if md.integrator == Integrator.nve
                    else Integrator.langevin
                ),
                friction_per_fs=friction or md.friction_per_fs,
                driving_force=DrivingForce.mean,
            )
            for md in self.md
        ]
        device = resolve_device(cfg.mlff.device)
        model = mace_model(cfg.al.idg.foundation_model).to(device)
        self.engine = BatchedMD(
            configs[0], [model], self.trajs, per_system=configs, device=device
        )
        self.temperatures = [md.temperature_K for md in self.md]
        self.queue: list[tuple[int, int, float, np.ndarray]] = []

    def next_frame(self) -> tuple[int, Atoms]:
        """Hand out the next trajectory's frame, advancing all when none is left."""
        for _ in range(RESTARTS):
            if self.queue:
                break
            self._advance_all()
        else:
            raise PaxError(
                f"al.idg.foundation_model={self.cfg.al.idg.foundation_model}: every "
                f"sampler trajectory stopped {RESTARTS} times in a row (see the log)"
            )
        i, step, temperature_K, positions = self.queue.pop(0)
        self.steps[i], self.temperatures[i] = step, temperature_K
        self.next_traj = (i + 1) % len(self.trajs)
        return i, self._hand_out(i, positions)

    def temperature_K(self, i: int) -> float:
        """Kinetic temperature of trajectory i at its last frame (K)."""
        return self.temperatures[i]

    def _advance_all(self) -> None:
        engine, n = self.engine, len(self.trajs)
        due = [self._due(i) for i in range(n)]
        for steps in sorted(set(due)):
            for i in range(n):
                (engine.resume if due[i] == steps else engine.pause)(i)
            engine.advance(steps)
        temperatures = engine.temperatures_K()
        for i in range(n):
            engine.resume(i)
            if engine.stopped[i]:
                log.warning(
                    "IDG sampler trajectory %d stopped (%s): starting it again from "
                    "its geometry",
                    i,
                    engine.stop_reason(i),
                )
                engine.reset(i, self.starts[i % self.n_systems].copy())
                continue
            positions = engine.atoms(i).positions
            self.queue.append(
                (i, self.steps[i] + due[i], float(temperatures[i]), positions)
            )

    def state_dict(self) -> dict:
        """The batched MD, frames not handed out yet, steps and late frames."""
        return {
            "engine": self.engine.state_dict(),
            "queue": list(self.queue),
            "steps": list(self.steps),
            "temperatures": list(self.temperatures),
            "late": [list(frames) for frames in self.late],
            "next_traj": self.next_traj,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from state_dict()."""
        self.engine.load_state_dict(state["engine"])
        self.queue = [tuple(q) for q in state["queue"]]
        self.steps = list(state["steps"])
        self.temperatures = list(state["temperatures"])
        self.late = [list(f) for f in state["late"]]
        self.next_traj = state["next_traj"]


def make_sampler(cfg: PaxConfig, systems: list[Atoms], run_dir: Path) -> Sampler:
    """The IDG sampler: batched for a MACE foundation model without dispersion."""
    from pax.al.potentials import is_mace

    idg = cfg.al.idg
    batched = idg.sampler.value == "foundation" and not idg.dispersion
    if batched and is_mace(idg.foundation_model):
        return BatchedSampler(cfg, systems, run_dir)
    return Sampler(cfg, systems, run_dir)
