"""The result of one reference calculation."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Labelled:
    """Energy, forces (and stress) of one geometry, or the reason it failed.

    Units: energy eV, forces eV/Å, stress eV/Å^3 (Voigt order xx yy zz yz xz xy).
    """

    status: str
    """'ok' or 'failed'."""
    energy: float | None = None
    forces: np.ndarray | None = None  # (n_atoms, 3) eV/Å
    stress: np.ndarray | None = None  # (6,) eV/Å^3, periodic cells only
    wall_s: float = 0.0
    reason: str = ""
    info: dict = field(default_factory=dict)
    """Extra facts: host, pid, slurm_job_id (always), SCF cycles, calc_dir, ..."""

    @property
    def ok(self) -> bool:
        """True when the calculation succeeded."""
        return self.status == "ok"

    @classmethod
    def failed(cls, reason: str, wall_s: float = 0.0, **info) -> Labelled:
        """A failed label with its reason."""
        return cls(status="failed", reason=reason, wall_s=wall_s, info=info)


def where() -> dict:
    """Host, process id and Slurm job id (None outside Slurm) of this process."""
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
    }


def finish(result: Labelled, wall_s: float, n_atoms: int) -> Labelled:
    """Stamp wall time and origin on a label; NaN/inf or wrong shapes turn it failed.

    Args:
        result: what the method returned.
        wall_s: wall time of the whole call (s), overhead included.
        n_atoms: atoms in the labelled geometry, to check the force shape.

    Returns:
        The same label with `wall_s` and `info` host/pid/slurm_job_id set, or a
        failed label naming what was wrong with the numbers.
    """
    result.wall_s = wall_s
    if result.ok:
        problem = _problem(result, n_atoms)
        if problem:
            result = Labelled.failed(problem, wall_s, **result.info)
    result.info.update(where())
    return result


def _problem(result: Labelled, n_atoms: int) -> str:
    if result.energy is None or not np.isfinite(result.energy):
        return f"non-finite energy ({result.energy})"
    forces = None if result.forces is None else np.asarray(result.forces, float)
    if forces is None or forces.shape != (n_atoms, 3):
        shape = None if forces is None else forces.shape
        return f"forces have shape {shape}, expected ({n_atoms}, 3)"
    if not np.isfinite(forces).all():
        return "non-finite forces (NaN or inf)"
    if result.stress is not None and not np.isfinite(result.stress).all():
        return "non-finite stress (NaN or inf)"
    return ""
