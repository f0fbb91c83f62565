"""PySCF Kohn-Sham DFT for molecules, run in a reusable child process."""

from __future__ import annotations

import os
import time

from ase import Atoms

from pax.dft.config import Dispersion, PySCFConfig, ScfStrategy
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

    The SCF tries the attempts of dft.scf_ladder in order until one converges;
    every attempt is recorded in the label's info (`scf_attempts`). Returns a
    failed label when none converges; other errors raise (run it through `label`).
    """
    from ase.units import Bohr, Hartree
    from pyscf import lib

    # 0 follows OMP_NUM_THREADS; set every call, the child process is reused
    lib.num_threads(
        cfg.threads or int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count())
    )
    mol = _molecule(atoms, cfg)
    attempts = []
    for strategy in cfg.scf_ladder:
        mf = _mean_field(mol, cfg, strategy)
        energy_Ha = mf.kernel()
        attempts.append(
            {
                "strategy": strategy.value,
                "converged": bool(mf.converged),
                "cycles": getattr(mf, "cycles", None),
                "energy_eV": float(energy_Ha) * Hartree,
            }
        )
        if mf.converged:
            break
    info = {"scf_attempts": attempts, "scf_cycles": attempts[-1]["cycles"]}
    if not mf.converged:
        ladder = ", ".join(s.value for s in cfg.scf_ladder)
        return Labelled.failed(
            f"SCF not converged in dft.max_cycle={cfg.max_cycle} cycles with any "
            f"attempt of dft.scf_ladder=[{ladder}]",
            **info,
        )
    if strategy == ScfStrategy.newton:
        mf = mf.undo_newton()
    grad = mf.nuc_grad_method()
    grad.grid_response = cfg.grid_response
    gradient = grad.kernel()  # (n_atoms, 3) Hartree/Bohr
    info.update(scf_strategy=strategy.value, threads=lib.num_threads())
    forces = -gradient * (Hartree / Bohr)
    return Labelled("ok", float(energy_Ha) * Hartree, forces, info=info)


def _molecule(atoms: Atoms, cfg: PySCFConfig):
    from pyscf import gto

    return gto.M(
        atom=[
            (s, tuple(p)) for s, p in zip(atoms.get_chemical_symbols(), atoms.positions)
        ],
        unit="Angstrom",
        basis=cfg.basis,
        charge=cfg.charge or 0,
        spin=(cfg.multiplicity or 1) - 1,  # 2S, unpaired electrons
        verbose=0,
    )


def _mean_field(mol, cfg: PySCFConfig, strategy: ScfStrategy):
    """A fresh Kohn-Sham object set up for one attempt of the SCF ladder."""
    from pyscf import dft

    mf = dft.RKS(mol) if mol.spin == 0 else dft.UKS(mol)
    mf.xc = cfg.xc
    if cfg.density_fit:
        mf = mf.density_fit()
    mf.grids.level = cfg.grid_level
    mf.conv_tol = cfg.conv_tol
    mf.max_cycle = cfg.max_cycle
    mf.chkfile = None
    if cfg.dispersion != Dispersion.none:
        mf.disp = cfg.dispersion.value
    if strategy == ScfStrategy.level_shift:
        mf.level_shift = cfg.level_shift_Ha
    elif strategy == ScfStrategy.damping:
        mf.damp = cfg.damping
    elif strategy == ScfStrategy.atom_guess:
        mf.init_guess = "atom"
    elif strategy == ScfStrategy.newton:
        mf = mf.newton()
    return mf
