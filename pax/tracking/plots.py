"""Every figure pax draws (matplotlib, Agg, no pyplot state), written atomically.

The run plots take the records of metrics.jsonl (see pax.tracking.Tracker) and
write one PNG each; make_all writes those that have data. parity serves
finalize and pax-eval, comparison serves pax-compare.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from pax.tracking.analysis_plot import analysis
from pax.tracking.figures import Records, new_figure, of_kind, save_png

log = logging.getLogger(__name__)


def _phase_marks(ax: Any, rows: list[dict[str, Any]], x: str) -> None:
    """Dashed vertical lines where the phase changes along x."""
    for prev, row in zip(rows, rows[1:]):
        if row.get("phase") != prev.get("phase"):
            ax.axvline(row[x], color="grey", ls=":", lw=1)
            ax.text(
                row[x],
                1.0,
                f" {row.get('phase')}",
                va="top",
                fontsize=8,
                color="grey",
                transform=ax.get_xaxis_transform(),
            )


def learning_curves(
    records: Records, path: Path, targets: dict[str, float] | None = None
) -> Path:
    """Validation force MAE and train loss against epochs (all phases).

    Args:
        records: metrics records (train kind is used).
        path: PNG file to write.
        targets: MAE (eV/Å) that ends each phase, drawn as horizontal lines.

    Returns:
        path.
    """
    rows = [r for r in of_kind(records, "train") if "epoch_total" in r or "epoch" in r]
    fig, (ax_mae, ax_loss) = new_figure(2)
    members: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        members[str(r.get("member", "mean"))].append(r)
    for member, mrows in sorted(members.items()):
        x = [r.get("epoch_total", r.get("epoch")) for r in mrows]
        mean = member == "mean"
        style = (
            {"lw": 2.0, "color": "k", "label": "ensemble mean"}
            if mean
            else {"lw": 0.8, "alpha": 0.7, "label": f"member {member}"}
        )
        for ax, key in ((ax_mae, "valid_f_mae"), (ax_loss, "train_loss")):
            pts = [(xi, r[key]) for xi, r in zip(x, mrows) if r.get(key) is not None]
            if pts:
                ax.plot(*zip(*pts), **style)
    for phase, value in (targets or {}).items():
        ax_mae.axhline(
            value,
            ls="--",
            lw=1,
            color="tab:red" if phase == "al" else "tab:orange",
            label=f"{phase} target {value:g}",
        )
    mean_rows = members.get("mean") or rows
    _phase_marks(ax_mae, mean_rows, "epoch_total")
    ax_mae.set(ylabel="validation force MAE (eV/Å)", yscale="log")
    ax_loss.set(xlabel="epoch (all phases)", ylabel="train loss", yscale="log")
    ax_mae.legend(fontsize=7, ncol=2)
    return save_png(fig, path)


def uncertainty_traces(records: Records, path: Path, max_traj: int = 12) -> Path:
    """Uncertainty of each trajectory against its MD step, thresholds, crossings.

    Args:
        records: metrics records (uncertainty kind is used).
        path: PNG file to write.
        max_traj: Draw at most this many trajectories (the first ones).

    Returns:
        path.
    """
    rows = of_kind(records, "uncertainty")
    fig, (ax,) = new_figure(1, width=7.5)
    by_traj: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_traj[r.get("traj", 0)].append(r)
    for traj in sorted(by_traj, key=str)[:max_traj]:
        trows = by_traj[traj]
        ax.plot(
            [r["md_step"] for r in trows],
            [r["uncertainty"] for r in trows],
            lw=0.8,
            label=f"traj {traj}",
        )
    by_system: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r.get("threshold") is not None:
            by_system[str(r.get("system", "all"))].append(r)
    for system, srows in by_system.items():
        srows = sorted(srows, key=lambda r: r["md_step"])
        ax.step(
            [r["md_step"] for r in srows],
            [r["threshold"] for r in srows],
            where="post",
            color="k",
            ls="--",
            lw=1.2,
            label=f"threshold {system}",
        )
    crossed = [r for r in rows if r.get("crossed")]
    if crossed:
        ax.scatter(
            [r["md_step"] for r in crossed],
            [r["uncertainty"] for r in crossed],
            marker="x",
            color="tab:red",
            zorder=3,
            label="crossed",
        )
    ax.set(xlabel="MD step of the trajectory", ylabel="uncertainty (eV/Å)")
    ax.legend(fontsize=7, ncol=3)
    return save_png(fig, path)


def dataset_growth(records: Records, path: Path) -> Path:
    """Training and validation set sizes and labels in flight against wall time.

    Args:
        records: metrics records (sampling kind, else train kind).
        path: PNG file to write.

    Returns:
        path.
    """
    rows = [r for r in of_kind(records, "sampling") if r.get("n_train") is not None]
    rows = rows or [
        r for r in of_kind(records, "train") if r.get("n_train") is not None
    ]
    fig, (ax,) = new_figure(1)
    minutes = bool(rows) and rows[-1]["time_s"] > 600
    t_min = [r["time_s"] / (60 if minutes else 1) for r in rows]
    for key, label in (("n_train", "training set"), ("n_valid", "validation set")):
        pts = [(t, r[key]) for t, r in zip(t_min, rows) if r.get(key) is not None]
        if pts:
            ax.step(*zip(*pts), where="post", label=label)
    failed = [
        (t, r["n_train"]) for t, r in zip(t_min, rows) if r.get("status", "ok") != "ok"
    ]
    if failed:
        ax.scatter(*zip(*failed), marker="x", color="tab:red", label="failed label")
    flight = [
        (t, r["in_flight"])
        for t, r in zip(t_min, rows)
        if r.get("in_flight") is not None
    ]
    if flight:
        ax2 = ax.twinx()
        ax2.plot(*zip(*flight), color="grey", lw=0.8, alpha=0.7)
        ax2.set_ylabel("labels in flight", color="grey")
    _phase_marks(ax, [{**r, "t": t} for t, r in zip(t_min, rows)], "t")
    ax.set(xlabel=f"wall time ({'min' if minutes else 's'})", ylabel="labels")
    ax.legend(fontsize=7, loc="upper left")
    return save_png(fig, path)


def calibration(records: Records, path: Path) -> Path:
    """Predicted uncertainty against the realised force error of each label.

    Args:
        records: metrics records (calibration kind is used).
        path: PNG file to write.

    Returns:
        path.
    """
    rows = [
        r
        for r in of_kind(records, "calibration")
        if r.get("predicted_uncertainty") is not None
    ]
    fig, (ax,) = new_figure(1, width=5.0)
    u = np.array([r["predicted_uncertainty"] for r in rows], dtype=float)
    title = "calibration"
    for key, marker, label in (
        ("force_error_max", "o", "max |ΔF|"),
        ("force_error_mean", "s", "mean |ΔF|"),
    ):
        err = np.array([r.get(key, np.nan) for r in rows], dtype=float)
        ok = np.isfinite(err)
        if ok.any():
            ax.scatter(u[ok], err[ok], s=12, marker=marker, alpha=0.7, label=label)
        if key == "force_error_max" and ok.sum() > 2:
            title += f" (Pearson r = {np.corrcoef(u[ok], err[ok])[0, 1]:.2f})"
    if len(u):
        lim = [0, float(np.nanmax(np.concatenate([u, [1e-12]])) * 1.05)]
        ax.plot(lim, lim, color="grey", ls=":", lw=1, label="y = x")
    ax.set(
        xlabel="predicted uncertainty (eV/Å)", ylabel="force error (eV/Å)", title=title
    )
    ax.legend(fontsize=7)
    return save_png(fig, path)


def parity(
    pred: Any,
    ref: Any,
    path: Path,
    quantity: str = "force component",
    unit: str = "eV/Å",
    title: str = "",
) -> dict[str, float]:
    """Parity plot of model predictions against reference values.

    Args:
        pred: Predicted values, any shape (flattened), e.g. forces (n, 3) eV/Å.
        ref: Reference values of the same shape.
        path: PNG file to write.
        quantity: What is plotted (axis label).
        unit: Unit of the values (axis label).
        title: Title prefix (e.g. "validation" or "test").

    Returns:
        {"mae", "rmse", "n"} of pred - ref, in unit.
    """
    p = np.asarray(pred, dtype=float).ravel()
    r = np.asarray(ref, dtype=float).ravel()
    if p.shape != r.shape:
        raise ValueError(f"parity: pred has {p.size} values, ref {r.size}")
    err = p - r
    stats = {
        "mae": float(np.mean(np.abs(err))) if err.size else float("nan"),
        "rmse": float(np.sqrt(np.mean(err**2))) if err.size else float("nan"),
        "n": int(err.size),
    }
    fig, (ax,) = new_figure(1, width=4.8)
    if p.size > 5000:
        ax.hexbin(r, p, gridsize=60, bins="log", mincnt=1)
    else:
        ax.scatter(r, p, s=6, alpha=0.6)
    if p.size:
        lo, hi = float(min(r.min(), p.min())), float(max(r.max(), p.max()))
        ax.plot([lo, hi], [lo, hi], color="k", lw=1, ls="--")
    summary = f"MAE {stats['mae']:.4g}, RMSE {stats['rmse']:.4g} {unit}"
    ax.set(
        xlabel=f"reference {quantity} ({unit})",
        ylabel=f"predicted {quantity} ({unit})",
        title=f"{title} {summary}".strip(),
    )
    ax.set_aspect("equal", adjustable="datalim")
    save_png(fig, path)
    return stats


def comparison(keys: list[str], rows: list[dict[str, Any]], path: Path) -> Path:
    """pax-compare's figure: MAE curves of every run, final MAE, labels, wall time.

    Args:
        keys: The swept config keys (one numeric key gives x values).
        rows: One per run: run, curve [(n_train, MAE)], the swept keys,
            final_valid_f_mae, labels_total, wall_time_s.
        path: PNG file to write.

    Returns:
        path.
    """
    fig, (ax_curve, ax_mae, ax_labels, ax_time) = new_figure(2, width=11, n_cols=2)
    for row in rows:
        if row["curve"]:
            ax_curve.plot(*zip(*row["curve"]), lw=1.2, label=row["run"])
    ax_curve.set(
        xlabel="training set size",
        ylabel="validation force MAE (eV/Å)",
        yscale="log",
        title="learning curves (ensemble mean)",
    )
    ax_curve.legend(fontsize=7)
    numeric = len(keys) == 1 and all(_is_number(r[keys[0]]) for r in rows)
    x = [float(r[keys[0]]) for r in rows] if numeric else list(range(len(rows)))
    names = [", ".join(f"{k}={r[k]}" for k in keys) or r["run"] for r in rows]
    for ax, key, label in (
        (ax_mae, "final_valid_f_mae", "final force MAE (eV/Å)"),
        (ax_labels, "labels_total", "labels"),
        (ax_time, "wall_time_s", "wall time (s)"),
    ):
        y = [np.nan if r[key] is None else float(r[key]) for r in rows]
        if numeric:
            order = np.argsort(x)
            ax.plot(np.array(x)[order], np.array(y)[order], "o-")
            ax.set_xlabel(keys[0])
        else:
            ax.bar(x, y)
            ax.set_xticks(x, names, rotation=30, ha="right", fontsize=7)
        ax.set_ylabel(label)
    return save_png(fig, path)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, bool)


PLOTS = {
    "learning_curves": ({"train"}, learning_curves),
    "uncertainty_traces": ({"uncertainty"}, uncertainty_traces),
    "dataset_growth": ({"train", "sampling"}, dataset_growth),
    "calibration": ({"calibration"}, calibration),
    "analysis": ({"analysis"}, analysis),
}


def make_all(
    records: Records, plots_dir: Path, targets: dict[str, float] | None = None
) -> list[Path]:
    """Write every plot that has data to plots_dir/<name>.png.

    Args:
        records: metrics records of the run.
        plots_dir: Folder of the PNG files.
        targets: Phase -> target MAE (eV/Å) for the learning curves.

    Returns:
        The files written.
    """
    kinds = {r.get("kind") for r in records}
    written = []
    for name, (needs, func) in PLOTS.items():
        if needs & kinds:
            path = Path(plots_dir) / f"{name}.png"
            extra = (targets,) if func is learning_curves else ()
            written.append(func(records, path, *extra))
    return written
