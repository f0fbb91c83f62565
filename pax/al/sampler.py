"""The IDG sampler: ASE MD with xTB, a pretrained potential, or the reference."""

from __future__ import annotations

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
    """One ASE MD trajectory per starting geometry, giving a frame every skip steps.

    Each trajectory runs `equilibrate` steps more before its first frame. The
    positions of its last frames (as many as AL trajectories of its system) are
    kept in `late`, newest last: AL may start from them (al.start_from=idg_end).
    """

    def __init__(self, cfg: PaxConfig, systems: list[Atoms], run_dir: Path) -> None:
        from pax.md.per_system import system_md

        self.cfg = cfg
        idg = cfg.al.idg
        self.md = system_md(cfg.md, systems, cfg.system.geometry)  # per trajectory
        self.sampler_steps = [idg.sampler_steps(md.timestep_fs) for md in self.md]
        self.keep = -(-cfg.al.num_trajectories // len(systems))
        self.calc = make_calculator(cfg, run_dir)
        self.trajs = [a.copy() for a in systems]
        self.steps = [0] * len(self.trajs)
        self.late: list[list[np.ndarray]] = [[] for _ in self.trajs]  # (n_atoms, 3) Å
        self.next_traj = 0
        rng = np.random.default_rng(cfg.md.seed)
        for atoms, md in zip(self.trajs, self.md):
            if atoms.get_momenta().any():
                continue
            MaxwellBoltzmannDistribution(atoms, temperature_K=md.temperature_K, rng=rng)
            Stationary(atoms)
        for atoms, md in zip(self.trajs, self.md):
            # ASE's own recipe: FixCom, not Langevin's fixcm (deprecated, biased NVT)
            if md.fix_com and len(atoms) > 1 and not atoms.constraints:
                atoms.set_constraint(FixCom())

    def next_frame(self) -> tuple[int, Atoms]:
        """Run the next trajectory to its next frame; return (index, frame)."""
        i = self.next_traj
        self.next_traj = (i + 1) % len(self.trajs)
        atoms = self.trajs[i]
        atoms.calc = self.calc
        equilibrate, skip = self.sampler_steps[i]
        steps = skip + (equilibrate if self.steps[i] == 0 else 0)
        self._dynamics(i, seed=self.cfg.md.seed + i + self.steps[i]).run(steps)
        self.steps[i] += steps
        frame = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        frame.info["system"] = atoms.info.get("system", self.cfg.system.name)
        atoms.calc = None
        self.late[i] = [*self.late[i], frame.positions.copy()][-self.keep :]
        return i, frame

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
        self.late = [list(f) for f in state.get("late", [[] for _ in self.trajs])]
        self.next_traj = state["next_traj"]
