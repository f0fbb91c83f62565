"""Independent test sets: equilibrated reference Langevin MD, never seen by an arm.

python scripts/bench/make_test_set.py --system data/systems/ethanol.xyz \
    --temperature-K 500 --out outputs/testsets/ethanol_500K_xtb.extxyz

Each set comes from --trajectories independent trajectories (seeds from the
"test" block of seeds.py), each equilibrated for --equilibrate-fs and then
sampled every --every-fs; every frame carries REF_energy (eV), REF_forces
(eV/Å) and its seed, trajectory and time (fs).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import reference
import seeds
from ase import Atoms, units
from ase.constraints import FixCom
from ase.io import read, write
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

TIMESTEP_FS = 0.5
FRICTION_PER_FS = 0.01


def reference_md(
    start: Atoms,
    temperature_K: float,
    seed: int,
    n_frames: int,
    every_steps: int,
    equilibrate_steps: int,
    preset: str = "xtb",
    timestep_fs: float = TIMESTEP_FS,
) -> tuple[list[Atoms], int]:
    """Frames of one reference Langevin trajectory and the reference MD steps it took."""
    atoms = start.copy()
    atoms.calc = reference.calculator(preset)
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=rng)
    Stationary(atoms)
    atoms.set_constraint(FixCom())  # fixcm of Langevin is deprecated and biases NVT
    dyn = Langevin(
        atoms,
        timestep=timestep_fs * units.fs,
        temperature_K=temperature_K,
        friction=FRICTION_PER_FS / units.fs,
        fixcm=False,
        rng=rng,
    )
    if equilibrate_steps:
        dyn.run(equilibrate_steps)
    frames = []
    for _ in range(n_frames):
        dyn.run(every_steps)
        frame = atoms.copy()
        frame.calc = None
        frame.set_constraint()
        frame.info.update(
            REF_energy=float(atoms.get_potential_energy()),
            seed=int(seed),
            md_step=int(dyn.nsteps),
            time_fs=float(dyn.nsteps * timestep_fs),
            temperature_K=float(temperature_K),
        )
        # The reference's forces, not FixCom's: its adjust_forces subtracts
        # m_i * (sum_j m_j F_j) / sum_j m_j^2 from every atom, ~1 eV/Å on ethanol
        # at 500 K although the total force is zero (the dynamics is unaffected).
        frame.arrays["REF_forces"] = atoms.get_forces(apply_constraint=False).copy()
        frames.append(frame)
    return frames, equilibrate_steps + n_frames * every_steps


def make_test_set(
    system: Path,
    temperature_K: float,
    trajectories: int = 5,
    frames_per_trajectory: int = 40,
    every_fs: float = 50.0,
    equilibrate_fs: float = 500.0,
    preset: str = "xtb",
    first_trajectory: int = 0,
) -> list[Atoms]:
    """Frames of independent equilibrated reference trajectories (seeds: "test"
    block; trajectory k takes offset first_trajectory + k)."""
    start = read(system)
    replicate = int(round(temperature_K / 100.0))
    out = []
    for k in range(trajectories):
        frames, _ = reference_md(
            start,
            temperature_K,
            seeds.seed("test", replicate, first_trajectory + k),
            frames_per_trajectory,
            int(round(every_fs / TIMESTEP_FS)),
            int(round(equilibrate_fs / TIMESTEP_FS)),
            preset,
        )
        for frame in frames:
            frame.info["traj"] = k
        out.extend(frames)
    return out


def ensure_test_set(path: Path, system: Path, temperature_K: float, **kw) -> Path:
    """Make the test set at path unless a file with as many frames, labelled by
    this reference, is there (a set whose labels disagree is made again)."""
    want = kw.get("trajectories", 5) * kw.get("frames_per_trajectory", 40)
    preset = kw.get("preset", "xtb")
    if path.exists():
        frames = read(str(path), index=":")
        if len(frames) == want and reference.agrees(frames[0], preset):
            return path
    print(
        f"making {want} reference frames at {temperature_K:.0f} K -> {path}", flush=True
    )
    frames = make_test_set(system, temperature_K, **kw)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.extxyz")
    write(str(tmp), frames, format="extxyz")
    tmp.rename(path)
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--system", type=Path, default=Path("data/systems/aspirin.xyz"))
    p.add_argument("--temperature-K", type=float, default=500.0)
    p.add_argument("--trajectories", type=int, default=5)
    p.add_argument("--frames-per-trajectory", type=int, default=40)
    p.add_argument("--every-fs", type=float, default=50.0)
    p.add_argument("--equilibrate-fs", type=float, default=500.0)
    p.add_argument("--reference", default="xtb")
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as label_efficiency.py's main
    ensure_test_set(
        a.out,
        a.system,
        a.temperature_K,
        trajectories=a.trajectories,
        frames_per_trajectory=a.frames_per_trajectory,
        every_fs=a.every_fs,
        equilibrate_fs=a.equilibrate_fs,
        preset=a.reference,
    )
    print(f"test set at {a.temperature_K:.0f} K: {a.out}")


if __name__ == "__main__":
    main()
