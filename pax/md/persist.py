"""Saving, restoring and re-laying-out the state of a BatchedMD."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import torch
from ase import Atoms

from pax.md.layout import make_layout
from pax.md.neighbors import Candidates

if TYPE_CHECKING:
    from pax.md.engine import BatchedMD

log = logging.getLogger(__name__)

TENSORS = ("positions_A", "velocities", "forces", "stress", "energy_eV", "cell_A")
ARRAYS = ("_forces_valid", "_status", "steps")


def dump(md: BatchedMD) -> dict:
    """The moving state of md as CPU tensors and numpy arrays."""
    lay = md.layout
    state = {k: getattr(md, k).detach().cpu().clone() for k in TENSORS}
    state.update({k: getattr(md, k).copy() for k in ARRAYS})
    state.update(
        numbers=lay.numbers.cpu().clone(),
        masses_amu=lay.masses_amu.cpu().clone(),
        ptr=lay.ptr.cpu().clone(),
        pbc=lay.pbc.cpu().clone(),
        reasons=list(md._reasons),
        rng=[g.get_state() for g in md._generators],
        candidates=None
        if md._cand is None
        else {k: v.cpu() for k, v in md._cand.to_dict().items()},
    )
    return state


def load(md: BatchedMD, state: dict) -> None:
    """Put a dump() back into md (same number of trajectories and settings)."""
    n = state["ptr"].numel() - 1
    if n != md.layout.n_systems:
        raise ValueError(
            f"the state holds {n} trajectories, this BatchedMD {md.layout.n_systems}"
        )
    ptr = state["ptr"].tolist()
    pieces = [slice(ptr[j], ptr[j + 1]) for j in range(n)]
    md.layout = make_layout(
        [state["numbers"][s].numpy() for s in pieces],
        [state["masses_amu"][s].numpy() for s in pieces],
        [state["pbc"][j].numpy() for j in range(n)],
        md.configs,
        md.device,
    )
    for k in TENSORS:
        setattr(md, k, state[k].to(md.device).clone())
    for k in ARRAYS:
        setattr(md, k, np.array(state[k]).copy())
    md._reasons = list(state["reasons"])
    for g, s in zip(md._generators, state["rng"], strict=True):
        g.set_state(s)
    cand = state["candidates"]
    md._cand = (
        None
        if cand is None
        else Candidates(**{k: v.to(md.device) for k, v in cand.items()})
    )
    md._subset, md._members = None, None


def splice(md: BatchedMD, i: int, atoms: Atoms) -> None:
    """Make room for a different system in slot i; the caller sets its positions."""
    lay = md.layout
    n = lay.n_systems
    pieces = [lay.slice(j) for j in range(n)]
    numbers = [lay.numbers[s].cpu().numpy() for s in pieces]
    masses = [lay.masses_amu[s].cpu().numpy() for s in pieces]
    numbers[i], masses[i] = np.asarray(atoms.numbers), atoms.get_masses()
    pbc = [lay.pbc[j].cpu().numpy() for j in range(n)]
    pbc[i] = np.asarray(atoms.pbc, dtype=bool)
    fresh = torch.zeros(len(atoms), 3, dtype=torch.float64, device=md.device)
    for name in ("positions_A", "velocities", "forces"):
        old = getattr(md, name)
        parts = [fresh if j == i else old[s] for j, s in enumerate(pieces)]
        setattr(md, name, torch.cat(parts))
    md.layout = make_layout(numbers, masses, pbc, md.configs, md.device)
    md._subset = None
