"""Per-call wall time of the reference methods on aspirin, through pax.dft.label.

Side by side: xTB through label (child process) against tblite called in this
process, to show the isolation overhead as a ratio; then PySCF PBE/def2-SVP
with density fitting once (about 1-2 minutes on 2 cores).

    OMP_NUM_THREADS=2 python scripts/bench/dft_timing.py [--xtb-calls 50] [--no-pyscf]
"""

import argparse
import os
import statistics
import time

import numpy as np
from ase.io import read

from pax.dft import label
from pax.dft.pyscf import PySCFConfig
from pax.dft.xtb import XTBConfig
from pax.paths import resolve_path


def frames(atoms, n, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        frame = atoms.copy()
        frame.positions += rng.normal(0, 0.03, frame.positions.shape)
        out.append(frame)
    return out


def xtb(atoms, n):
    from tblite.ase import TBLite

    cfg = XTBConfig(charge=0, multiplicity=1)
    label(atoms, cfg, ".")  # start the child and import tblite there
    through_label, in_process, cpu = [], [], []
    for frame in frames(atoms, n):
        start = time.perf_counter()
        result = label(frame, cfg, ".")
        through_label.append(time.perf_counter() - start)
        assert result.ok, result.reason
        cpu.append(result.info["cpu_s"])
        direct = frame.copy()
        start = time.perf_counter()
        direct.calc = TBLite(method="GFN2-xTB", verbosity=0)
        direct.get_forces()
        in_process.append(time.perf_counter() - start)
    a, b = statistics.median(through_label), statistics.median(in_process)
    print(f"xtb GFN2 via label (child): median {a * 1e3:.1f} ms over {n} calls")
    print(f"xtb GFN2 in this process:   median {b * 1e3:.1f} ms")
    print(f"xtb GFN2 CPU time in child: median {statistics.median(cpu) * 1e3:.1f} ms")
    print(
        f"isolation overhead ratio:   {a / b:.2f}x ({(a - b) * 1e3:+.1f} ms per call)"
    )


def pyscf(atoms):
    cfg = PySCFConfig(
        charge=0, multiplicity=1
    )  # PBE, def2-SVP, density fitting, grid 3
    start = time.perf_counter()
    result = label(atoms, cfg, ".")
    wall = time.perf_counter() - start
    print(
        f"pyscf PBE/def2-SVP (DF, grid {cfg.grid_level}, grid_response "
        f"{cfg.grid_response}): {wall:.1f} s wall, {result.info.get('cpu_s', 0):.1f} "
        f"CPU-s, status {result.status}, {result.info.get('scf_cycles')} SCF cycles, "
        f"{result.info.get('threads')} threads"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--xtb-calls", type=int, default=50)
    parser.add_argument("--no-pyscf", action="store_true")
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, load {load}")
    atoms = read(resolve_path("data/systems/aspirin.xyz"))
    xtb(atoms, args.xtb_calls)
    if not args.no_pyscf:
        pyscf(atoms)


if __name__ == "__main__":
    main()
