"""Evaluating MACE members on a batched graph, and the committee statistics.

The input dict follows mace-torch's AtomicData batches (mace.data.AtomicData,
mace.tools.torch_geometric.Batch): positions, node_attrs (one-hot over the
model's atomic numbers), edge_index, shifts, unit_shifts, cell (stacked 3x3
blocks), batch, ptr, head.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from pax.al.uncertainty import Committee, committee_uncertainty

log = logging.getLogger(__name__)


@dataclass
class Graph:
    """A batch of systems as a MACE model takes it (float64 here; cast per model)."""

    positions_A: torch.Tensor
    """(A, 3) Å."""
    numbers: torch.Tensor
    """(A,) int64 atomic numbers."""
    edge_index: torch.Tensor
    """(2, E) int64 (sender, receiver)."""
    shifts_A: torch.Tensor
    """(E, 3) Å lattice offsets of the receivers."""
    unit_shifts: torch.Tensor
    """(E, 3) integer lattice shifts (as floats)."""
    cell_A: torch.Tensor
    """(B, 3, 3) Å."""
    batch: torch.Tensor
    """(A,) int64 system of each atom."""
    ptr: torch.Tensor
    """(B + 1,) int64 atom offsets."""


@dataclass
class MemberOutputs:
    """What every evaluated member predicted, stacked over members."""

    energy_eV: torch.Tensor
    """(K, B) float64 eV."""
    forces: torch.Tensor
    """(K, A, 3) float64 eV/Å."""
    stress: torch.Tensor | None
    """(K, B, 3, 3) float64 eV/Å³, when asked for."""


def one_hot(
    numbers: torch.Tensor, model: torch.nn.Module, dtype: torch.dtype
) -> torch.Tensor:
    """node_attrs for one model: one-hot over its atomic_numbers buffer.

    Raises:
        ValueError: an element the model was not built for.
    """
    table = model.atomic_numbers.to(device=numbers.device, dtype=torch.int64)  # (Z,)
    index = torch.searchsorted(table, numbers)
    bad = (index >= table.numel()) | (
        table[index.clamp(max=table.numel() - 1)] != numbers
    )
    if bool(bad.any()):
        missing = sorted({int(z) for z in numbers[bad]})
        raise ValueError(
            f"the model has no elements {missing} (it knows {table.tolist()})"
        )
    return torch.nn.functional.one_hot(index, table.numel()).to(dtype)


def model_dtype(model: torch.nn.Module) -> torch.dtype:
    """The floating dtype of a model's parameters."""
    return next(model.parameters()).dtype


def split(graph: Graph, max_atoms: int | None) -> list[Graph]:
    """Consecutive systems in sub-batches of at most max_atoms atoms (None: one).

    A system larger than max_atoms gets a sub-batch of its own.
    """
    ptr = graph.ptr.tolist()
    if max_atoms is None or ptr[-1] <= max_atoms:
        return [graph]
    bounds, start = [0], 0
    for s in range(1, len(ptr)):
        if ptr[s] - ptr[start] > max_atoms and s - 1 > start:
            bounds.append(s - 1)
            start = s - 1
    bounds.append(len(ptr) - 1)
    sender = graph.edge_index[0]
    parts = []
    for s0, s1 in zip(bounds[:-1], bounds[1:], strict=True):
        a0, a1 = ptr[s0], ptr[s1]
        edges = (sender >= a0) & (sender < a1)
        parts.append(
            Graph(
                graph.positions_A[a0:a1],
                graph.numbers[a0:a1],
                graph.edge_index[:, edges] - a0,
                graph.shifts_A[edges],
                graph.unit_shifts[edges],
                graph.cell_A[s0:s1],
                graph.batch[a0:a1] - s0,
                graph.ptr[s0 : s1 + 1] - a0,
            )
        )
    return parts


def evaluate(
    models: list[torch.nn.Module],
    graph: Graph,
    compute_stress: bool,
    dtype: torch.dtype | None = None,
    max_atoms: int | None = None,
) -> MemberOutputs:
    """Energies, forces (and stresses) of each member on the whole batch.

    Args:
        models: MACE modules (atomic_numbers and r_max buffers as mace.modules.MACE).
        graph: the batch, float64.
        compute_stress: also return stresses (periodic systems).
        dtype: evaluate in this dtype; None takes each model's own.
        max_atoms: evaluate in sub-batches of at most this many atoms (CPU caches
            favour a few hundred); None: the whole batch at once.

    Returns:
        Stacked member outputs, float64.
    """
    parts = [
        _evaluate(models, part, compute_stress, dtype)
        for part in split(graph, max_atoms)
    ]
    if len(parts) == 1:
        return parts[0]
    return MemberOutputs(
        energy_eV=torch.cat([p.energy_eV for p in parts], dim=1),
        forces=torch.cat([p.forces for p in parts], dim=1),
        stress=torch.cat([p.stress for p in parts], dim=1) if compute_stress else None,
    )


def _evaluate(
    models: list[torch.nn.Module],
    graph: Graph,
    compute_stress: bool,
    dtype: torch.dtype | None,
) -> MemberOutputs:
    energies, forces, stresses = [], [], []
    attrs: dict[tuple, torch.Tensor] = {}
    for model in models:
        dt = dtype or model_dtype(model)
        key = (tuple(model.atomic_numbers.tolist()), dt)
        if key not in attrs:
            attrs[key] = one_hot(graph.numbers, model, dt)
        data = {
            "positions": graph.positions_A.detach().to(dt).requires_grad_(True),
            "node_attrs": attrs[key],
            "edge_index": graph.edge_index,
            "shifts": graph.shifts_A.to(dt),
            "unit_shifts": graph.unit_shifts.to(dt),
            "cell": graph.cell_A.to(dt).reshape(-1, 3),
            "batch": graph.batch,
            "ptr": graph.ptr,
            "head": torch.zeros(
                graph.ptr.numel() - 1, dtype=torch.int64, device=graph.ptr.device
            ),
        }
        with torch.enable_grad():
            out = model(
                data, training=False, compute_force=True, compute_stress=compute_stress
            )
        energies.append(out["energy"].detach())
        forces.append(out["forces"].detach())
        if compute_stress:
            stresses.append(out["stress"].detach())
    f64 = torch.float64
    return MemberOutputs(
        energy_eV=torch.stack(energies).to(f64),
        forces=torch.stack(forces).to(f64),
        stress=torch.stack(stresses).to(f64) if compute_stress else None,
    )


def committee_stats(
    outputs: MemberOutputs,
    batch: torch.Tensor,
    n_systems: int,
    molecule: torch.Tensor | None = None,
    geometry: dict | None = None,
) -> dict:
    """Every uncertainty measure of pax.al.uncertainty, per system.

    Args:
        outputs: forces (K, A, 3) eV/Å and energies (K, B) eV.
        batch: (A,) system of each atom.
        n_systems: B.
        molecule: (A,) molecule of each atom (None: one per system).
        geometry: positions (A, 3) Å, masses (A,) amu, cells (B, 3, 3) Å and
            pbc (B, 3), for the torque measure (None: torques are zero).

    Returns:
        Tensors: atomic_sd (A,) eV/Å, energy_sd (B,) eV and one (B,) tensor per
        name in pax.al.uncertainty.MEASURES.
    """
    committee = Committee(
        outputs.forces,
        outputs.energy_eV,
        batch,
        n_systems,
        molecule,
        **(geometry or {}),
    )
    return committee_uncertainty(committee)
