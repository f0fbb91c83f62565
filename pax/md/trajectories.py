"""Trajectories on disk: IDG and AL frames appended as the MD runs.

One file per phase and trajectory under run_dir/trajectories/ (idg_000.extxyz,
al_003.extxyz, ...). Each frame carries its MD step, temperature (K) and, in
AL, the committee uncertainty (eV/Å, al.uncertainty's measure). A frame is
written and flushed to disk at once, so a crash loses at most the frame being
written; a resumed run appends (steps re-run since the last checkpoint appear
again).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from ase import Atoms


class TrajectoryFiles:
    """Appends frames every `every_steps` MD steps (md.save_every_steps)."""

    def __init__(self, folder: Path, every_steps: int, fmt: str = "extxyz") -> None:
        self.folder = Path(folder)
        self.every = every_steps
        self.fmt = fmt
        self.saved_block: dict[tuple[str, int], int] = {}  # last step // every

    @property
    def enabled(self) -> bool:
        """Whether anything is written (md.save_every_steps > 0)."""
        return self.every > 0

    def path(self, phase: str, traj: int) -> Path:
        """The file of one trajectory of one phase."""
        return self.folder / f"{phase}_{traj:03d}.{self.fmt}"

    def offer(self, phase: str, traj: int, atoms: Atoms, step: int, **info) -> bool:
        """Append atoms if step reached a multiple of every_steps not yet saved."""
        if not self.enabled:
            return False
        block = step // self.every
        if self.saved_block.get((phase, traj), -1) >= block:
            return False
        self.saved_block[(phase, traj)] = block
        frame = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        frame.info.update(md_step=int(step), **{k: float(v) for k, v in info.items()})
        self._append(self.path(phase, traj), frame)
        return True

    def offer_md(self, phase: str, md, measure: str) -> None:
        """Offer every running trajectory of a BatchedMD, with its uncertainty."""
        if not self.enabled or not md.running.any():
            return
        uncertainty, temperature = md.uncertainty()[measure], md.temperatures_K()
        for i in np.flatnonzero(md.running):
            self.offer(
                phase,
                int(i),
                md.atoms(int(i)),
                int(md.steps[i]),
                uncertainty=uncertainty[i],
                temperature_K=temperature[i],
            )

    def _append(self, path: Path, frame: Atoms) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.fmt == "traj":
            from ase.io.trajectory import Trajectory

            with Trajectory(str(path), "a") as traj:
                traj.write(frame)
            return
        from ase.io import write

        with open(path, "a") as fh:
            write(fh, frame, format="extxyz")
            fh.flush()
            os.fsync(fh.fileno())
