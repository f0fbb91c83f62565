"""Neighbour lists in torch agree with mace-torch's (matscipy) lists."""

import numpy as np
import torch
from ase.io import read

from pax.md import neighbors
from tests.conftest import ROOT
from tests.unit.md.helpers import molecule


def _reference(atoms, cutoff):
    from mace.data.neighborhood import get_neighborhood

    edge_index, _, unit_shifts, _ = get_neighborhood(
        atoms.positions,
        cutoff,
        tuple(bool(p) for p in atoms.pbc),
        atoms.cell.array.copy(),
    )
    return {
        (int(i), int(j), *map(int, s)) for (i, j), s in zip(edge_index.T, unit_shifts)
    }


def _ours(systems, cutoff):
    f64 = torch.float64
    counts = torch.tensor([len(a) for a in systems])
    ptr = torch.cat([torch.zeros(1, dtype=torch.int64), counts.cumsum(0)])
    pos = torch.tensor(np.concatenate([a.positions for a in systems]), dtype=f64)
    cell = torch.tensor(np.array([a.cell.array for a in systems]), dtype=f64)
    pbc = torch.tensor(np.array([a.pbc for a in systems]))
    batch = torch.repeat_interleave(torch.arange(len(systems)), counts)
    pos = neighbors.wrap_positions(pos, cell, pbc, batch)
    cand = neighbors.build(pos, ptr, cell, pbc, cutoff)
    edges = []
    for k in range(len(systems)):
        keep = batch[cand.edge_index[0]] == k
        off = int(ptr[k])
        e = cand.edge_index[:, keep] - off
        s = cand.unit_shifts[keep].to(torch.int64)
        edges.append({(int(i), int(j), *map(int, u)) for (i, j), u in zip(e.T, s)})
    return edges, pos


def test_molecules_and_cells_in_one_batch_match_mace():
    copper = read(ROOT / "data" / "systems" / "copper.extxyz")
    copper.rattle(0.1, seed=1)
    small = copper[:4]  # 4-atom periodic cell: needs images beyond the first shell
    small.set_cell(copper.cell.array / 2)
    systems = [molecule("aspirin"), copper, molecule("water"), small]
    ours, wrapped = _ours(systems, 5.0)
    for atoms, got in zip(systems, ours):
        # the wrap moves atoms by lattice vectors only: compare on the wrapped copy
        assert got == _reference(
            atoms.copy() if not atoms.pbc.any() else _wrapped(atoms), 5.0
        )
        assert len(got) > 0


def _wrapped(atoms):
    out = atoms.copy()
    out.wrap()
    return out


def test_rebuild_only_past_half_the_skin():
    atoms = molecule("ethanol")
    pos = torch.tensor(atoms.positions)
    cell = torch.zeros(1, 3, 3, dtype=torch.float64)
    batch = torch.zeros(len(atoms), dtype=torch.int64)
    cand = neighbors.build(
        pos, torch.tensor([0, len(atoms)]), cell, torch.zeros(1, 3, dtype=bool), 6.0
    )
    moved = pos.clone()
    moved[0, 0] += 0.49
    assert not neighbors.needs_rebuild(cand, moved, cell, batch, skin_A=1.0)
    moved[0, 0] += 0.02
    assert neighbors.needs_rebuild(cand, moved, cell, batch, skin_A=1.0)
