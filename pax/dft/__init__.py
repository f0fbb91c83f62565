"""Reference methods behind one interface: label(atoms, cfg, workdir) -> Labelled.

Every method's `label` is a plain module-level function (picklable for Parsl),
imports its heavy code lazily and never raises: failures come back as
`Labelled.failed(reason)`.
"""

from __future__ import annotations

import time

from ase import Atoms

from pax.dft import aims, emt, pyscf, teacher, xtb
from pax.dft.config import DFTConfig
from pax.dft.labelled import Labelled, finish

METHODS = {
    "xtb": xtb.label,
    "pyscf": pyscf.label,
    "aims": aims.label,
    "teacher": teacher.label,
    "emt": emt.label,
}


def label(atoms: Atoms, cfg: DFTConfig, workdir: str) -> Labelled:
    """Label one geometry with the method cfg selects (cfg.kind).

    Args:
        atoms: the geometry (Å).
        cfg: the validated dft config (charge and multiplicity filled in).
        workdir: a folder the calculation may write in (the run directory).

    Returns:
        energy (eV), forces (eV/Å), stress (eV/Å^3, periodic cells), wall time,
        info host/pid/slurm_job_id; or status 'failed' with the reason.
    """
    start = time.perf_counter()
    try:
        return METHODS[cfg.kind](atoms, cfg, workdir)
    except Exception as exc:  # noqa: BLE001 - the contract: never raise into the caller
        failed = Labelled.failed(f"{cfg.kind} raised {type(exc).__name__}: {exc}")
        return finish(failed, time.perf_counter() - start, len(atoms))


__all__ = ["METHODS", "Labelled", "label"]
