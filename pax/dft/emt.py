"""ASE's EMT as a reference: instant labels for tests and periodic metals."""

from __future__ import annotations

import time

from ase import Atoms

from pax.dft.config import EMTConfig
from pax.dft.isolation import run_isolated
from pax.dft.labelled import Labelled, finish


def label(atoms: Atoms, cfg: EMTConfig, workdir: str) -> Labelled:
    """Energy, forces (and stress when periodic) from EMT, in a killable child.

    Args:
        atoms: the geometry (Å).
        cfg: EMT settings (delay_s mimics a slow reference; timeout_s applies).
        workdir: unused (EMT writes nothing).

    Returns:
        The label; a timeout or a killed child gives a failed one.
    """
    start = time.perf_counter()
    result = run_isolated("pax.dft.emt:compute", (atoms, cfg), cfg.timeout_s)
    return finish(result, time.perf_counter() - start, len(atoms))


def compute(atoms: Atoms, cfg: EMTConfig) -> Labelled:
    """EMT energy (eV), forces (eV/Å) and stress (eV/Å^3, periodic cells)."""
    from ase.calculators.emt import EMT

    if cfg.delay_s > 0:
        time.sleep(cfg.delay_s)
    atoms = atoms.copy()
    atoms.calc = EMT()
    energy = float(atoms.get_potential_energy())
    forces = atoms.get_forces()
    stress = atoms.get_stress(voigt=True) if atoms.pbc.all() else None
    return Labelled("ok", energy, forces, stress)
