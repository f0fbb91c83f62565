"""The result of one reference calculation."""

from __future__ import annotations

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
    """Extra facts about the calculation (host, SLURM_JOB_ID, SCF cycles, ...)."""

    @property
    def ok(self) -> bool:
        """True when the calculation succeeded."""
        return self.status == "ok"

    @classmethod
    def failed(cls, reason: str, wall_s: float = 0.0, **info) -> Labelled:
        """A failed label with its reason."""
        return cls(status="failed", reason=reason, wall_s=wall_s, info=info)
