"""Small pure decisions of the workflow: where a label goes, when to stop."""

from __future__ import annotations

import hashlib
import math


def goes_to_validation(n_train: int, n_valid: int, valid_ratio: float) -> bool:
    """True while validation holds under valid_ratio of all points (new one too)."""
    return n_valid < valid_ratio * (n_train + n_valid + 1)


def valid_by_hash(ticket: str, valid_ratio: float) -> bool:
    """True for a share valid_ratio of tickets, decided by the ticket alone.

    The same label lands in the same split whatever the order in which labels
    arrive and however often the run restarts.
    """
    return _hash64(f"pax-validation:{ticket}") < valid_ratio * 2**64


def bootstrap_counts(label_ids: list[str], member: int) -> list[int]:
    """How often each label appears in member's bootstrap set: Poisson(1) draws.

    Each count is decided by the label and the member alone (an online
    bootstrap), so a label keeps its count as the data grow and across restarts.
    """
    counts = []
    for label_id in label_ids:
        u = _hash64(f"pax-bootstrap:{member}:{label_id}") / 2**64
        k, p = 0, math.exp(-1.0)
        cdf = p
        while u > cdf:  # inverse CDF of Poisson(1)
            k += 1
            p /= k
            cdf += p
        counts.append(k)
    return counts


def _hash64(text: str) -> int:
    """The first 64 bits of text's SHA-256, as an integer."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def enough_validation(
    valid_f_mae: float | None, n_valid: int, min_valid: int
) -> float | None:
    """valid_f_mae when validation holds at least min_valid frames, else None."""
    return valid_f_mae if n_valid >= min_valid else None


def idg_stop(
    valid_f_mae: float | None,
    target: float,
    train_size: int,
    max_size: int,
    epochs: int,
    max_epochs: int,
    min_size: int = 0,
) -> str | None:
    """The reason IDG stops now, or None to continue."""
    accurate = valid_f_mae is not None and valid_f_mae <= target
    if accurate and train_size >= min_size:
        return f"validation force MAE {valid_f_mae:.4f} <= {target:.4f} eV/Å"
    if train_size >= max_size:
        return f"initial training set reached {train_size} >= max_initial_set_size"
    if epochs >= max_epochs:
        return f"{epochs} epochs >= max_initial_epochs"
    return None


def accuracy_stop(
    valid_f_mae: float | None,
    desired_acc: float,
    valid_e_mae_mev: float | None = None,
    desired_acc_energy_mev: float = 0.0,
    prospective_f_mae: float | None = None,
    prospective_on: bool = False,
) -> str | None:
    """The reason for AL's accuracy stop, or None while it does not hold.

    It needs the validation force MAE below desired_acc (eV/Å); when
    prospective_on, also the prospective force MAE (new labels' errors before
    training on them); when desired_acc_energy_mev > 0, also the validation
    energy MAE per atom (meV/atom) at or below it.
    """
    forces_ok = valid_f_mae is not None and valid_f_mae < desired_acc
    prospective_ok = not prospective_on or (
        prospective_f_mae is not None and prospective_f_mae < desired_acc
    )
    energy_on = desired_acc_energy_mev > 0
    energy_ok = not energy_on or (
        valid_e_mae_mev is not None and valid_e_mae_mev <= desired_acc_energy_mev
    )
    if not (forces_ok and prospective_ok and energy_ok):
        return None
    reason = f"validation force MAE {valid_f_mae:.4f} < desired_acc {desired_acc} eV/Å"
    if prospective_on:
        reason += f" and prospective force MAE {prospective_f_mae:.4f}"
    if energy_on:
        reason += (
            f" and energy MAE {valid_e_mae_mev:.2f} <= desired_acc_energy "
            f"{desired_acc_energy_mev} meV/atom"
        )
    return reason


def al_stop(
    valid_f_mae: float | None,
    desired_acc: float,
    train_size: int,
    max_train_set_size: int,
    min_md_steps: int,
    max_md_steps: int,
    valid_e_mae_mev: float | None = None,
    desired_acc_energy_mev: float = 0.0,
    prospective_f_mae: float | None = None,
    prospective_on: bool = False,
) -> str | None:
    """The reason AL stops now (accuracy_stop, size or MD limit), or None."""
    reason = accuracy_stop(
        valid_f_mae,
        desired_acc,
        valid_e_mae_mev,
        desired_acc_energy_mev,
        prospective_f_mae,
        prospective_on,
    )
    if reason:
        return reason
    if train_size >= max_train_set_size:
        return f"training set reached {train_size} >= max_train_set_size"
    if min_md_steps >= max_md_steps:
        return f"every trajectory ran {max_md_steps} MD steps (max_MD_steps)"
    return None
