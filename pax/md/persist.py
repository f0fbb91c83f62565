"""Saving, restoring and re-laying-out an MDState.

dump() gives CPU tensors and numpy arrays under the keys earlier pax versions
wrote, so saved runs from them load too.
"""

from __future__ import annotations

import numpy as np
import torch
from ase import Atoms

from pax.md.config import MDConfig
from pax.md.layout import make_layout
from pax.md.molecules import molecule_ids
from pax.md.mtk import fresh_rows
from pax.md.neighbors import Candidates
from pax.md.state import MDState

TENSORS = ("positions_A", "velocities", "forces", "stress", "energy_eV", "cell_A")
ARRAYS = {"forces_valid": "_forces_valid", "status": "_status", "steps": "steps"}
"""MDState field -> key in the saved dict."""


def dump(state: MDState) -> dict:
    """Everything that moves, as CPU tensors and numpy arrays (copies)."""
    lay = state.layout
    saved = {k: getattr(state, k).detach().cpu().clone() for k in TENSORS}
    saved.update({key: getattr(state, k).copy() for k, key in ARRAYS.items()})
    saved.update(
        numbers=lay.numbers.cpu().clone(),
        masses_amu=lay.masses_amu.cpu().clone(),
        ptr=lay.ptr.cpu().clone(),
        pbc=lay.pbc.cpu().clone(),
        molecules=[m.copy() for m in lay.local_molecules],
        mtk=state.mtk.detach().cpu().clone(),
        reasons=list(state.reasons),
        rng=[g.get_state() for g in state.generators],
        candidates=None
        if state.candidates is None
        else {k: v.cpu() for k, v in state.candidates.to_dict().items()},
    )
    return saved


def load(saved: dict, configs: list[MDConfig], device: torch.device) -> MDState:
    """The state in a dump(), on device, with one MD config per trajectory.

    Raises:
        ValueError: the dump holds another number of trajectories.
    """
    n = saved["ptr"].numel() - 1
    if n != len(configs):
        raise ValueError(
            f"the state holds {n} trajectories, the settings {len(configs)}"
        )
    ptr = saved["ptr"].tolist()
    pieces = [slice(ptr[j], ptr[j + 1]) for j in range(n)]
    layout = make_layout(
        [saved["numbers"][s].numpy() for s in pieces],
        [saved["masses_amu"][s].numpy() for s in pieces],
        [saved["pbc"][j].numpy() for j in range(n)],
        configs,
        device,
        saved.get("molecules"),  # absent in states of older pax: one per system
    )
    generators = [torch.Generator(device=device) for _ in range(n)]
    for g, rng in zip(generators, saved["rng"], strict=True):
        g.set_state(rng)
    cand = saved["candidates"]
    return MDState(
        layout=layout,
        **{k: saved[k].to(device).clone() for k in TENSORS},
        **{k: np.array(saved[key]).copy() for k, key in ARRAYS.items()},
        reasons=list(saved["reasons"]),
        generators=generators,
        candidates=None
        if cand is None
        else Candidates(**{k: v.to(device) for k, v in cand.items()}),
        mtk=saved["mtk"].to(device).clone()
        if "mtk" in saved  # absent in states of older pax: chains at rest
        else fresh_rows(saved["cell_A"].to(device)),
    )


def splice(state: MDState, i: int, atoms: Atoms, configs: list[MDConfig]) -> None:
    """Make room for a different system in slot i.

    Its positions, velocities and forces are zero; place() (pax.md.state) fills them.
    """
    lay = state.layout
    n = lay.n_systems
    pieces = [lay.slice(j) for j in range(n)]
    numbers = [lay.numbers[s].cpu().numpy() for s in pieces]
    masses = [lay.masses_amu[s].cpu().numpy() for s in pieces]
    numbers[i], masses[i] = np.asarray(atoms.numbers), atoms.get_masses()
    pbc = [lay.pbc[j].cpu().numpy() for j in range(n)]
    pbc[i] = np.asarray(atoms.pbc, dtype=bool)
    molecules = list(lay.local_molecules)
    molecules[i] = molecule_ids(atoms)
    fresh = torch.zeros(len(atoms), 3, dtype=torch.float64, device=state.device)
    for name in ("positions_A", "velocities", "forces"):
        old = getattr(state, name)
        parts = [fresh if j == i else old[s] for j, s in enumerate(pieces)]
        setattr(state, name, torch.cat(parts))
    state.layout = make_layout(numbers, masses, pbc, configs, state.device, molecules)
