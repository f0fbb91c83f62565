"""Structure descriptors: a MACE model's invariant node features per structure."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from ase import Atoms
from e3nn import o3
from mace.modules.utils import extract_invariant

from pax.mlff.graphs import GraphCache, torch_dtype


def structure_descriptors(
    model: torch.nn.Module,
    cache: GraphCache,
    atoms_list: Sequence[Atoms],
    device: torch.device,
) -> np.ndarray:
    """(N, d) descriptors: each structure's mean over atoms of its invariant features.

    The invariant (l = 0) node features of every interaction layer, as mace-torch's
    MACECalculator.get_descriptors extracts them.
    """
    irreps = o3.Irreps(str(model.products[0].linear.irreps_out))
    l_max = irreps.lmax
    with torch_dtype(cache.dtype):
        batch = cache.batch(atoms_list, device)
        out = model(batch.to_dict(), training=False, compute_force=False)
        feats = extract_invariant(
            out["node_feats"].detach(),
            num_layers=int(model.num_interactions),
            num_features=irreps.dim // (l_max + 1) ** 2,
            l_max=l_max,
        )
        sums = torch.zeros(len(atoms_list), feats.shape[1], dtype=feats.dtype)
        sums.index_add_(0, batch.batch.cpu(), feats.cpu())
        counts = torch.bincount(batch.batch.cpu(), minlength=len(atoms_list))
    return (sums / counts[:, None].to(sums.dtype)).numpy()
