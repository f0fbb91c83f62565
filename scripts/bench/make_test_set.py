"""Independent test sets: reference-driven Langevin MD frames, never seen by a run.

python scripts/bench/make_test_set.py --system data/systems/aspirin.xyz \
    --temperature-K 500 --frames 100 --every 50 --out outputs/testsets/aspirin_500K.extxyz

Frames come from GFN2-xTB (the default reference) Langevin MD after an
equilibration period, spaced by --every steps (25 fs at 0.5 fs) to decorrelate;
each carries REF_energy (eV) and REF_forces (eV/Å) from the same GFN2 call.
"""

import argparse
from pathlib import Path

import numpy as np
from ase import units
from ase.io import read, write
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from tblite.ase import TBLite


def make_test_set(system: Path, temperature_K: float, frames: int, every: int,
                  equilibrate: int = 1000, timestep_fs: float = 0.5, seed: int = 1234,
                  method: str = "GFN2-xTB"):
    """Frames of reference Langevin MD with their reference energy and forces."""
    atoms = read(system)
    atoms.calc = TBLite(method=method, verbosity=0)
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=rng)
    Stationary(atoms)
    dyn = Langevin(atoms, timestep=timestep_fs * units.fs, temperature_K=temperature_K,
                   friction=0.01 / units.fs, rng=rng)
    dyn.run(equilibrate)
    out = []
    for _ in range(frames):
        dyn.run(every)
        frame = atoms.copy()
        frame.calc = None
        frame.info["REF_energy"] = float(atoms.get_potential_energy())
        frame.arrays["REF_forces"] = atoms.get_forces().copy()
        out.append(frame)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", type=Path, default=Path("data/systems/aspirin.xyz"))
    parser.add_argument("--temperature-K", type=float, default=500.0)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--equilibrate", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    frames = make_test_set(args.system, args.temperature_K, args.frames, args.every,
                           args.equilibrate, seed=args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write(args.out, frames, format="extxyz")
    print(f"wrote {len(frames)} frames at {args.temperature_K} K to {args.out}")


if __name__ == "__main__":
    main()
