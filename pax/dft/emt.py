"""ASE's EMT as a reference: instant labels for tests and periodic metals.

For reliability tests only, EMT can fail on purpose (dft.fault_rate,
dft.fault_kinds): call n of a worker process fails when floor(n * fault_rate)
grows, and the kinds take turns: `scf` returns a failed label 'SCF not
converged (injected)', `crash` ends the calculation process with os._exit,
`hang` sleeps past dft.timeout_s. Isolated atoms (the E0s) never fail.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from typing import ClassVar

from ase import Atoms

from pax.dft.config import DFTConfig
from pax.dft.isolation import run_isolated
from pax.dft.labelled import Labelled, finish
from pax.errors import ConfigError

log = logging.getLogger(__name__)

_calls = 0  # calls of this process that could fail on purpose


FAULT_KINDS = ("scf", "crash", "hang")
"""Faults EMT can inject for tests (dft.fault_kinds)."""


@dataclass
class EMTConfig(DFTConfig):
    """ASE's EMT: instant labels for tests (Cu, Ag, Au, Ni, Pd, Pt, Al, C, H, N, O)."""

    kind: ClassVar[str] = "emt"
    delay_s: float = 0.0
    """Extra sleep per call (s), to mimic a slow reference in benchmarks."""
    fault_rate: float = 0.0
    """Test only: fraction of calls that fail on purpose (0..1), spread evenly."""
    fault_kinds: list[str] = field(default_factory=lambda: list(FAULT_KINDS))
    """Test only: injected faults, in turn: scf, crash (child exits), hang."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.delay_s < 0:
            raise ConfigError("dft.delay_s", self.delay_s, "must be >= 0")
        if not 0 <= self.fault_rate <= 1:
            raise ConfigError("dft.fault_rate", self.fault_rate, "must be in 0..1")
        unknown = [k for k in self.fault_kinds if k not in FAULT_KINDS]
        if unknown or (self.fault_rate > 0 and not self.fault_kinds):
            raise ConfigError(
                "dft.fault_kinds",
                self.fault_kinds,
                f"must be a non-empty list of {', '.join(FAULT_KINDS)}",
            )
        self.fault_kinds = list(self.fault_kinds)

    @classmethod
    def elements(cls) -> frozenset[int]:
        """The elements of ASE's EMT parameters."""
        from ase.calculators.emt import parameters
        from ase.data import atomic_numbers

        return frozenset(atomic_numbers[symbol] for symbol in parameters)


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
    fault = injected_fault(atoms, cfg)
    if fault:
        log.warning("injecting a '%s' fault (dft.fault_rate, test only)", fault)
    result = run_isolated("pax.dft.emt:compute", (atoms, cfg, fault), cfg.timeout_s)
    return finish(result, time.perf_counter() - start, len(atoms))


def injected_fault(atoms: Atoms, cfg: EMTConfig) -> str | None:
    """Test only: the fault this call gets (a dft.fault_kinds entry), or None."""
    global _calls
    if cfg.fault_rate <= 0 or len(atoms) == 1:
        return None
    _calls += 1
    before = math.floor((_calls - 1) * cfg.fault_rate)
    now = math.floor(_calls * cfg.fault_rate)
    if now == before:
        return None
    return cfg.fault_kinds[(now - 1) % len(cfg.fault_kinds)]


def compute(atoms: Atoms, cfg: EMTConfig, fault: str | None = None) -> Labelled:
    """EMT energy (eV), forces (eV/Å) and stress (eV/Å^3, periodic cells).

    A fault (tests only) makes it fail instead: 'scf', 'crash' or 'hang'.
    """
    from ase.calculators.emt import EMT

    if fault == "scf":
        return Labelled.failed("SCF not converged (injected)")
    if fault == "crash":
        os._exit(3)
    if fault == "hang":
        time.sleep(cfg.timeout_s + 30)
    if cfg.delay_s > 0:
        time.sleep(cfg.delay_s)
    atoms = atoms.copy()
    atoms.calc = EMT()
    energy = float(atoms.get_potential_energy())
    forces = atoms.get_forces(apply_constraint=False)  # the reference's own
    stress = atoms.get_stress(voigt=True) if atoms.pbc.all() else None
    return Labelled("ok", energy, forces, stress)
