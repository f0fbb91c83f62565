"""Verlet neighbour lists over a batch of molecules and periodic cells, in torch.

A candidate list holds every pair within ``r_max + skin`` (with its periodic
image); each MD step keeps the candidates within ``r_max``. The list is rebuilt
only when an atom has moved more than half the skin (or a cell has changed
enough to matter), so between rebuilds a step costs one distance per candidate.
Edges follow mace-torch: vector = positions[receiver] - positions[sender] + shift,
with sender = edge_index[0] and shift = unit_shift @ cell.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import torch

log = logging.getLogger(__name__)


@dataclass
class Candidates:
    """Pairs within r_max + skin at the time of the build."""

    edge_index: torch.Tensor
    """(2, E) int64 global atom indices (sender, receiver)."""
    unit_shifts: torch.Tensor
    """(E, 3) float64 integer lattice shifts of the receiver's image."""
    positions_A: torch.Tensor
    """(A, 3) float64 positions at the build (Å)."""
    cell_A: torch.Tensor
    """(N, 3, 3) float64 cells at the build (Å), rows are lattice vectors."""
    images: torch.Tensor
    """(N, 3) int64 image counts per lattice direction used by the build."""

    def to_dict(self) -> dict[str, torch.Tensor]:
        """Plain tensors for a state dict."""
        return {k: v.clone() for k, v in self.__dict__.items()}


def wrap_positions(
    positions_A: torch.Tensor,
    cell_A: torch.Tensor,
    pbc: torch.Tensor,
    batch: torch.Tensor,
) -> torch.Tensor:
    """Positions moved into the cell along periodic directions.

    Args:
        positions_A: (A, 3) Å.
        cell_A: (N, 3, 3) Å.
        pbc: (N, 3) bool.
        batch: (A,) system index of each atom.

    Returns:
        (A, 3) Å, unchanged along non-periodic directions.
    """
    periodic = pbc.any(dim=1)
    if not bool(periodic.any()):
        return positions_A
    cell = _safe_cell(cell_A, pbc)[batch]  # (A, 3, 3)
    frac = torch.linalg.solve(cell.transpose(1, 2), positions_A.unsqueeze(-1)).squeeze(
        -1
    )
    frac = torch.where(pbc[batch], frac - torch.floor(frac), frac)
    return torch.where(
        periodic[batch].unsqueeze(-1),
        torch.einsum("ai,aij->aj", frac, cell),
        positions_A,
    )


def build(
    positions_A: torch.Tensor,
    ptr: torch.Tensor,
    cell_A: torch.Tensor,
    pbc: torch.Tensor,
    cutoff_A: float,
) -> Candidates:
    """All pairs closer than cutoff_A, inside each system, with periodic images.

    Positions must already be wrapped into their cells (see wrap_positions).

    Args:
        positions_A: (A, 3) float64 Å, all systems concatenated.
        ptr: (N + 1,) int64 offsets of each system's atoms.
        cell_A: (N, 3, 3) float64 Å.
        pbc: (N, 3) bool.
        cutoff_A: pair cutoff (Å), r_max + skin.

    Returns:
        The candidate pairs, sorted by (system, image, sender, receiver).
    """
    device = positions_A.device
    counts = ptr[1:] - ptr[:-1]  # (N,)
    n_sys, n_max = counts.numel(), int(counts.max())
    batch = torch.repeat_interleave(torch.arange(n_sys, device=device), counts)
    local = torch.arange(positions_A.shape[0], device=device) - ptr[batch]
    padded = positions_A.new_zeros(n_sys, n_max, 3)  # (N, n_max, 3) Å
    padded[batch, local] = positions_A
    valid = torch.zeros(n_sys, n_max, dtype=torch.bool, device=device)
    valid[batch, local] = True

    images = image_counts(cell_A, pbc, cutoff_A)  # (N, 3)
    reach = images.max(dim=0).values.tolist()
    grid = torch.tensor(
        list(itertools.product(*(range(-r, r + 1) for r in reach))),
        dtype=positions_A.dtype,
        device=device,
    )  # (S, 3)
    allowed = (grid.abs().unsqueeze(0) <= images.unsqueeze(1)).all(dim=-1)  # (N, S)
    offsets = torch.einsum("sk,nkj->nsj", grid, cell_A)  # (N, S, 3) Å
    vectors = (
        padded[:, None, None, :, :]
        + offsets[:, :, None, None, :]
        - padded[:, None, :, None, :]
    )  # (N, S, i, j, 3): x_j + shift - x_i
    mask = vectors.square().sum(-1) < cutoff_A**2
    mask &= (
        valid[:, None, :, None] & valid[:, None, None, :] & allowed[:, :, None, None]
    )
    is_origin = (grid == 0).all(dim=-1)  # (S,)
    eye = torch.eye(n_max, dtype=torch.bool, device=device)
    mask &= ~(is_origin[None, :, None, None] & eye[None, None])
    b, s, i, j = mask.nonzero(as_tuple=True)
    edge_index = torch.stack((ptr[b] + i, ptr[b] + j))
    return Candidates(edge_index, grid[s], positions_A.clone(), cell_A.clone(), images)


def image_counts(
    cell_A: torch.Tensor, pbc: torch.Tensor, cutoff_A: float
) -> torch.Tensor:
    """Periodic images per direction needed to see cutoff_A from a wrapped atom.

    Args:
        cell_A: (N, 3, 3) Å.
        pbc: (N, 3) bool.
        cutoff_A: Å.

    Returns:
        (N, 3) int64, zero along non-periodic directions.
    """
    inv = torch.linalg.inv(_safe_cell(cell_A, pbc))  # (N, 3, 3); column k is b_k / 2π
    spacing_inv = inv.norm(dim=1)  # (N, 3) 1/Å: inverse distance between lattice planes
    counts = torch.ceil(cutoff_A * spacing_inv).to(torch.int64)
    return torch.where(pbc, counts, torch.zeros_like(counts))


def needs_rebuild(
    cand: Candidates,
    positions_A: torch.Tensor,
    cell_A: torch.Tensor,
    batch: torch.Tensor,
    skin_A: float,
) -> bool:
    """Whether some pair may have crossed into r_max since the build.

    A pair's distance changes by at most the two atoms' displacements plus the
    change of its lattice offset, so the list is safe while that stays below
    the skin.
    """
    disp = (positions_A - cand.positions_A).norm(dim=-1)  # (A,) Å
    n_sys = cell_A.shape[0]
    worst = torch.zeros(n_sys, dtype=disp.dtype, device=disp.device)
    worst = worst.scatter_reduce(0, batch, disp, reduce="amax")  # (N,) Å
    cell_change = (cell_A - cand.cell_A).norm(dim=-1)  # (N, 3) Å per lattice vector
    lattice = (cell_change * cand.images.to(disp.dtype)).sum(-1)  # (N,) Å
    return bool((2 * worst + lattice >= skin_A).any())


def within(
    cand: Candidates,
    positions_A: torch.Tensor,
    cell_A: torch.Tensor,
    edge_system: torch.Tensor,
    r_max_A: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The candidate pairs closer than r_max now.

    Args:
        cand: candidates (possibly a subset of systems, indices already remapped).
        positions_A: (A, 3) Å.
        cell_A: (N, 3, 3) Å.
        edge_system: (E,) system index of each candidate edge.
        r_max_A: model cutoff (Å).

    Returns:
        edge_index (2, E') int64, shifts (E', 3) Å, unit_shifts (E', 3).
    """
    shifts = torch.einsum(
        "ek,ekj->ej", cand.unit_shifts, cell_A[edge_system]
    )  # (E, 3) Å
    sender, receiver = cand.edge_index
    vectors = positions_A[receiver] - positions_A[sender] + shifts
    keep = vectors.square().sum(-1) < r_max_A**2
    return cand.edge_index[:, keep], shifts[keep], cand.unit_shifts[keep]


def _safe_cell(cell_A: torch.Tensor, pbc: torch.Tensor) -> torch.Tensor:
    """Cells whose non-periodic, zero lattice vectors are replaced by unit vectors."""
    eye = torch.eye(3, dtype=cell_A.dtype, device=cell_A.device).expand_as(cell_A)
    empty = (~pbc) & (cell_A.norm(dim=-1) == 0)  # (N, 3)
    return torch.where(empty.unsqueeze(-1), eye, cell_A)
