"""Error metrics of energies and forces (numpy; shared by training and pax-eval)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from pax.errors import PaxError


def error_metrics(
    energy_pred: np.ndarray,
    energy_ref: np.ndarray,
    n_atoms: np.ndarray,
    forces_pred: np.ndarray,
    forces_ref: np.ndarray,
) -> dict[str, float]:
    """Energy MAE and RMSE (per atom and per structure), force MAE and RMSE.

    Args:
        energy_pred: (n_systems,) predicted energies, eV.
        energy_ref: (n_systems,) reference energies, eV.
        n_atoms: (n_systems,) atoms per system.
        forces_pred: (n_atoms_total, 3) predicted forces, eV/Å.
        forces_ref: (n_atoms_total, 3) reference forces, eV/Å.

    Returns:
        e_mae_per_atom, e_rmse_per_atom (eV/atom), e_mae, e_rmse (eV per
        structure), f_mae and f_rmse (eV/Å).
    """
    de_total = np.asarray(energy_pred) - np.asarray(energy_ref)  # (n_systems,) eV
    de = de_total / np.asarray(n_atoms)  # eV/atom
    df = np.asarray(forces_pred) - np.asarray(forces_ref)  # (n_atoms_total, 3) eV/Å
    return {
        "e_mae_per_atom": float(np.mean(np.abs(de))),
        "e_rmse_per_atom": float(np.sqrt(np.mean(de**2))),
        "e_mae": float(np.mean(np.abs(de_total))),
        "e_rmse": float(np.sqrt(np.mean(de_total**2))),
        "f_mae": float(np.mean(np.abs(df))),
        "f_rmse": float(np.sqrt(np.mean(df**2))),
    }


def committee_errors(pred: dict, atoms_list: Sequence[Atoms]) -> dict:
    """Errors of the committee mean and of each member against REF_ labels.

    Args:
        pred: committee predictions of atoms_list (pax.mlff.predict.committee_predict).
        atoms_list: the structures with their reference labels.

    Returns:
        {"mean": metrics, "members": [metrics per member]} as error_metrics; "mean"
        also has e_spread_per_atom, the members' energy SD per atom (eV/atom)
        averaged over the structures.
    """
    ref_e, ref_f, n_atoms = reference_arrays(atoms_list)
    mean = error_metrics(pred["energy"], ref_e, n_atoms, pred["forces_comm"], ref_f)
    spread = energy_spread_per_atom(pred["energies"], n_atoms)  # (N,) eV/atom
    mean["e_spread_per_atom"] = float(spread.mean())
    return {
        "mean": mean,
        "members": [
            error_metrics(e, ref_e, n_atoms, f, ref_f)
            for e, f in zip(pred["energies"], pred["forces"], strict=True)
        ],
    }


def energy_spread_per_atom(energies: np.ndarray, n_atoms: np.ndarray) -> np.ndarray:
    """The committee's energy disagreement: SD over members of E / n_atoms.

    Args:
        energies: (K, n_systems) energies of each member, eV.
        n_atoms: (n_systems,) atoms per system.

    Returns:
        (n_systems,) standard deviation over members, eV/atom.
    """
    per_atom = np.asarray(energies) / np.asarray(n_atoms)[None, :]  # (K, N) eV/atom
    return per_atom.std(axis=0)


def per_element_force_errors(
    numbers: np.ndarray, forces_pred: np.ndarray, forces_ref: np.ndarray
) -> dict[str, dict[str, float]]:
    """Force MAE and RMSE (eV/Å) per element symbol.

    Args:
        numbers: (n_atoms_total,) atomic numbers.
        forces_pred: (n_atoms_total, 3) predicted forces, eV/Å.
        forces_ref: (n_atoms_total, 3) reference forces, eV/Å.
    """
    numbers = np.asarray(numbers)
    df = np.asarray(forces_pred) - np.asarray(forces_ref)  # (n_atoms_total, 3) eV/Å
    out = {}
    for z in sorted(set(numbers.tolist())):
        d = df[numbers == z]
        out[chemical_symbols[z]] = {
            "f_mae": float(np.mean(np.abs(d))),
            "f_rmse": float(np.sqrt(np.mean(d**2))),
            "n_atoms": int(len(d)),
        }
    return out


def reference_arrays(
    atoms_list: Sequence[Atoms],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """REF energies (N,) eV, forces (n_atoms_total, 3) eV/Å and atom counts (N,)."""
    try:
        ref_e = np.array([float(a.info["REF_energy"]) for a in atoms_list])
        ref_f = np.concatenate([np.asarray(a.arrays["REF_forces"]) for a in atoms_list])
    except KeyError as exc:
        raise PaxError(f"validation structures need labels: missing {exc}") from None
    return ref_e, ref_f, np.array([len(a) for a in atoms_list])
