"""Small real MACE models and molecules for the md tests."""

from __future__ import annotations

import numpy as np
import torch
from ase import Atoms
from ase.io import read

from tests.conftest import ROOT

CHO = [1, 6, 8]


def tiny_mace(
    seed: int,
    atomic_numbers=CHO,
    channels: int = 8,
    max_L: int = 1,
    r_max: float = 5.0,
    num_interactions: int = 2,
    dtype: torch.dtype = torch.float64,
    scale: float = 1.0,
) -> torch.nn.Module:
    """A randomly initialised mace.modules.ScaleShiftMACE (real mace-torch)."""
    from e3nn import o3
    from mace import modules

    torch.manual_seed(seed)
    block = modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
    irreps = " + ".join(
        f"{channels}x{ell}{'e' if ell % 2 == 0 else 'o'}" for ell in range(max_L + 1)
    )
    model = modules.ScaleShiftMACE(
        atomic_inter_scale=scale,
        atomic_inter_shift=0.0,
        r_max=r_max,
        num_bessel=8,
        num_polynomial_cutoff=5,
        max_ell=3,
        interaction_cls=block,
        interaction_cls_first=block,
        num_interactions=num_interactions,
        num_elements=len(atomic_numbers),
        hidden_irreps=o3.Irreps(irreps),
        MLP_irreps=o3.Irreps("16x0e"),
        gate=torch.nn.functional.silu,
        atomic_energies=np.zeros(len(atomic_numbers)),
        avg_num_neighbors=8.0,
        atomic_numbers=list(atomic_numbers),
        correlation=3,
        radial_type="bessel",
        radial_MLP=[16, 16, 16],
    )
    return model.to(dtype)


def molecule(name: str) -> Atoms:
    """A molecule from data/systems (aspirin, ethanol, water)."""
    return read(ROOT / "data" / "systems" / f"{name}.xyz")
