"""Physical-sanity gate: is a geometry worth a reference calculation?

AL asks `unphysical(...)` before it sends a geometry to the reference. A geometry
with fused atoms, a bond graph that differs from its trajectory's start (not
checked in periodic cells unless al.sanity.bonds_in_periodic), or a
predicted force or energy far outside what the system can reach is rejected with
a reason; it is never labelled (so never lands in validation) and its trajectory
rolls back.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.data import covalent_radii

from pax.al.config import SanityConfig


def pair_distances(atoms: Atoms) -> np.ndarray:
    """(n, n) interatomic distances in Å (minimum image for periodic cells)."""
    return atoms.get_all_distances(mic=bool(atoms.pbc.any()))


def bond_graph(atoms: Atoms, bond_factor: float) -> set[tuple[int, int]]:
    """Pairs (i < j) closer than bond_factor times their covalent radii's sum."""
    d = pair_distances(atoms)  # (n, n) Å
    radii = covalent_radii[atoms.numbers]  # (n,) Å
    bonded = d < bond_factor * (radii[:, None] + radii[None, :])
    i, j = np.nonzero(np.triu(bonded, k=1))
    return set(zip(i.tolist(), j.tolist()))


def unphysical(
    atoms: Atoms,
    start: Atoms,
    cfg: SanityConfig,
    forces: np.ndarray | None = None,
    energy_eV: float | None = None,
    start_energy_eV: float | None = None,
) -> str | None:
    """Why `atoms` should not be labelled, or None when it looks physical.

    Args:
        atoms: the candidate geometry.
        start: its trajectory's start (the bonds it should keep).
        cfg: the gate's limits.
        forces: (n, 3) predicted forces, eV/Å (skips the force check when None).
        energy_eV: predicted energy of atoms, eV.
        start_energy_eV: predicted energy of start, eV.
    """
    if not cfg.enabled:
        return None
    d = pair_distances(atoms)  # (n, n) Å
    radii = covalent_radii[atoms.numbers]
    reach = radii[:, None] + radii[None, :]  # (n, n) Å
    np.fill_diagonal(d, np.inf)
    ratio = d / reach
    if cfg.fused_fraction > 0 and ratio.min() < cfg.fused_fraction:
        i, j = np.unravel_index(np.argmin(ratio), ratio.shape)
        return f"fused atoms {i} and {j} at {d[i, j]:.2f} Å"
    molecular = cfg.bonds_in_periodic or not atoms.pbc.any()
    if cfg.bond_factor > 0 and len(atoms) == len(start) and molecular:
        now = bond_graph(atoms, cfg.bond_factor)
        before = bond_graph(start, cfg.bond_factor)
        if now != before:
            broken, formed = sorted(before - now), sorted(now - before)
            return f"bond graph changed: broken {broken[:3]}, formed {formed[:3]}"
    if forces is not None and cfg.max_force > 0:
        largest = float(np.linalg.norm(forces, axis=1).max())
        if largest > cfg.max_force:
            return f"predicted force {largest:.1f} eV/Å > al.sanity.max_force"
    if energy_eV is not None and start_energy_eV is not None:
        rise = (energy_eV - start_energy_eV) / len(atoms)  # eV/atom
        if cfg.max_energy_per_atom > 0 and rise > cfg.max_energy_per_atom:
            return (
                f"predicted energy {rise:.2f} eV/atom above the start "
                "> al.sanity.max_energy_per_atom"
            )
    return None


def gated_forces(
    ensemble, frame: Atoms, start: Atoms, cfg: SanityConfig
) -> tuple[np.ndarray, str | None]:
    """The ensemble's mean forces (n, 3) eV/Å on frame, and why it is unphysical.

    Args:
        ensemble: a pax.mlff.Ensemble (its predict).
        frame: the geometry to label.
        start: its trajectory's start.
        cfg: the gate's limits; when disabled the reason is always None.
    """
    if not cfg.enabled:
        return ensemble.predict([frame])["forces_comm"], None
    out = ensemble.predict([frame, start])
    forces = out["forces_comm"][: len(frame)]  # (n, 3) eV/Å
    energy, start_energy = (float(e) for e in out["energy"])  # eV
    return forces, unphysical(frame, start, cfg, forces, energy, start_energy)


def rollback_geometry(checkpoint: Atoms, start: Atoms, cfg: SanityConfig) -> Atoms:
    """Where a rolled-back trajectory restarts.

    Its checkpoint, or its start when the checkpoint itself fails the gate's
    geometry checks (a bond changed while the ensemble was calm); the start comes
    without momenta, so the trajectory gets new velocities.
    """
    if unphysical(checkpoint, start, cfg) is None:
        return checkpoint.copy()
    fresh = start.copy()
    fresh.set_momenta(None)
    return fresh
