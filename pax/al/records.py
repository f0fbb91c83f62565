"""The tracking records IDG and AL share: one builder each, used by both phases."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pax.al.context import Context


def log_sampling(ctx: Context, done, split: str | None) -> bool:
    """Log the "sampling" record of one finished label, once per ticket per run.

    A label seen again (replayed from the ledger on resume, or handed to a
    second submit of the same geometry) is not logged twice, so label counts in
    metrics.jsonl and W&B equal the ledger's.

    Returns:
        True when the record was logged.
    """
    if ctx.tracker.logged_label(done.ticket):
        return False
    tag = done.tag
    ctx.tracker.log(
        "sampling",
        {
            "phase": tag.get("phase"),
            "ticket": done.ticket,
            "traj": tag.get("traj"),
            "member": tag.get("member"),
            "system": tag.get("system"),
            "md_step": tag.get("md_step"),
            "uncertainty": tag.get("uncertainty"),
            "threshold": tag.get("threshold"),
            "trigger": tag.get("trigger"),
            "label_wall_s": done.result.wall_s,
            "status": done.result.status,
            "reason": done.result.reason,
            "split": split,
            "n_train": ctx.n_train(),
            "n_valid": ctx.store.size("valid"),
            "in_flight": ctx.pool.in_flight,
            "utilisation": ctx.pool.utilisation(),
        },
    )
    return True


def log_calibration(ctx: Context, done, predicted: np.ndarray | None) -> float | None:
    """Log the "calibration" record of one AL label; return its prospective F-MAE.

    Args:
        ctx: the run.
        done: the finished label.
        predicted: (n_atoms, 3) the ensemble's mean forces at submission, eV/Å
            (before it trained on this label); None when unknown.

    Returns:
        The label's force MAE (eV/Å) predicted before training on it, or None.
    """
    if not done.result.ok or predicted is None:
        return None
    diff = predicted - done.result.forces  # (n_atoms, 3) eV/Å
    err = np.linalg.norm(diff, axis=1)  # (n_atoms,) eV/Å
    prospective = float(np.abs(diff).mean())
    ctx.tracker.log(
        "calibration",
        {
            "phase": "al",
            "traj": done.tag.get("traj"),
            "system": done.tag.get("system"),
            "predicted_uncertainty": done.tag.get("uncertainty"),
            "force_error_max": float(err.max()),
            "force_error_mean": float(err.mean()),
            "prospective_f_mae": prospective,
        },
    )
    return prospective


def log_md(ctx: Context, md, running: np.ndarray, in_flight: int) -> None:
    """One "md" record of the AL loop.

    It holds the MD steps so far, the trajectories that ran this chunk and the
    labels out before and after it.
    """
    ctx.tracker.log(
        "md",
        {
            "phase": "al",
            "md_steps": int(md.steps.sum()),
            "running": int(running.sum()),
            "in_flight": in_flight,
            "in_flight_after": ctx.pool.in_flight,
        },
    )


def train_logger(ctx: Context, phase: str) -> Callable[[dict], None]:
    """The on_epoch callback that logs a "train" record with the data set sizes."""

    def log_train(record: dict) -> None:
        ctx.tracker.log(
            "train",
            {
                "phase": phase,
                **record,
                "n_train": ctx.n_train(),
                "n_valid": ctx.store.size("valid"),
            },
        )

    return log_train


def log_progress(loop) -> None:
    """Update the live display with the AL loop's state."""
    ctx = loop.ctx
    ctx.tracker.progress(
        "al",
        n_train=ctx.n_train(),
        threshold=loop.rule.level(loop.keys[0]),
        in_flight=ctx.pool.in_flight,
        mae=loop.mae,
        target=loop.al.desired_acc,
        e_mae=loop.e_mae_mev,
        prospective_f_mae=loop.prospective_mae(),
        md_steps=int(loop.md.steps.sum()),
    )
