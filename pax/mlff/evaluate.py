"""`pax-eval MODEL_OR_RUN_DIR TEST.extxyz`: test-set errors, parity plots, JSON."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from ase import Atoms

from pax.errors import PaxError
from pax.fileio import atomic_write_json
from pax.mlff.metrics import (
    energy_spread_per_atom,
    error_metrics,
    per_element_force_errors,
)

log = logging.getLogger(__name__)

CHECKPOINT_SUFFIXES = (".pt", ".ckpt")


def find_models(target: Path) -> list[Path]:
    """The .model files a path names: the file itself, or all under a run directory."""
    if target.is_file():
        return [target]
    if target.is_dir():
        models = sorted(target.rglob("*.model"))
        if models:
            return models
        raise PaxError(f"{target}: no .model files in this directory (run finished?)")
    raise PaxError(f"{target}: no such model file or run directory")


def load_predictor(target: Path, device: str):
    """An Ensemble (checkpoint file) or ModelFiles committee for `target`."""
    from pax.mlff.ensemble import Ensemble, resolve_device

    if target.is_file() and target.suffix in CHECKPOINT_SUFFIXES:
        return Ensemble.load(target, device=device)
    from pax.mlff.predict import ModelFiles

    return ModelFiles(find_models(target), resolve_device(device))


def read_test_set(path: Path, energy_key: str, forces_key: str) -> list[Atoms]:
    """Structures with REF_energy / REF_forces filled from the given keys."""
    import ase.io

    if not path.is_file():
        raise PaxError(f"{path}: test set not found")
    frames = ase.io.read(path, index=":")
    out = []
    for i, atoms in enumerate(frames):
        calc = atoms.calc
        energy = atoms.info.get(energy_key)
        forces = atoms.arrays.get(forces_key)
        if energy is None and calc is not None and energy_key == "energy":
            energy = calc.results.get("energy")
        if forces is None and calc is not None and forces_key == "forces":
            forces = calc.results.get("forces")
        if energy is None or forces is None:
            raise PaxError(
                f"{path}: frame {i} lacks '{energy_key}' or '{forces_key}' "
                "(set --energy-key/--forces-key)"
            )
        atoms = atoms.copy()
        atoms.calc = None
        atoms.info["REF_energy"] = float(energy)
        atoms.arrays["REF_forces"] = np.asarray(forces, dtype=float)
        out.append(atoms)
    return out


def evaluate_predictor(
    predictor, frames: Sequence[Atoms], batch_size: int = 64
) -> dict:
    """Metrics of the committee mean on labelled frames, with the raw arrays.

    Returns:
        metrics (dict, JSON-ready: error_metrics, e_spread_per_atom (eV/atom),
        per_element, n_structures) and arrays: energy_pred/energy_ref (N,) eV,
        n_atoms (N,), forces_pred/forces_ref (n_atoms_total, 3) eV/Å, numbers.
    """
    e_pred, f_pred, e_members = [], [], []
    for start in range(0, len(frames), batch_size):
        out = predictor.predict(frames[start : start + batch_size])
        e_pred.append(out["energy"])
        e_members.append(out["energies"])  # (K, batch) eV
        f_pred.append(out["forces_comm"])
    arrays = {
        "energy_pred": np.concatenate(e_pred),
        "energy_ref": np.array([a.info["REF_energy"] for a in frames]),
        "n_atoms": np.array([len(a) for a in frames]),
        "forces_pred": np.concatenate(f_pred),
        "forces_ref": np.concatenate([a.arrays["REF_forces"] for a in frames]),
        "numbers": np.concatenate([a.numbers for a in frames]),
    }
    metrics = error_metrics(
        arrays["energy_pred"],
        arrays["energy_ref"],
        arrays["n_atoms"],
        arrays["forces_pred"],
        arrays["forces_ref"],
    )
    spread = energy_spread_per_atom(np.concatenate(e_members, 1), arrays["n_atoms"])
    metrics["e_spread_per_atom"] = float(spread.mean())
    metrics["per_element"] = per_element_force_errors(
        arrays["numbers"], arrays["forces_pred"], arrays["forces_ref"]
    )
    metrics["n_structures"] = len(frames)
    return {"metrics": metrics, "arrays": arrays}


def parity_plots(arrays: dict, out_dir: Path) -> list[Path]:
    """energy_parity.png (eV/atom) and forces_parity.png (eV/Å)."""
    from pax.tracking import plots

    n_atoms = arrays["n_atoms"]
    energy, forces = out_dir / "energy_parity.png", out_dir / "forces_parity.png"
    plots.parity(
        arrays["energy_pred"] / n_atoms,
        arrays["energy_ref"] / n_atoms,
        energy,
        quantity="energy",
        unit="eV/atom",
    )
    plots.parity(arrays["forces_pred"], arrays["forces_ref"], forces)
    return [energy, forces]


def summary_line(metrics: dict) -> str:
    """Energy and force errors in meV/atom, meV and meV/Å, on one line."""
    return (
        f"E MAE {metrics['e_mae_per_atom'] * 1e3:.2f} meV/atom "
        f"(RMSE {metrics['e_rmse_per_atom'] * 1e3:.2f}; per structure MAE "
        f"{metrics['e_mae'] * 1e3:.1f} meV, RMSE {metrics['e_rmse'] * 1e3:.1f} meV), "
        f"F MAE {metrics['f_mae'] * 1e3:.1f} meV/Å, "
        f"F RMSE {metrics['f_rmse'] * 1e3:.1f} meV/Å"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line arguments of pax-eval."""
    parser = argparse.ArgumentParser(
        prog="pax-eval",
        description="Energy and force errors of MACE models on a test set.",
    )
    parser.add_argument("model", type=Path, help=".model file, checkpoint or run dir")
    parser.add_argument("test", type=Path, help="extxyz test set with reference labels")
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--energy-key", default="REF_energy", help="info key (eV)")
    parser.add_argument("--forces-key", default="REF_forces", help="arrays key (eV/Å)")
    parser.add_argument("--batch-size", type=int, default=64, help="structures/batch")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict:
    """Entry point of pax-eval: metrics.json and parity plots, one summary line."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.batch_size < 1:
        raise PaxError(f"--batch-size={args.batch_size}: must be >= 1")
    out_dir = args.out or Path(f"eval_{args.test.stem}")
    frames = read_test_set(args.test, args.energy_key, args.forces_key)
    predictor = load_predictor(args.model, args.device)
    result = evaluate_predictor(predictor, frames, args.batch_size)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = dict(result["metrics"], model=str(args.model), test_set=str(args.test))
    atomic_write_json(out_dir / "metrics.json", metrics)
    parity_plots(result["arrays"], out_dir)
    print(f"{len(frames)} structures: {summary_line(metrics)} -> {out_dir}")
    return metrics
