"""GFN1/GFN2-xTB from tblite, run in a reusable child process."""

from __future__ import annotations

import time

from ase import Atoms

from pax.dft.config import XTBConfig
from pax.dft.isolation import run_isolated
from pax.dft.labelled import Labelled, finish


def label(atoms: Atoms, cfg: XTBConfig, workdir: str) -> Labelled:
    """XTB energy, forces (and stress for periodic cells), never raising.

    Args:
        atoms: the geometry (Å); fully periodic cells also get stress.
        cfg: xTB settings, with charge and multiplicity filled in.
        workdir: unused (tblite writes nothing).

    Returns:
        The label; SCC non-convergence, a crash, a kill or dft.timeout_s give
        a failed label with the reason.
    """
    start = time.perf_counter()
    result = run_isolated("pax.dft.xtb:compute", (atoms, cfg), cfg.timeout_s)
    return finish(result, time.perf_counter() - start, len(atoms))


def compute(atoms: Atoms, cfg: XTBConfig) -> Labelled:
    """XTB in this process: SCC failure is a failed label, other errors raise."""
    from ase.calculators.calculator import CalculationFailed

    atoms = atoms.copy()
    atoms.calc = _calculator(cfg)
    try:
        energy = float(atoms.get_potential_energy())
        forces = atoms.get_forces()
        stress = atoms.get_stress(voigt=True) if atoms.pbc.all() else None
    except CalculationFailed as exc:
        return Labelled.failed(
            f"xTB failed: {exc} (dft.max_iterations={cfg.max_iterations})"
        )
    return Labelled("ok", energy, forces, stress)


def _calculator(cfg: XTBConfig):
    from tblite.ase import TBLite

    return TBLite(
        method=cfg.method.value,
        charge=cfg.charge,
        multiplicity=cfg.multiplicity,
        accuracy=cfg.accuracy,
        electronic_temperature=cfg.electronic_temperature_K,
        max_iterations=cfg.max_iterations,
        verbosity=0,
    )
