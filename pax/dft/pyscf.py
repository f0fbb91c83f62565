"""PySCF Kohn-Sham DFT for molecules, run in a reusable child process."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import ClassVar

from ase import Atoms

from pax.dft.config import DFTConfig
from pax.dft.isolation import run_isolated
from pax.dft.labelled import Labelled, finish
from pax.errors import ConfigError


class ScfStrategy(str, Enum):
    """One attempt of PySCF's SCF ladder (tried in order until one converges)."""

    diis = "diis"
    level_shift = "level_shift"
    damping = "damping"
    newton = "newton"
    atom_guess = "atom_guess"


class Dispersion(str, Enum):
    """Dispersion corrections added to PySCF energies and forces."""

    none = "none"
    d3bj = "d3bj"
    d4 = "d4"


@dataclass
class PySCFConfig(DFTConfig):
    """PySCF Kohn-Sham DFT for molecules."""

    kind: ClassVar[str] = "pyscf"
    periodic_ok: ClassVar[bool] = False

    xc: str = "PBE"
    """Exchange-correlation functional (PySCF name)."""
    basis: str = "def2-SVP"
    """Gaussian basis set (PySCF name)."""
    density_fit: bool = True
    """Resolution of the identity for the Coulomb term."""
    conv_tol: float = 1e-9
    """SCF energy convergence (Hartree)."""
    max_cycle: int = 100
    """Maximum SCF cycles of each attempt of dft.scf_ladder."""
    scf_ladder: list[ScfStrategy] = field(
        default_factory=lambda: [
            ScfStrategy.diis,
            ScfStrategy.level_shift,
            ScfStrategy.newton,
            ScfStrategy.atom_guess,
        ]
    )
    """SCF attempts in order: diis, level_shift, damping, newton (second order),
    atom_guess (superposition of atomic densities); all failing gives a failed label."""
    level_shift_Ha: float = 0.25
    """Virtual-orbital level shift (Hartree) of the level_shift attempt."""
    damping: float = 0.5
    """Density-mixing factor (0-1) of the damping attempt."""
    grid_level: int = 3
    """DFT integration grid level (0-9)."""
    grid_response: bool = True
    """Include the grid-weight derivatives, so forces are the exact energy gradient."""
    threads: int = 0
    """OpenMP threads for PySCF; 0 takes the worker's share of cores."""
    dispersion: Dispersion = Dispersion.none
    """Dispersion correction (needs the dftd3 or dftd4 package)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_cycle < 1:
            raise ConfigError("dft.max_cycle", self.max_cycle, "must be >= 1")
        if not self.scf_ladder:
            raise ConfigError("dft.scf_ladder", self.scf_ladder, "needs >= 1 attempt")
        try:
            self.scf_ladder = [ScfStrategy(s) for s in self.scf_ladder]
        except ValueError as err:
            known = ", ".join(s.value for s in ScfStrategy)
            raise ConfigError(
                "dft.scf_ladder", self.scf_ladder, f"known: {known}"
            ) from err
        if self.level_shift_Ha <= 0:
            raise ConfigError("dft.level_shift_Ha", self.level_shift_Ha, "must be > 0")
        if not 0 < self.damping < 1:
            raise ConfigError("dft.damping", self.damping, "must be in (0, 1)")
        if not 0 <= self.grid_level <= 9:
            raise ConfigError("dft.grid_level", self.grid_level, "must be in 0..9")
        if self.threads < 0:
            raise ConfigError(
                "dft.threads", self.threads, "must be >= 0 (0: OMP_NUM_THREADS)"
            )
        if self.dispersion != Dispersion.none:
            from importlib.util import find_spec

            if find_spec("pyscf.dispersion") is None:
                raise ConfigError(
                    "dft.dispersion",
                    self.dispersion.value,
                    "needs the pyscf-dispersion package (pip install pyscf-dispersion)",
                )


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
