"""Parallel active learning: batched MD explores, uncertain geometries get labelled.

One event loop owns MD, training and bookkeeping. The selection rule
(pax/al/selection.py) judges each running trajectory's geometry; a picked one
waits for its label while the others keep running; each arriving label adds
epochs of training, done in chunks between MD advances.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from ase import Atoms

from pax.al.analysis import log_analysis, send_analysis
from pax.al.config import FullQueue
from pax.al.context import Context
from pax.al.decisions import al_stop, enough_validation
from pax.al.labels import store_label
from pax.al.loop_state import LoopState
from pax.al.potentials import foundation_driver
from pax.al.records import (
    log_calibration,
    log_md,
    log_progress,
    log_sampling,
    train_logger,
)
from pax.al.replay import random_subset_sets, validation_subset
from pax.al.sanity import gated_forces, rollback_geometry
from pax.al.selection import RULES, Candidate, LoopView, Verdict
from pax.al.starts import al_starts, trajectory_configs
from pax.md.per_system import system_md
from pax.tracking.timing import timed

log = logging.getLogger(__name__)


class ActiveLearning(LoopState):
    """The AL phase, resumable from its saved state."""

    def __init__(self, ctx: Context) -> None:
        from pax.md import BatchedMD

        self.ctx = ctx
        cfg = ctx.cfg
        self.al = cfg.al
        n = self.al.num_trajectories
        self.starts = al_starts(ctx)
        self.keys = [
            (
                a.info.get("system", cfg.system.name)
                if self.al.threshold_per_system
                else "all"
            )
            for a in self.starts
        ]
        self.md = BatchedMD(
            cfg.md,
            ctx.ensemble.models,
            self.starts,
            seeds=[cfg.md.seed + i for i in range(n)],
            per_system=trajectory_configs(
                system_md(cfg.md, ctx.systems, cfg.system.geometry),
                self.al.temperatures_K,
                n,
            ),
            driver=foundation_driver(cfg),
        )
        view = LoopView(
            ctx.n_train, ctx.ensemble.descriptors, ctx.train_frames, ctx.max_in_flight
        )
        self.rule = RULES[self.al.selection](self.al, view)
        self.waiting: dict[int, str] = {}  # trajectory -> ticket
        self.labelled_at: dict[int, int] = {}  # trajectory -> MD step of last label
        self.analysed_at: dict[int, int] = {}  # trajectory -> MD step of last analysis
        self.checkpoints: list[Atoms] = [self.md.atoms(i) for i in range(n)]
        self.quiet_steps = np.zeros(n, dtype=np.int64)  # MD steps since last crossing
        self.crashes = np.zeros(n, dtype=np.int64)  # stops since the last label
        self.predicted: dict[str, np.ndarray] = {}  # ticket -> mean forces (n, 3)
        self.pending_epochs = 0
        self.fresh: set[str] = set()  # training labels whose epochs are still due
        self.deferred = False  # training waited one MD chunk after a submission
        self.epochs = 0
        self.mae: float | None = None  # validation force MAE, eV/Å
        self.e_mae_mev: float | None = None  # validation energy MAE, meV/atom
        self.mae_on_subset = False  # self.mae measured on al.valid_subset_size frames
        self.prospective: list[float] = []  # force MAE of each AL label before training
        self.labels = 0
        state = ctx.load("al")
        if state:
            self._restore(state)

    # ------------------------------------------------------------------ loop
    def run(self) -> str:
        """Explore and learn until a stop rule holds; return the stop reason."""
        ctx = self.ctx
        ctx.tracker.log("phase", {"phase": "al", "event": "start"})
        for done in ctx.pool.recovered():
            self._arrived(done)
        self._resume_orphans()
        if self.mae is None:
            self._evaluate()
        while True:
            for done in ctx.pool.completed():
                self._arrived(done)
            reason = self._stop_reason()
            if reason and self.mae_on_subset:  # confirm on the whole set
                self._evaluate()
                reason = self._stop_reason()
            if reason:
                break
            # MD first: labels submitted at the last check compute meanwhile.
            running = self.md.running
            if self.al.synchronous and ctx.pool.in_flight:
                running = running & False  # everyone waits for the labels out
            if running.any():
                in_flight = ctx.pool.in_flight
                ctx.use_free_cores()
                with ctx.budget.section("md"):
                    self.md.advance(self.al.skip_step_mlff)
                    ctx.trajectories.offer_md("al", self.md, self.al.uncertainty)
                self.quiet_steps[running] += self.al.skip_step_mlff
                log_md(ctx, self.md, running, in_flight)
                submitted = self._check()
                send_analysis(self)
            else:  # a slot may have freed for a trajectory paused at its geometry
                submitted = self._label()
            # Right after sending labels the other trajectories explore one more
            # chunk before training takes the cores again.
            defer = bool(submitted) and self.md.running.any() and not self.deferred
            self.deferred = defer and self.pending_epochs > 0
            if self.pending_epochs > 0 and not defer:
                self._train_chunk()
                # MD never runs more than one label's training ahead of the model.
                while self.pending_epochs > self.al.epochs_per_worker:
                    self._train_chunk()
            elif not running.any():
                with ctx.budget.section("reference_wait"):
                    time.sleep(0.02)
            log_progress(self)
            ctx.save("al", self._state(), every_s=10.0)
        self._finish_in_flight()
        ctx.save("al", self._state())
        ctx.tracker.log(
            "phase",
            {
                "phase": "al",
                "event": "end",
                "reason": reason,
                "valid_f_mae": self.mae,
                "valid_e_mae_mev_per_atom": self.e_mae_mev,
                "prospective_f_mae": self.prospective_mae(),
                "labels": self.labels,
            },
        )
        log.info("AL stopped: %s", reason)
        return reason

    # --------------------------------------------------------------- pieces
    def _stop_reason(self) -> str | None:
        ctx = self.ctx
        return al_stop(
            enough_validation(
                self.mae, ctx.store.size("valid"), self.al.min_valid_size
            ),
            self.al.desired_acc,
            ctx.n_train(),
            self.al.max_train_set_size,
            int(self.md.steps.min()),
            self.al.max_MD_steps,
            self.e_mae_mev,
            self.al.desired_acc_energy,
            self.prospective_mae(),
            self.al.prospective_window > 0,
        )

    def _chunk_validation(self) -> list:
        """The validation frames of a training chunk (al.valid_subset_size)."""
        valid = self.ctx.store.get("valid")
        chosen = validation_subset(valid, self.al, np.random.default_rng(self.epochs))
        self.mae_on_subset = chosen is not valid
        return chosen

    @timed("selection")
    def _check(self) -> int:
        """Offer each running trajectory to the selection rule; return labels sent."""
        unc = self.md.uncertainty()[self.al.uncertainty]
        gap = self.al.min_steps_between_labels  # MD steps
        running = map(int, np.flatnonzero(self.md.running))
        offered = [self._candidate(i, float(unc[i])) for i in running]
        for c, verdict in zip(offered, self.rule.offer(offered)):
            crossed = verdict is Verdict.wanted
            record = {"phase": "al", **c.record(), "crossed": crossed}
            self.ctx.tracker.log("uncertainty", record)
            if verdict is Verdict.calm:
                self._calm(c)
            elif verdict is Verdict.too_far:
                reason = f"uncertainty {c.uncertainty:.3g} beyond al.selection's trust"
                tag = {"phase": "al", **c.record()}
                self._roll_back(c.traj, reason, tag, fresh_velocities=True)
            elif c.md_step < self.labelled_at.get(c.traj, -np.inf) + gap:
                self.rule.withdraw(c.traj)  # labelled too recently: it runs on
        return self._label() + self._restart_stopped()

    def _label(self) -> int:
        """Send the rule's picks while label slots are free; return labels sent."""
        sent = 0
        while (free := self.ctx.max_in_flight - self.ctx.pool.in_flight) > 0:
            picked = self.rule.pick(free)
            if not picked:
                break
            sent += sum(self._submit(c) for c in picked)
        for traj in self.rule.waiting():  # wanted, but no slot is free
            if self.al.full_queue == FullQueue.pause:
                self.md.pause(traj)  # labelled at this geometry once a slot frees
            else:
                self.rule.withdraw(traj)  # it runs on unlabelled (aims-PAX)
        return sent

    def _calm(self, c: Candidate) -> None:
        """Make c its trajectory's checkpoint; restart one quiet for too long."""
        i = c.traj
        self.checkpoints[i] = c.atoms
        if self.quiet_steps[i] >= self.al.uncert_not_crossed_limit:
            log.info(
                "trajectory %d quiet for %d steps: restarting", i, self.quiet_steps[i]
            )
            self.md.reset(i, self.starts[i].copy())
            self.quiet_steps[i] = 0
            self.crashes[i] = 0

    def _restart_stopped(self) -> int:
        """Restart trajectories an MD guard stopped; return labels sent."""
        submitted = 0
        for i in map(int, np.flatnonzero(self.md.stopped)):
            if i in self.waiting:
                continue
            self.crashes[i] += 1
            log.warning(
                "trajectory %d stopped (%s): restarting from its checkpoint",
                i,
                self.md.stop_reason(i),
            )
            self.md.reset(i, self.checkpoints[i].copy())
            stops = self.crashes[i] >= self.al.stops_before_label
            if stops and self.ctx.pool.in_flight < self.ctx.max_in_flight:
                # The model fails here again and again: label the last good geometry.
                last_good = self._candidate(i, float("nan"))
                submitted += self._submit(last_good, trigger="md_stopped")
        return submitted

    def _candidate(self, i: int, uncertainty: float) -> Candidate:
        """Trajectory i's current geometry, with its uncertainty."""
        step = int(self.md.steps[i])
        return Candidate(i, self.md.atoms(i), uncertainty, step, self.keys[i])

    def _submit(self, c: Candidate, trigger: str = "uncertainty") -> int:
        """Send c's geometry to the reference; 0 when the gate refused it."""
        atoms = c.atoms
        frame = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        frame.info["system"] = c.key
        tag = {"phase": "al", **c.record(), "trigger": trigger}
        gate = (self.starts[c.traj], self.al.sanity)
        predicted, reason = gated_forces(self.ctx.ensemble, frame, *gate)
        if reason is not None:
            self._roll_back(c.traj, reason, tag)
            return 0
        ticket = self.ctx.pool.submit(frame, tag)
        self.predicted[ticket] = predicted
        self.waiting[c.traj] = ticket
        self.labelled_at[c.traj] = c.md_step
        self.md.pause(c.traj)
        self.quiet_steps[c.traj] = 0
        self.crashes[c.traj] = 0
        return 1

    def _roll_back(
        self, i: int, reason: str, tag: dict, fresh_velocities: bool = False
    ) -> None:
        """Log i's geometry as rejected (unlabelled) and restart i.

        It restarts at its checkpoint, or at its start when the checkpoint fails
        the sanity gate too.
        """
        log.warning("trajectory %d: not labelled, rolled back (%s)", i, reason)
        self.ctx.tracker.log("rejected", {**tag, "reason": reason})
        atoms = rollback_geometry(self.checkpoints[i], self.starts[i], self.al.sanity)
        self.checkpoints[i] = atoms.copy()
        if fresh_velocities:
            atoms.set_momenta(None)  # drawn anew at the trajectory's temperature
        self.md.reset(i, atoms)
        self.md.resume(i)  # one paused for a free slot runs again
        self.quiet_steps[i] = 0

    def _arrived(self, done) -> None:
        ctx = self.ctx
        if done.tag.get("phase") == "analysis":
            store_label(ctx, done)  # counts the reference time; never stored
            log_analysis(ctx, done, self.predicted.pop(done.ticket, None))
            return
        split = store_label(ctx, done)
        traj = done.tag.get("traj")
        is_al = done.tag.get("phase") == "al"
        if split is not None:
            self.labels += int(is_al)
            self.pending_epochs += self.al.epochs_per_worker
            if split.startswith("train"):
                self.fresh.add(done.ticket)
        if is_al and self.waiting.get(traj) == done.ticket:
            del self.waiting[traj]
            if done.result.ok:
                self.checkpoints[traj] = self.md.atoms(traj)
            else:
                log.warning(
                    "trajectory %d: label %s failed (%s); restarting from its "
                    "checkpoint",
                    traj,
                    done.ticket,
                    done.result.reason,
                )
                self.md.reset(traj, self.checkpoints[traj].copy())
            self.md.resume(traj)
        log_sampling(ctx, done, split)
        predicted = self.predicted.pop(done.ticket, None)
        if done.tag.get("trigger", "uncertainty") == "uncertainty":
            prospective = log_calibration(ctx, done, predicted)
            if prospective is not None:
                self.prospective.append(prospective)
                self.rule.calibrate(done.tag["uncertainty"], prospective)

    def _resume_orphans(self) -> None:
        """Resume trajectories that wait for a label the pool no longer knows."""
        in_flight = self.ctx.pool.in_flight_tickets()
        for traj, ticket in list(self.waiting.items()):
            if ticket not in in_flight:
                del self.waiting[traj]
                self.md.resume(traj)

    @timed("training/al")
    def _train_chunk(self) -> None:
        ctx = self.ctx
        ctx.use_free_cores()
        epochs = min(self.al.intermediate_epochs_al, self.pending_epochs)
        records = ctx.ensemble.train(
            self._train_sets(),
            self._chunk_validation(),
            epochs,
            phase="al",
            on_epoch=train_logger(ctx, "al"),
        )
        self.pending_epochs -= epochs
        if self.pending_epochs == 0:
            self.fresh.clear()
        self.epochs += epochs
        last = [r for r in records if r["member"] == "mean"]
        if last and last[-1]["epoch"] == ctx.ensemble.epoch:  # no second pass
            self.mae = float(last[-1]["valid_f_mae"])
            self.e_mae_mev = 1000.0 * float(last[-1]["valid_e_mae_per_atom"])
        else:  # not validated this epoch (mlff.valid_skip > 1)
            self._evaluate()
        ctx.track_test("al")
        self.md.set_models(ctx.ensemble.models)

    def _train_sets(self):
        ctx = self.ctx
        sets = ctx.member_train_sets()
        if self.al.replay.value == "random_subset":
            rng = np.random.default_rng(self.epochs)
            sets = random_subset_sets(sets, self.fresh, self.al.train_subset_size, rng)
        return sets

    @timed("evaluation")
    def _evaluate(self) -> None:
        self.mae_on_subset = False
        metrics = self.ctx.ensemble.evaluate(self.ctx.store.get("valid"))
        self.mae = float(metrics["mean"]["f_mae"])
        self.e_mae_mev = 1000.0 * float(metrics["mean"]["e_mae_per_atom"])

    def prospective_mae(self) -> float | None:
        """Mean prospective force MAE of the last prospective_window (0: 10) labels."""
        window = self.al.prospective_window or 10
        if len(self.prospective) < window:
            return None
        return float(np.mean(self.prospective[-window:]))

    @timed("reference_wait")
    def _finish_in_flight(self) -> None:
        ctx = self.ctx
        if ctx.pool.in_flight:
            log.info(
                "waiting up to %.0f s for %d labels in flight",
                self.al.drain_timeout_s,
                ctx.pool.in_flight,
            )
        for done in ctx.pool.drain(self.al.drain_timeout_s):
            self._arrived(done)
