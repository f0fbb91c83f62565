"""The end of a run: converge, export models and datasets, summary and plots."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from ase.io import write

from pax.al.context import Context

log = logging.getLogger(__name__)


def converge(ctx: Context) -> None:
    """Train the best member (or all) to convergence, as al.converge says."""
    al = ctx.cfg.al
    if al.converge.value == "none":
        return
    ctx.tracker.log("phase", {"phase": "converge", "event": "start"})
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
    """Write results/ (models, train/valid extxyz, summary.json, plots); return it."""
    results = ctx.run_dir / "results"
    tmp = ctx.run_dir / "results.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    model_paths = ctx.ensemble.export(tmp / "models")
    train = [
        a
        for s in sorted(ctx.store.splits)
        if s.startswith("train")
        for a in ctx.store.get(s)
    ]
    write(str(tmp / "train.extxyz"), train, format="extxyz")
    write(str(tmp / "valid.extxyz"), ctx.store.get("valid"), format="extxyz")
    valid = ctx.store.get("valid")
    metrics = ctx.ensemble.evaluate(valid)
    summary["final_validation"] = metrics
    if ctx.test_frames:
        summary["test"] = ctx.ensemble.evaluate(ctx.test_frames)
    (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    shutil.rmtree(results, ignore_errors=True)
    tmp.rename(results)
    ctx.tracker.summary(summary)
    ctx.tracker.log_model([results / "models" / p.name for p in model_paths])
    _parity(ctx, valid, results / "parity_valid.png", "validation")
    if ctx.test_frames:
        _parity(ctx, ctx.test_frames, results / "parity_test.png", "test")
    return results


def _parity(ctx: Context, frames, path: Path, title: str) -> None:
    import numpy as np

    from pax import plots

    if not frames:
        return
    pred = ctx.ensemble.predict(frames)
    ref = np.concatenate([a.arrays["REF_forces"] for a in frames])
    plots.parity(pred["forces_comm"].ravel(), ref.ravel(), path, title=title)
