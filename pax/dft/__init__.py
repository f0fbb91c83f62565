"""Reference methods behind one interface: label(atoms, cfg, workdir) -> Labelled."""

from __future__ import annotations

from ase import Atoms

from pax.dft import emt
from pax.dft.labelled import Labelled

METHODS = {"emt": emt.label}


def label(atoms: Atoms, cfg, workdir: str) -> Labelled:
    """Label one geometry with the method cfg selects; failures become Labelled.failed."""
    return METHODS[cfg.kind](atoms, cfg, workdir)


__all__ = ["METHODS", "Labelled", "label"]
