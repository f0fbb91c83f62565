"""Molecules of a geometry: connected components of its bond graph."""

from __future__ import annotations

import numpy as np
from ase import Atoms

BOND_FACTOR = 1.2
"""Atoms are bonded within this factor times the sum of their covalent radii
(ASE's natural cutoffs), the usual bond criterion for equilibrium geometries."""


def molecule_ids(atoms: Atoms) -> np.ndarray:
    """(n_atoms,) int64 molecule index of each atom, 0-based, in order of first atom.

    Given ones (atoms.info["molecule_ids"], from system.molecules) win.
    """
    given = atoms.info.get("molecule_ids")
    if given is not None and len(given) == len(atoms):
        return np.asarray(given, dtype=np.int64)
    from ase.neighborlist import NeighborList, natural_cutoffs
    from scipy.sparse.csgraph import connected_components

    if len(atoms) < 2:
        return np.zeros(len(atoms), dtype=np.int64)
    cutoffs = natural_cutoffs(atoms, mult=BOND_FACTOR)
    nl = NeighborList(cutoffs, self_interaction=False, bothways=True)
    nl.update(atoms)
    _, labels = connected_components(nl.get_connectivity_matrix(sparse=True))
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(np.argsort(first))  # renumber by first atom
    return order[labels].astype(np.int64)
