"""Committee prediction: many systems in graph batches, every member on each."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from mace.tools import AtomicNumberTable

from pax.errors import PaxError
from pax.mlff.graphs import (
    CPU_BATCH_ATOMS,
    GraphCache,
    consecutive_chunks,
    torch_dtype,
)
from pax.mlff.train import forward_eval

log = logging.getLogger(__name__)


def committee_predict(
    models: Sequence[torch.nn.Module],
    cache: GraphCache,
    atoms_list: Sequence[Atoms],
    device: torch.device,
    compute_stress: bool = False,
) -> dict:
    """Per-member and committee energies and forces for all systems.

    Returns numpy arrays: energies (K, N) eV, forces (K, n_atoms_total, 3) eV/Å,
    energy (N) and energy_var (N), forces_comm (n_atoms_total, 3) mean and
    forces_var (n_atoms_total, 3) variance over members, ptr (N+1) atom offsets;
    with compute_stress also stresses (K, N, 3, 3) and stress (N, 3, 3) eV/Å^3.
    """
    if len(atoms_list) == 0:
        raise PaxError("predict needs at least one structure")
    max_atoms = CPU_BATCH_ATOMS if torch.device(device).type == "cpu" else None
    outs = []  # per chunk, per member
    with torch_dtype(cache.dtype):
        for chunk in consecutive_chunks(atoms_list, max_atoms):
            batch = cache.batch(chunk, device)
            outs.append([forward_eval(m, batch, compute_stress) for m in models])

    def stacked(key: str) -> np.ndarray:
        per_member = zip(*outs, strict=True)
        return np.stack(
            [np.concatenate([o[key].cpu().numpy() for o in m]) for m in per_member]
        )

    energies = stacked("energy")  # (K, N) eV
    forces = stacked("forces")  # (K, n, 3) eV/Å
    result = {
        "energies": energies,
        "forces": forces,
        "energy": energies.mean(0),
        "energy_var": energies.var(0),
        "forces_comm": forces.mean(0),
        "forces_var": forces.var(0),
        "ptr": np.concatenate([[0], np.cumsum([len(a) for a in atoms_list])]),
    }
    if compute_stress:
        stresses = stacked("stress")
        result.update(stresses=stresses, stress=stresses.mean(0))
    return result


class ModelFiles:
    """A committee of MACE `.model` files (as Ensemble.export writes them).

    Args:
        paths: the model files; all must share elements, cutoff and dtype.
        device: torch device for the models.
    """

    def __init__(self, paths: Sequence[Path], device: torch.device) -> None:
        if not paths:
            raise PaxError("no .model files given")
        self.models = []
        for path in paths:
            model = torch.load(path, map_location=device, weights_only=False)
            model.eval()
            for p in model.parameters():
                p.requires_grad_(False)
            self.models.append(model)
        first = self.models[0]
        self.atomic_numbers = [int(z) for z in first.atomic_numbers]
        self.r_max = float(first.r_max)
        self.dtype = next(first.parameters()).dtype
        for path, model in zip(paths, self.models):
            same = [int(z) for z in model.atomic_numbers] == self.atomic_numbers
            if not same or float(model.r_max) != self.r_max:
                raise PaxError(f"{path}: elements or r_max differ from {paths[0]}")
        self.device = device
        self.cache = GraphCache(
            AtomicNumberTable(self.atomic_numbers), self.r_max, self.dtype
        )

    def predict(
        self, atoms_list: Sequence[Atoms], compute_stress: bool = False
    ) -> dict:
        """See committee_predict."""
        return committee_predict(
            self.models, self.cache, atoms_list, self.device, compute_stress
        )
