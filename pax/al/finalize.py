"""The end of a run: converge, export models and datasets, summary and plots."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from ase.io import write

from pax.al.context import Context
from pax.mlff.metrics import committee_errors

log = logging.getLogger(__name__)


def converge(ctx: Context) -> None:
    """Train the best member (or all) to convergence, as al.converge says."""
    al = ctx.cfg.al
    if al.converge.value == "none":
        return
    ctx.tracker.log("phase", {"phase": "converge", "event": "start"})
    ctx.use_free_cores()
    with ctx.budget.section("training/converge"):
        result = ctx.ensemble.converge(
            ctx.member_train_sets(),
            ctx.store.get("valid"),
            al.convergence_patience,
            al.convergence_margin,
            al.max_convergence_epochs,
            members=al.converge.value,
        )
    for record in result.get("records", []):
        ctx.tracker.log("train", {**record, "phase": "converge"})
    ctx.tracker.log("phase", {"phase": "converge", "event": "end"})


def write_results(ctx: Context, summary: dict) -> Path:
    """Write results/ (models, train/valid extxyz, summary.json, plots); return it.

    The members' energy offsets are re-fit on their training sets first.
    """
    results = ctx.run_dir / "results"
    tmp = ctx.run_dir / "results.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    ctx.ensemble.refit_offsets(ctx.member_train_sets())
    model_paths = ctx.ensemble.export(tmp / "models")
    write(str(tmp / "train.extxyz"), ctx.train_frames(), format="extxyz")
    write(str(tmp / "valid.extxyz"), ctx.store.get("valid"), format="extxyz")
    valid = ctx.store.get("valid")
    valid_pred = ctx.ensemble.predict(valid)
    metrics = committee_errors(valid_pred, valid)
    summary["final_validation"] = metrics
    if ctx.test_frames:
        test_pred = ctx.ensemble.predict(ctx.test_frames)
        summary["test"] = committee_errors(test_pred, ctx.test_frames)
    summary["energy"] = energy_figures(summary)
    warning = energy_warning(metrics, ctx.cfg.mlff)
    if warning:
        log.warning(warning)
        print(f"pax: warning: {warning}", flush=True)
    summary["energy_warning"] = warning
    summary["time_budget"] = ctx.budget.report()
    (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    shutil.rmtree(results, ignore_errors=True)
    tmp.rename(results)
    ctx.tracker.summary(summary)
    ctx.tracker.log_model([results / "models" / p.name for p in model_paths])
    _parity(valid_pred, valid, results / "parity_valid.png", "validation")
    if ctx.test_frames:
        _parity(test_pred, ctx.test_frames, results / "parity_test.png", "test")
    return results


def energy_figures(summary: dict) -> dict:
    """Energy errors in meV/atom and meV per structure, and the members' spread."""
    out = {}
    for name in ("final_validation", "test"):
        if name not in summary:
            continue
        mean = summary[name]["mean"]
        prefix = "valid" if name == "final_validation" else "test"
        out[f"{prefix}_e_mae_meV_per_atom"] = 1e3 * mean["e_mae_per_atom"]
        out[f"{prefix}_e_rmse_meV_per_atom"] = 1e3 * mean["e_rmse_per_atom"]
        out[f"{prefix}_e_mae_meV"] = 1e3 * mean["e_mae"]
        out[f"{prefix}_e_rmse_meV"] = 1e3 * mean["e_rmse"]
        out[f"{prefix}_e_spread_meV_per_atom"] = 1e3 * mean["e_spread_per_atom"]
        out[f"{prefix}_member_e_mae_meV_per_atom"] = [
            1e3 * m["e_mae_per_atom"] for m in summary[name]["members"]
        ]
    return out


def energy_warning(metrics: dict, mlff) -> str | None:
    """A sentence when the members disagree on energies (mlff.warn_energy_*)."""
    maes = [m["e_mae_per_atom"] for m in metrics["members"]]
    spread = metrics["mean"]["e_spread_per_atom"]
    listed = ", ".join(f"{1e3 * e:.1f}" for e in maes)
    if max(maes) > mlff.warn_energy_mae_ratio * min(maes):
        return (
            f"members' validation energy MAEs differ by more than "
            f"mlff.warn_energy_mae_ratio={mlff.warn_energy_mae_ratio:g}x "
            f"({listed} meV/atom); energies are less trustworthy than forces"
        )
    if spread > mlff.warn_energy_spread:
        return (
            f"members' energies disagree by {1e3 * spread:.1f} meV/atom (SD, mean "
            f"over validation) > mlff.warn_energy_spread="
            f"{1e3 * mlff.warn_energy_spread:g} meV/atom (member MAEs {listed})"
        )
    return None


def _parity(pred: dict, frames, path: Path, title: str) -> None:
    import numpy as np

    from pax.tracking import plots

    ref = np.concatenate([a.arrays["REF_forces"] for a in frames])
    plots.parity(pred["forces_comm"].ravel(), ref.ravel(), path, title=title)
