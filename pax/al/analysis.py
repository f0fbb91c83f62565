"""Analysis mode (al.analysis_every_steps): true force errors along the MD.

Every analysis_every_steps MD steps of a trajectory its geometry is also sent
to the reference when a worker is free (AL labels go first). The label never
enters the data; its force error against the ensemble's prediction at sending
is logged next to the trajectory's uncertainty ("analysis" records, W&B
analysis/*, plots/analysis.png).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from pax.al.context import Context


def send_analysis(loop) -> None:
    """Send the due analysis geometries of the AL loop's running trajectories."""
    every = loop.al.analysis_every_steps
    if not every:
        return
    ctx = loop.ctx
    unc = loop.md.uncertainty()[loop.al.uncertainty]
    for i in map(int, np.flatnonzero(loop.md.running)):
        step = int(loop.md.steps[i])
        if step < loop.analysed_at.get(i, 0) + every:
            continue
        if ctx.pool.in_flight >= ctx.max_in_flight:
            return  # AL labels first; due ones go at a later check
        c = loop._candidate(i, float(unc[i]))
        frame = Atoms(
            c.atoms.numbers, c.atoms.positions, cell=c.atoms.cell, pbc=c.atoms.pbc
        )
        frame.info["system"] = c.key
        ticket = ctx.pool.submit(frame, {"phase": "analysis", **c.record()})
        loop.predicted[ticket] = ctx.ensemble.predict([frame])["forces_comm"]
        loop.analysed_at[i] = step


def log_analysis(ctx: Context, done, predicted: np.ndarray | None) -> None:
    """Log the "analysis" record of one analysis label: true error and uncertainty.

    predicted: (n_atoms, 3) the ensemble's mean forces when the geometry was sent
    (eV/Å); None (a label recovered after a restart) logs nothing.
    """
    if not done.result.ok or predicted is None:
        return
    diff = predicted - done.result.forces  # (n_atoms, 3) eV/Å
    ctx.tracker.log(
        "analysis",
        {
            "traj": done.tag.get("traj"),
            "system": done.tag.get("system"),
            "md_step": done.tag.get("md_step"),
            "uncertainty": done.tag.get("uncertainty"),
            "f_mae": float(np.abs(diff).mean()),
            "f_max_error": float(np.linalg.norm(diff, axis=1).max()),
        },
    )
