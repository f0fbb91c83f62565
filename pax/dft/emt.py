"""ASE's EMT as a reference: instant labels for tests and periodic metals."""

from __future__ import annotations

import time

from ase import Atoms

from pax.dft.config import EMTConfig
from pax.dft.labelled import Labelled


def label(atoms: Atoms, cfg: EMTConfig, workdir: str) -> Labelled:
    """Energy, forces (and stress when periodic) from EMT."""
    from ase.calculators.emt import EMT

    start = time.perf_counter()
    if cfg.delay_s > 0:
        time.sleep(cfg.delay_s)
    atoms = atoms.copy()
    atoms.calc = EMT()
    energy = float(atoms.get_potential_energy())
    forces = atoms.get_forces()
    stress = atoms.get_stress(voigt=True) if atoms.pbc.all() else None
    return Labelled("ok", energy, forces, stress, wall_s=time.perf_counter() - start)
