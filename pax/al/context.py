"""What the workflow phases share: config, run directory, data, pool, ensemble."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ase import Atoms

from pax.al.decisions import bootstrap_counts
from pax.al.state import load_state, save_state
from pax.config import PaxConfig
from pax.data import DatasetStore
from pax.md.trajectories import TrajectoryFiles
from pax.threads import ThreadPolicy
from pax.tracking.timing import TimeBudget


@dataclass
class Context:
    """The objects one run passes between IDG, AL and finalize."""

    cfg: PaxConfig
    run_dir: Path
    systems: list[Atoms]
    store: DatasetStore
    pool: Any  # pax.cluster.ReferencePool
    tracker: Any  # pax.tracking.Tracker
    e0s: dict[int, float] | None
    ensemble: Any = None  # pax.mlff.Ensemble once built
    test_frames: list[Atoms] = field(default_factory=list)
    budget: TimeBudget = field(default_factory=TimeBudget)
    _last_save: float = 0.0
    _test_at_labels: int = -1
    _test_eval_s: float = 0.0

    @property
    def state_dir(self) -> Path:
        """Folder of the resumable state."""
        return self.run_dir / "state"

    @property
    def ensemble_path(self) -> Path:
        """Checkpoint of the ensemble (models, optimizers, EMA, RNG)."""
        return self.state_dir / "ensemble.pt"

    @functools.cached_property
    def threads(self) -> ThreadPolicy:
        """The main process's torch threads, following the local workers' load."""
        return ThreadPolicy(self.cfg)

    def use_free_cores(self) -> None:
        """Give torch the cores the local reference workers leave right now."""
        self.threads.update(self.pool.in_flight, self.pool.mean_label_s)

    @functools.cached_property
    def trajectories(self) -> TrajectoryFiles:
        """Where IDG and AL trajectories go (md.save_every_steps; 0: nowhere)."""
        md = self.cfg.md
        return TrajectoryFiles(
            self.run_dir / "trajectories", md.save_every_steps, md.trajectory_format
        )

    @property
    def max_in_flight(self) -> int:
        """Most labels waiting at once (al.max_labels_in_flight, 0: 2 x workers)."""
        return self.cfg.al.max_labels_in_flight or 2 * max(1, self.pool.workers)

    def member_train_sets(self) -> list[list[Atoms]]:
        """Each member's training frames: its own IDG set plus the shared set.

        With al.bootstrap_members each member gets its bootstrap resample.
        """
        sets = self._member_sets()
        if not self.cfg.al.bootstrap_members:
            return sets
        return [_bootstrap(frames, k) for k, frames in enumerate(sets)]

    def _member_sets(self) -> list[list[Atoms]]:
        shared = self.store.get("train")
        return [
            self.store.get(f"train_m{k}") + shared
            for k in range(self.cfg.mlff.ensemble_size)
        ]

    def train_frames(self) -> list[Atoms]:
        """Every training frame once (all members' sets together)."""
        return [
            a
            for s in sorted(self.store.splits)
            if s.startswith("train")
            for a in self.store.get(s)
        ]

    def n_train(self) -> int:
        """Training points of the smallest member set (before any bootstrap)."""
        return min(len(s) for s in self._member_sets())

    def track_test(self, phase: str) -> None:
        """Log the ensemble's test-set errors every run.test_every_labels labels.

        Each record also has test_eval_s, the seconds this session spent on test
        evaluations so far (this one included), which a benchmark can subtract.
        """
        every = self.cfg.run.test_every_labels
        if not self.test_frames or self.ensemble is None or every == 0:
            return
        labels = len(self.store.label_ids())
        if self._test_at_labels >= 0 and labels - self._test_at_labels < every:
            return
        self._test_at_labels = labels
        started = time.monotonic()
        with self.budget.section("evaluation"):
            mean = self.ensemble.evaluate(self.test_frames)["mean"]
        self._test_eval_s += time.monotonic() - started
        self.tracker.log(
            "test",
            {
                "phase": phase,
                "n_labels": labels,
                "test_eval_s": self._test_eval_s,
                "test_f_mae": mean["f_mae"],
                "test_f_rmse": mean["f_rmse"],
                "test_e_mae_per_atom": mean["e_mae_per_atom"],
            },
        )

    def save(self, name: str, state: dict, every_s: float = 0.0) -> None:
        """Save phase state and the ensemble, at most every every_s seconds."""
        now = time.monotonic()
        if every_s and now - self._last_save < every_s:
            return
        with self.budget.section("checkpoints"):
            if self.ensemble is not None:  # the replaced one stays as ensemble.pt.prev
                self.ensemble.save(self.ensemble_path, keep_prev=True)
            save_state(self.state_dir / f"{name}.pt", state)
        self._last_save = now

    def load(self, name: str) -> dict | None:
        """The saved state of a phase, or None."""
        return load_state(self.state_dir / f"{name}.pt")


def _bootstrap(frames: list[Atoms], member: int) -> list[Atoms]:
    """Member's bootstrap resample of frames (all of them when it would be empty)."""
    counts = bootstrap_counts([a.info["label_id"] for a in frames], member)
    resampled = [a for a, c in zip(frames, counts) for _ in range(c)]
    return resampled or frames
