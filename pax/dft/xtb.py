"""GFN1/GFN2-xTB from tblite, run in a reusable child process."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from ase import Atoms

from pax.dft.config import DFTConfig
from pax.dft.isolation import run_isolated
from pax.dft.labelled import Labelled, finish
from pax.errors import ConfigError


class XTBMethod(str, Enum):
    """Tight-binding Hamiltonians offered by tblite (type GFN1 or GFN2)."""

    GFN1 = "GFN1-xTB"
    GFN2 = "GFN2-xTB"


@dataclass
class XTBConfig(DFTConfig):
    """tblite xTB, run in a reusable child process of the worker."""

    kind: ClassVar[str] = "xtb"

    method: XTBMethod = XTBMethod.GFN2
    """GFN1 or GFN2 (GFN1-xTB, GFN2-xTB)."""
    electronic_temperature_K: float = 300.0
    """Fermi smearing temperature (K)."""
    accuracy: float = 1.0
    """tblite numerical accuracy (smaller is tighter)."""
    max_iterations: int = 250
    """Maximum SCC iterations; not converging gives a failed label."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.electronic_temperature_K <= 0:
            raise ConfigError(
                "dft.electronic_temperature_K",
                self.electronic_temperature_K,
                "must be > 0",
            )
        if self.max_iterations < 1:
            raise ConfigError("dft.max_iterations", self.max_iterations, "must be >= 1")

    @classmethod
    def elements(cls) -> frozenset[int]:
        """GFN1- and GFN2-xTB have parameters for H..Rn (Z 1-86)."""
        return frozenset(range(1, 87))


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
        forces = atoms.get_forces(apply_constraint=False)  # the reference's own
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
