"""Selection rules by name (`al.selection`): which uncertain geometries to label.

At each check the event loop offers every running trajectory's geometry as a
Candidate. The rule judges each one (a Verdict: calm, wanted or too far) and
keeps the wanted ones in its pool; when reference workers are free the loop
asks it to pick what to label now. Uncertainties and levels are in the units of
the measure `al.uncertainty` names (eV/Å for force measures). Adding a rule is
one class and one line in RULES.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

import numpy as np
from ase import Atoms

from pax.al.threshold import Threshold

ALConfig = Any
"""pax.al.config.ALConfig, named here without importing it: the config module
imports RULES to check `al.selection`, so this module must not import it back."""


@dataclass
class Candidate:
    """One trajectory's geometry at one check."""

    traj: int
    """Trajectory index."""
    atoms: Atoms
    """The geometry, with velocities."""
    uncertainty: float
    """Its uncertainty (units of al.uncertainty: eV/Å or eV/atom)."""
    md_step: int
    """MD steps its trajectory had taken."""
    key: str
    """Threshold key: its system's name, or "all" for one shared threshold."""
    descriptor: np.ndarray | None = None
    """(d,) structure descriptor, for rules that measure distances."""
    level: float | None = None
    """The level the rule compared it with (set by offer; same units)."""

    def record(self) -> dict:
        """Its fields as AL records and label tags name them."""
        return {
            "traj": self.traj,
            "system": self.key,
            "md_step": self.md_step,
            "uncertainty": self.uncertainty,
            "threshold": self.level,
        }


class Verdict(str, Enum):
    """What becomes of a trajectory once its candidate is judged."""

    calm = "calm"
    """Below the rule's level: the geometry becomes the trajectory's checkpoint."""
    wanted = "wanted"
    """Worth a label: kept in the pool until picked, withdrawn or replaced."""
    too_far = "too_far"
    """Beyond what the model can be trusted with: roll back, label nothing."""


@dataclass
class LoopView:
    """What a rule may ask of the run."""

    n_train: Callable[[], int]
    """The training set's current size (points per member)."""
    describe: Callable[[Sequence[Atoms]], np.ndarray] | None = None
    """(N, d) structure descriptors under the current model."""
    train_frames: Callable[[], list[Atoms]] | None = None
    """Every training geometry."""
    max_in_flight: int = 1
    """Most labels out at once."""


class SelectionRule(Protocol):
    """What the event loop asks of a rule."""

    def offer(self, candidates: Sequence[Candidate]) -> list[Verdict]:
        """Judge each running trajectory's candidate (every check)."""

    def pick(self, free_slots: int) -> list[Candidate]:
        """Up to free_slots candidates to label now, taken out of the pool."""

    def withdraw(self, traj: int) -> None:
        """Forget traj's candidate: it may not be labelled now."""

    def waiting(self) -> list[int]:
        """Trajectories whose candidate is in the pool."""

    def calibrate(self, uncertainty: float, error: float) -> None:
        """A label came back: its uncertainty and prospective force MAE (eV/Å)."""

    def level(self, key: str) -> float | None:
        """The current level of threshold key (for the progress line)."""

    def state_dict(self) -> dict:
        """Everything needed to continue exactly."""

    def load_state_dict(self, state: dict) -> None:
        """Restore from state_dict()."""


class PerTrajectoryPool:
    """Base of rules that label a trajectory's latest geometry.

    The pool holds at most one candidate per trajectory, the latest wanted one,
    in the order they were wanted; a new offer from a trajectory replaces it.
    Subclasses define `judge` and `level`.
    """

    def __init__(self) -> None:
        self.pool: dict[int, Candidate] = {}

    def judge(self, candidate: Candidate) -> Verdict:
        """The verdict on one candidate; sets candidate.level."""
        raise NotImplementedError

    def offer(self, candidates: Sequence[Candidate]) -> list[Verdict]:
        """Judge each candidate in turn; keep the wanted ones."""
        verdicts = []
        for candidate in candidates:
            self.pool.pop(candidate.traj, None)
            verdict = self.judge(candidate)
            if verdict is Verdict.wanted:
                self.pool[candidate.traj] = candidate
            verdicts.append(verdict)
        return verdicts

    def pick(self, free_slots: int) -> list[Candidate]:
        """The first free_slots candidates wanted (longest waiting first)."""
        picked = list(self.pool.values())[: max(free_slots, 0)]
        for candidate in picked:
            del self.pool[candidate.traj]
        return picked

    def withdraw(self, traj: int) -> None:
        """Forget traj's candidate."""
        self.pool.pop(traj, None)

    def waiting(self) -> list[int]:
        """Trajectories whose candidate is in the pool."""
        return list(self.pool)

    def calibrate(self, uncertainty: float, error: float) -> None:
        """Labels teach this rule nothing."""

    def state_dict(self) -> dict:
        """The pool (candidates of trajectories paused for a free slot)."""
        return {"pool": list(self.pool.values())}

    def load_state_dict(self, state: dict) -> None:
        """Restore from state_dict() (states of older pax hold no pool)."""
        self.pool = {c.traj: c for c in state.get("pool", ())}


class CxThreshold(PerTrajectoryPool):
    """aims-PAX: label when uncertainty > (1 + c_x) x the running mean.

    The running mean covers the last al.threshold_window uncertainties of each
    threshold key, wanted only after al.threshold_warmup of them; it freezes once
    the training set reaches al.freeze_threshold_dataset.
    """

    def __init__(self, al: ALConfig, view: LoopView) -> None:
        super().__init__()
        self.threshold = Threshold(
            al.c_x,
            al.threshold_window,
            al.threshold_warmup,
            al.threshold_floor,
            al.threshold_ceiling,
        )
        self.freeze_at = al.freeze_threshold_dataset
        self.n_train = view.n_train

    def offer(self, candidates: Sequence[Candidate]) -> list[Verdict]:
        """Freeze when the training set is large enough, then judge in turn."""
        if self.n_train() >= self.freeze_at and not self.threshold.frozen:
            self.threshold.freeze()
        return super().offer(candidates)

    def judge(self, candidate: Candidate) -> Verdict:
        """Wanted above the threshold, which then takes in the uncertainty."""
        key, uncertainty = candidate.key, candidate.uncertainty
        candidate.level = self.threshold.value(key)
        crossed = self.threshold.crossed(key, uncertainty)
        self.threshold.observe(key, uncertainty)
        return Verdict.wanted if crossed else Verdict.calm

    def level(self, key: str) -> float | None:
        """The threshold of key, None during warm-up."""
        return self.threshold.value(key)

    def state_dict(self) -> dict:
        """Pool and threshold history (the threshold's keys at the top level)."""
        return {**super().state_dict(), **self.threshold.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Restore; also reads a bare Threshold state of older pax."""
        super().load_state_dict(state)
        self.threshold.load_state_dict(state)


class TrustWindow(PerTrajectoryPool):
    """DP-GEN's trust levels: label sigma_lo < uncertainty < sigma_hi.

    At or above sigma_hi (al.trust_hi; 0: no upper level) the trajectory rolls
    back and nothing is labelled. sigma_lo is al.trust_lo, or when that is 0
    al.trust_lo_factor x desired_acc x the median of uncertainty / prospective
    force MAE over the labels so far: the uncertainty that went with an error of
    desired_acc. Until al.trust_calibration_labels labels have come back (or when
    that is 0) the median counts as 1. Calibration stops once the training set
    reaches al.freeze_threshold_dataset.
    """

    def __init__(self, al: ALConfig, view: LoopView) -> None:
        super().__init__()
        self.lo, self.hi = al.trust_lo, al.trust_hi
        self.lo_uncalibrated = al.trust_lo_factor * al.desired_acc
        self.min_labels = al.trust_calibration_labels
        self.freeze_at = al.freeze_threshold_dataset
        self.n_train = view.n_train
        self.ratios: list[float] = []  # uncertainty / prospective F-MAE, per label
        self._lo_now = self.sigma_lo()

    def sigma_lo(self) -> float:
        """The lower trust level (units of al.uncertainty)."""
        if self.lo > 0:
            return self.lo
        if self.min_labels and len(self.ratios) >= self.min_labels:
            return self.lo_uncalibrated * float(np.median(self.ratios))
        return self.lo_uncalibrated

    def offer(self, candidates: Sequence[Candidate]) -> list[Verdict]:
        """Judge every candidate of this check against the same levels."""
        self._lo_now = self.sigma_lo()
        return super().offer(candidates)

    def judge(self, candidate: Candidate) -> Verdict:
        """too_far at or above sigma_hi, wanted above sigma_lo, else calm."""
        candidate.level = self._lo_now
        if self.hi > 0 and candidate.uncertainty >= self.hi:
            return Verdict.too_far
        if candidate.uncertainty > self._lo_now:
            return Verdict.wanted
        return Verdict.calm

    def calibrate(self, uncertainty: float, error: float) -> None:
        """Keep uncertainty / error of one label (error: prospective F-MAE, eV/Å)."""
        if self.n_train() >= self.freeze_at:
            return
        if np.isfinite(uncertainty) and error > 0:
            self.ratios.append(float(uncertainty) / float(error))

    def level(self, key: str) -> float | None:
        """sigma_lo (the same for every key)."""
        return self.sigma_lo()

    def state_dict(self) -> dict:
        """Pool and calibration."""
        return {**super().state_dict(), "ratios": list(self.ratios)}

    def load_state_dict(self, state: dict) -> None:
        """Restore from state_dict()."""
        super().load_state_dict(state)
        self.ratios = list(state.get("ratios", ()))


class Diverse(CxThreshold):
    """Wanted as by the threshold rule; picks far from what the model knows.

    Each slot takes the pool's candidate maximising uncertainty x (Euclidean
    distance, in the model's structure descriptors, to the nearest training
    geometry, label in flight or geometry picked before it), or with probability
    al.diverse_random_share a candidate drawn at random. Picks stay "in flight"
    for this rule until max_in_flight later picks.
    """

    def __init__(self, al: ALConfig, view: LoopView) -> None:
        super().__init__(al, view)
        if view.describe is None or view.train_frames is None:
            raise ValueError("the diverse rule needs descriptors and training frames")
        self.describe, self.train_frames = view.describe, view.train_frames
        self.random_share = al.diverse_random_share
        self.memory = max(1, view.max_in_flight)
        self.recent: list[Atoms] = []  # latest picks, newest last
        self.picks = 0  # seeds the random draws (stable under resume)

    def pick(self, free_slots: int) -> list[Candidate]:
        """Up to free_slots candidates, one at a time, each against the rest."""
        picked: list[Candidate] = []
        if free_slots < 1 or not self.pool:
            return picked
        wanted = list(self.pool.values())
        desc = self.describe([c.atoms for c in wanted])
        known = [*self.train_frames(), *self.recent]
        seen = self.describe(known) if known else np.empty((0, desc.shape[1]))
        nearest = np.full(len(wanted), np.inf)
        if len(seen):
            nearest = np.linalg.norm(desc[:, None] - seen[None], axis=-1).min(axis=1)
        left = list(range(len(wanted)))
        while left and len(picked) < free_slots:
            rng = np.random.default_rng(self.picks)
            self.picks += 1
            if rng.random() < self.random_share:
                j = left[int(rng.integers(len(left)))]
            else:
                j = max(left, key=lambda i: wanted[i].uncertainty * nearest[i])
            left.remove(j)
            picked.append(wanted[j])
            nearest = np.minimum(nearest, np.linalg.norm(desc - desc[j], axis=-1))
        for c in picked:
            del self.pool[c.traj]
        self.recent = [*self.recent, *(c.atoms for c in picked)][-self.memory :]
        return picked

    def state_dict(self) -> dict:
        """The threshold rule's state, the recent picks and the draw counter."""
        return {**super().state_dict(), "recent": self.recent, "picks": self.picks}

    def load_state_dict(self, state: dict) -> None:
        """Restore from state_dict()."""
        super().load_state_dict(state)
        self.recent = list(state.get("recent", ()))
        self.picks = int(state.get("picks", 0))


RULES: dict[str, Callable[[ALConfig, LoopView], SelectionRule]] = {
    "threshold": CxThreshold,
    "trust_window": TrustWindow,
    "diverse": Diverse,
}
"""Rules `al.selection` may name; each is built as rule(al, view)."""
