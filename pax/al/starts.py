"""Where each AL trajectory starts (al.start_from) and at what temperature."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
from ase import Atoms

from pax.al.context import Context
from pax.md.config import MDConfig

log = logging.getLogger(__name__)


def start_geometries(
    systems: list[Atoms], n: int, late: list[list[np.ndarray]] | None = None
) -> list[Atoms]:
    """The start of each of n trajectories; trajectory i explores system i % len.

    Args:
        systems: the run's systems.
        n: number of trajectories.
        late: per system, positions (n_atoms, 3) Å of late IDG sampler frames,
            newest last; None or an empty list: start at the system's geometry.

    Returns:
        Trajectory i of system s takes the (i // len(systems))-th newest frame of
        s (cycling when s has fewer), without momenta so that MD draws them; a
        system without frames gives a copy of its geometry (aims-PAX).
    """
    starts = []
    for i in range(n):
        s, j = i % len(systems), i // len(systems)
        atoms = systems[s].copy()
        frames = late[s] if late else []
        if frames:
            atoms.positions = frames[-1 - j % len(frames)]
            atoms.set_momenta(None)
        starts.append(atoms)
    return starts


def al_starts(ctx: Context) -> list[Atoms]:
    """Start geometries of the AL trajectories, as al.start_from says.

    idg_end reads the IDG sampler's late frames from the saved IDG state, which
    is final once AL runs, so a resumed AL gets the same starts.
    """
    al = ctx.cfg.al
    late = None
    if al.start_from.value == "idg_end":
        state = ctx.load("idg")
        late = state["sampler"].get("late") if state else None
        bare = [
            a.info.get("system", i)
            for i, a in enumerate(ctx.systems)
            if not (late and late[i])
        ]
        if bare:
            log.info(
                "al.start_from=idg_end: no IDG frames of system(s) %s (IDG skipped?); "
                "their trajectories start at the geometry",
                bare,
            )
        else:
            log.info("al.start_from=idg_end: trajectories start at late IDG frames")
    return start_geometries(ctx.systems, al.num_trajectories, late)


def trajectory_configs(
    per_system: list[MDConfig], temperatures_K: list[float], n: int
) -> list[MDConfig]:
    """MD settings of n trajectories, one per_system entry per system.

    Trajectory i explores system i % len(per_system) with its settings, at
    temperatures_K[i % len] (K) when that list is not empty.
    """
    configs = [per_system[i % len(per_system)] for i in range(n)]
    if not temperatures_K:
        return configs
    return [
        dataclasses.replace(md, temperature_K=float(t))
        for md, t in zip(configs, np.resize(temperatures_K, n))
    ]
