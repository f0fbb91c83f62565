"""The analysis-mode figure: true force errors next to the uncertainty."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from pax.tracking.figures import Records, new_figure, of_kind, save_png


def analysis(records: Records, path: Path, max_traj: int = 8) -> Path:
    """Analysis mode: true force error and uncertainty along each trajectory.

    Left: force MAE against the reference (solid) and the uncertainty (dashed)
    against MD step, per trajectory; right: error against uncertainty, with
    their Pearson and Spearman correlations.
    """
    rows = [r for r in of_kind(records, "analysis") if r.get("uncertainty") is not None]
    fig, (left, right) = new_figure(1, width=11, n_cols=2)
    by_traj: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: r["md_step"]):
        by_traj[r.get("traj", 0)].append(r)
    for k, traj in enumerate(sorted(by_traj, key=str)[:max_traj]):
        steps = [r["md_step"] for r in by_traj[traj]]
        errors = [r["f_mae"] for r in by_traj[traj]]
        left.plot(steps, errors, color=f"C{k}", label=f"traj {traj}")
        spread = [r["uncertainty"] for r in by_traj[traj]]
        left.plot(steps, spread, color=f"C{k}", ls="--")
    left.set(
        xlabel="MD step of the trajectory",
        ylabel="eV/Å",
        title="force MAE vs reference (solid), uncertainty (dashed)",
    )
    left.legend(fontsize=7, ncol=2)
    x = np.array([r["uncertainty"] for r in rows], dtype=float)
    y = np.array([r["f_mae"] for r in rows], dtype=float)
    right.scatter(x, y, s=12)
    title = f"{len(rows)} analysis labels"
    if len(rows) > 2 and x.std() > 0 and y.std() > 0:
        pearson = float(np.corrcoef(x, y)[0, 1])
        ranks = np.corrcoef(np.argsort(np.argsort(x)), np.argsort(np.argsort(y)))
        title += f": Pearson r {pearson:.2f}, Spearman {float(ranks[0, 1]):.2f}"
    right.set(
        xlabel="uncertainty (eV/Å)", ylabel="force MAE vs reference (eV/Å)", title=title
    )
    return save_png(fig, path)
