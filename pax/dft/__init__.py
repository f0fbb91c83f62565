"""Reference methods behind one interface: label(atoms, cfg, workdir) -> Labelled.

Every method's `label` is a plain module-level function (picklable for Parsl),
imports its heavy code lazily and never raises: failures come back as
`Labelled.failed(reason)`. METHODS is the registry: the config schemas, the
presets named in errors and the element checks all come from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ase import Atoms

from pax.dft import aims, aims_io, emt, pyscf, teacher, xtb
from pax.dft.config import DFTConfig
from pax.dft.labelled import Labelled, finish


@dataclass(frozen=True)
class Method:
    """A reference method: its settings schema and its label function."""

    schema: type[DFTConfig]
    """A DFTConfig subclass; its `kind` names the preset conf/dft/<kind>.yaml."""
    label: Callable[[Atoms, DFTConfig, str], Labelled]
    """label(atoms, cfg, workdir) -> Labelled, never raising."""


METHODS: dict[str, Method] = {
    method.schema.kind: method
    for method in (
        Method(xtb.XTBConfig, xtb.label),
        Method(pyscf.PySCFConfig, pyscf.label),
        Method(aims_io.AimsConfig, aims.label),
        Method(teacher.TeacherConfig, teacher.label),
        Method(emt.EMTConfig, emt.label),
    )
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
        return METHODS[cfg.kind].label(atoms, cfg, workdir)
    except Exception as exc:  # noqa: BLE001 - the contract: never raise into the caller
        failed = Labelled.failed(f"{cfg.kind} raised {type(exc).__name__}: {exc}")
        return finish(failed, time.perf_counter() - start, len(atoms))


__all__ = ["METHODS", "Labelled", "Method", "label"]
