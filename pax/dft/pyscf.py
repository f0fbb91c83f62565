"""PySCF Kohn-Sham DFT for molecules, run in a reusable child process."""

from __future__ import annotations

import os
import time

from ase import Atoms

from pax.dft.config import Dispersion, PySCFConfig
from pax.dft.isolation import run_isolated
from pax.dft.labelled import Labelled, finish


def label(atoms: Atoms, cfg: PySCFConfig, workdir: str) -> Labelled:
    """Kohn-Sham energy and analytic forces of a molecule, never raising.

    Args:
        atoms: the molecule (Å); periodic cells are refused when the config is built.
        cfg: PySCF settings, with charge and multiplicity filled in.
        workdir: unused (no checkpoint file is written).

    Returns:
        The label; SCF non-convergence within dft.max_cycle, an inconsistent
        charge/spin, a crash, a kill or dft.timeout_s give a failed label.
    """
    start = time.perf_counter()
    result = run_isolated("pax.dft.pyscf:compute", (atoms, cfg), cfg.timeout_s)
    return finish(result, time.perf_counter() - start, len(atoms))


def compute(atoms: Atoms, cfg: PySCFConfig) -> Labelled:
    """PySCF in this process: RKS for singlets, UKS otherwise.

    Returns a failed label when the SCF does not converge; other errors raise
    (run it through `label`).
    """
    from ase.units import Bohr, Hartree
    from pyscf import dft, gto, lib

    # 0 follows OMP_NUM_THREADS; set every call, the child process is reused
    lib.num_threads(
        cfg.threads or int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count())
    )
    spin = (cfg.multiplicity or 1) - 1  # 2S, unpaired electrons
    mol = gto.M(
        atom=[
            (s, tuple(p)) for s, p in zip(atoms.get_chemical_symbols(), atoms.positions)
        ],
        unit="Angstrom",
        basis=cfg.basis,
        charge=cfg.charge or 0,
        spin=spin,
        verbose=0,
    )
    mf = dft.RKS(mol) if spin == 0 else dft.UKS(mol)
    mf.xc = cfg.xc
    if cfg.density_fit:
        mf = mf.density_fit()
    mf.grids.level = cfg.grid_level
    mf.conv_tol = cfg.conv_tol
    mf.max_cycle = cfg.max_cycle
    mf.chkfile = None
    if cfg.dispersion != Dispersion.none:
        mf.disp = cfg.dispersion.value
    energy_Ha = mf.kernel()
    cycles = getattr(mf, "cycles", None)
    if not mf.converged:
        return Labelled.failed(
            f"SCF not converged in dft.max_cycle={cfg.max_cycle} cycles",
            scf_cycles=cycles,
        )
    grad = mf.nuc_grad_method()
    grad.grid_response = cfg.grid_response
    gradient = grad.kernel()  # (n_atoms, 3) Hartree/Bohr
    return Labelled(
        "ok",
        float(energy_Ha) * Hartree,
        -gradient * (Hartree / Bohr),
        info={"scf_cycles": cycles, "threads": lib.num_threads()},
    )
