"""The running trajectories as a compact batch: atom and edge indices remapped."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pax.md.layout import Layout
from pax.md.neighbors import Candidates


@dataclass
class Subset:
    """Which systems and atoms enter the model batch, and their candidate pairs."""

    key: bytes
    """The running mask it was made for."""
    systems: torch.Tensor
    """(B,) int64 trajectory indices in the batch."""
    atoms: torch.Tensor
    """(A_b,) int64 global atom indices in the batch."""
    numbers: torch.Tensor
    """(A_b,) int64 atomic numbers."""
    batch: torch.Tensor
    """(A_b,) int64 position of each atom's system in the batch."""
    ptr: torch.Tensor
    """(B + 1,) int64 atom offsets in the batch."""
    cand: Candidates
    """Candidate pairs among these atoms, indices local to the batch."""
    edge_system: torch.Tensor
    """(E,) int64 batch system of each candidate pair."""

    @property
    def n_systems(self) -> int:
        """B, the number of systems in the batch."""
        return self.systems.numel()


def make_subset(
    cand: Candidates, layout: Layout, running: np.ndarray, key: bytes
) -> Subset:
    """The compact batch of the running systems (running: (N,) bool)."""
    device = layout.ptr.device
    run = torch.as_tensor(running, device=device)
    systems = torch.nonzero(run).flatten()
    atom_mask = run[layout.batch]  # (A,)
    atoms = torch.nonzero(atom_mask).flatten()
    new_index = torch.full_like(layout.batch, -1)
    new_index[atoms] = torch.arange(atoms.numel(), device=device)
    counts = (layout.ptr[1:] - layout.ptr[:-1])[systems]
    ptr = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
    batch = torch.repeat_interleave(
        torch.arange(systems.numel(), device=device), counts
    )
    keep = atom_mask[cand.edge_index[0]]
    edge_index = new_index[cand.edge_index[:, keep]]
    local = Candidates(
        edge_index, cand.unit_shifts[keep], cand.positions_A, cand.cell_A, cand.images
    )
    return Subset(
        key=key,
        systems=systems,
        atoms=atoms,
        numbers=layout.numbers[atoms],
        batch=batch,
        ptr=ptr,
        cand=local,
        edge_system=batch[edge_index[0]],
    )
