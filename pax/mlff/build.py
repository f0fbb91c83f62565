"""Build MACE models from the config and dataset statistics (E0s, neighbours, scale)."""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import torch
from ase import Atoms
from e3nn import o3
from mace import modules
from mace.data import config_from_atoms
from mace.data.utils import compute_average_E0s
from mace.tools import AtomicNumberTable

from pax.errors import PaxError
from pax.mlff.config import MLFFConfig
from pax.mlff.graphs import KEYSPEC, GraphCache, torch_dtype

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass
class ModelStats:
    """What a MACE model takes from the data; saved with checkpoints to rebuild it."""

    atomic_numbers: list[int]
    """Elements in one-hot order (ascending Z)."""
    e0s: dict[int, float]
    """Isolated-atom energies (eV) by atomic number."""
    avg_num_neighbors: float
    """Mean number of neighbours within r_max."""
    shift: float
    """Mean interaction energy per atom (eV)."""
    scale: float
    """RMS of force components (eV/Å)."""

    def to_dict(self) -> dict:
        """JSON-friendly form (E0 keys as str)."""
        out = asdict(self)
        out["e0s"] = {str(z): float(e) for z, e in self.e0s.items()}
        return out

    @classmethod
    def from_dict(cls, data: dict) -> ModelStats:
        """Inverse of to_dict."""
        data = dict(data)
        data["e0s"] = {int(z): float(e) for z, e in data["e0s"].items()}
        return cls(**data)


def least_squares_e0s(atoms_list: list[Atoms], zs: list[int]) -> dict[int, float]:
    """E0s (eV) that best explain the reference energies as sums over elements."""
    configs = [config_from_atoms(a, key_specification=KEYSPEC) for a in atoms_list]
    configs = [c for c in configs if c.properties.get("energy") is not None]
    if not configs:
        raise PaxError(
            "least-squares E0s need reference energies (atoms.info['REF_energy'])"
        )
    e0s = compute_average_E0s(configs, AtomicNumberTable(zs))
    return {int(z): float(e) for z, e in e0s.items()}


def dataset_stats(
    atoms_list: list[Atoms],
    zs: list[int],
    e0s: dict[int, float] | None,
    r_max: float,
) -> ModelStats:
    """E0s (given or least squares), average neighbours, energy shift and force scale.

    Args:
        atoms_list: labelled structures (REF_energy, REF_forces).
        zs: all atomic numbers the models must know, ascending.
        e0s: isolated-atom energies (eV) by Z; None fits them by least squares.
        r_max: cutoff (Å) used to count neighbours.
    """
    if not atoms_list:
        raise PaxError("cannot build an ensemble from an empty training set")
    if e0s is None:
        e0s = least_squares_e0s(atoms_list, zs)
    missing = [z for z in zs if z not in e0s]
    if missing:
        raise PaxError(f"e0s lack elements {missing}; give one energy (eV) per element")
    cache = GraphCache(AtomicNumberTable(zs), r_max, torch.float64)
    n_neighbors, per_atom, forces = [], [], []
    for atoms in atoms_list:
        graph = cache.graph(atoms)
        receivers = graph.edge_index[1]
        counts = torch.bincount(receivers, minlength=len(atoms))
        n_neighbors.append(counts.double())
        e_ref = atoms.info.get("REF_energy")
        if e_ref is not None:
            e_atoms = sum(e0s[int(z)] for z in atoms.numbers)
            per_atom.append((float(e_ref) - e_atoms) / len(atoms))
        if "REF_forces" in atoms.arrays:
            forces.append(np.asarray(atoms.arrays["REF_forces"]).ravel())
    avg = float(torch.cat(n_neighbors).mean())
    shift = float(np.mean(per_atom)) if per_atom else 0.0
    scale = float(np.sqrt(np.mean(np.concatenate(forces) ** 2))) if forces else 1.0
    if not np.isfinite(scale) or scale < 1e-8:
        scale = 1.0
    return ModelStats(
        atomic_numbers=[int(z) for z in zs],
        e0s={int(z): float(e0s[z]) for z in zs},
        avg_num_neighbors=avg,
        shift=shift,
        scale=scale,
    )


def build_model(cfg: MLFFConfig, stats: ModelStats, seed: int) -> torch.nn.Module:
    """A ScaleShiftMACE (as mace_run_train builds it) with weights drawn from `seed`.

    The global torch RNG is left untouched.
    """
    zs = stats.atomic_numbers
    hidden = o3.Irreps(
        " + ".join(
            f"{cfg.num_channels}x{ell}{'e' if ell % 2 == 0 else 'o'}"
            for ell in range(cfg.max_L + 1)
        )
    )
    dtype = DTYPES[cfg.default_dtype.value]
    with (
        torch.random.fork_rng(devices=[]),
        torch_dtype(dtype),
        warnings.catch_warnings(),
    ):
        # e3nn scripts its codegen; each block warns about mace's annotations
        warnings.filterwarnings("ignore", message="The TorchScript type system")
        torch.manual_seed(seed)
        model = modules.ScaleShiftMACE(
            r_max=cfg.r_max,
            num_bessel=cfg.num_radial_basis,
            num_polynomial_cutoff=cfg.num_cutoff_basis,
            max_ell=cfg.max_ell,
            interaction_cls=modules.interaction_classes[
                "RealAgnosticResidualInteractionBlock"
            ],
            interaction_cls_first=modules.interaction_classes[
                "RealAgnosticResidualInteractionBlock"
            ],
            num_interactions=cfg.num_interactions,
            num_elements=len(zs),
            hidden_irreps=hidden,
            MLP_irreps=o3.Irreps(cfg.MLP_irreps),
            atomic_energies=np.array([stats.e0s[z] for z in zs]),
            avg_num_neighbors=stats.avg_num_neighbors,
            atomic_numbers=zs,
            correlation=cfg.correlation,
            gate=torch.nn.functional.silu,
            radial_MLP=list(cfg.radial_MLP),
            atomic_inter_scale=stats.scale,
            atomic_inter_shift=stats.shift,
        )
    return model.to(dtype)
