"""Exact least-squares re-fit of each member's per-element energy offsets (E0s).

A MACE energy is sum_i E0[z_i] + (learned interaction energy). Forces never see
the per-element constants, and with forces weighted far above energies the
learned part drifts by a constant per element during training (hundreds of
meV/atom, differently in each member). Adding the least-squares correction to
the E0 buffers removes that offset exactly on the training set; forces are
unchanged because E0s do not depend on positions.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

import numpy as np
import torch
from ase import Atoms

from pax.mlff.graphs import geometry_key, torch_dtype
from pax.mlff.parallel import map_members

log = logging.getLogger(__name__)


def composition(atoms_list: Sequence[Atoms], zs: Sequence[int]) -> np.ndarray:
    """Atoms of each element per structure: (N, n_elements) counts, zs order."""
    index = {int(z): i for i, z in enumerate(zs)}
    counts = np.zeros((len(atoms_list), len(zs)))
    for row, atoms in enumerate(atoms_list):
        for z in atoms.numbers:
            counts[row, index[int(z)]] += 1
    return counts


def lstsq_offsets(counts: np.ndarray, residual: np.ndarray) -> np.ndarray:
    """Per-element energies c (eV) minimising |counts @ c - residual|^2.

    The minimum-norm solution: with one composition only (a single molecule)
    the split over elements is the smallest one that fits.

    Args:
        counts: (N, n_elements) atoms of each element per structure.
        residual: (N,) reference minus predicted energy, eV.
    """
    solution, *_ = np.linalg.lstsq(counts, residual, rcond=None)
    return solution


def set_fingerprint(atoms_list: Sequence[Atoms]) -> str:
    """A digest of a training list (its structures and labels, in order)."""
    h = hashlib.blake2b(digest_size=16)
    for atoms in atoms_list:
        h.update(geometry_key(atoms))
    return h.hexdigest()


def member_energies(
    model: torch.nn.Module, batches: list, device: torch.device
) -> np.ndarray:
    """Energies (N,) eV of one model over prepared batches, without forces."""
    out = []
    for batch in batches:
        pred = model(batch.to_dict(), training=False, compute_force=False)
        out.append(pred["energy"].detach().cpu().numpy())
    return np.concatenate(out)


def shift_e0s(model: torch.nn.Module, delta: np.ndarray) -> None:
    """Add delta (n_elements,) eV to the model's isolated-atom energies, in place."""
    buf = model.atomic_energies_fn.atomic_energies  # (n_elements,) eV
    step = torch.as_tensor(delta, dtype=buf.dtype, device=buf.device)
    buf.add_(step.reshape(buf.shape))


def set_e0s(ens, e0s: dict[int, float]) -> None:
    """Set every member's isolated-atom energies (eV) to e0s where given, in place.

    For a switch of reference method (pretraining); forces are unchanged and
    the next training re-fits the offsets on the new labels.
    """
    current = ens.stats.e0s
    ens.stats.e0s = {z: float(e0s.get(z, current[z])) for z in ens.atomic_numbers}
    values = np.array([ens.stats.e0s[z] for z in ens.atomic_numbers])
    for member in ens.members:
        for model in (member.model, member.eval_model):
            buf = model.atomic_energies_fn.atomic_energies
            step = torch.as_tensor(values, dtype=buf.dtype, device=buf.device)
            buf.copy_(step.reshape(buf.shape))
    ens.offsets_fit_on = [None] * len(ens.members)


def refit_offsets(
    ens,
    train_sets,
    members: Sequence[int] | None = None,
    models: Sequence[str] = ("model", "eval_model"),
) -> list[np.ndarray]:
    """Re-fit the per-element offsets of members on their training sets.

    Each model is fit on its own energies: `model` (the weights being trained)
    and `eval_model` (the weights that predict, EMA when enabled) drift apart.

    Args:
        ens: the Ensemble (changed in place).
        train_sets: one list of labelled Atoms per member.
        members: indices to re-fit; None re-fits all.
        models: which of each member's models to re-fit.

    Returns:
        The corrections (n_elements,) eV added, per member and model, in order.
    """
    chosen = range(len(ens.members)) if members is None else members
    size = ens.cfg.valid_batch_size

    def refit_member(k: int) -> list[np.ndarray]:
        frames = [a for a in train_sets[k] if "REF_energy" in a.info]
        if not frames:
            return []
        batches = [
            ens.cache.batch(frames[i : i + size], ens.device)
            for i in range(0, len(frames), size)
        ]
        ref = np.array([float(a.info["REF_energy"]) for a in frames])
        counts = composition(frames, ens.atomic_numbers)
        out = []
        for name in models:
            model = getattr(ens.members[k], name)
            with torch.no_grad():
                residual = ref - member_energies(model, batches, ens.device)
            delta = lstsq_offsets(counts, residual)
            shift_e0s(model, delta)
            out.append(delta)
            log.debug(
                "member %d %s: offsets re-fit on %d frames (mean %.2f meV/atom)",
                k,
                name,
                len(frames),
                1e3 * float(np.mean(residual / counts.sum(1))),
            )
        if "model" in models:
            ens.offsets_fit_on[k] = set_fingerprint(train_sets[k])
        return out

    with torch_dtype(ens.dtype):
        per_member = map_members(refit_member, list(chosen), ens.cfg.parallel_members)
    return [delta for deltas in per_member for delta in deltas]
