"""Parallel active learning: batched MD explores, uncertain geometries get labelled.

One event loop owns MD, training and bookkeeping. A trajectory whose uncertainty
crosses the threshold waits for its label while the others keep running; each
arriving label adds epochs of training, done in chunks between MD advances.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from ase import Atoms

from pax.al.context import Context
from pax.al.decisions import al_stop, enough_validation
from pax.al.labels import store_label
from pax.al.records import log_calibration, log_sampling, train_logger
from pax.al.replay import random_subset_sets
from pax.al.sanity import unphysical
from pax.al.threshold import Threshold

log = logging.getLogger(__name__)


class ActiveLearning:
    """The AL phase, resumable from its saved state."""

    def __init__(self, ctx: Context) -> None:
        from pax.md import BatchedMD

        self.ctx = ctx
        cfg = ctx.cfg
        self.al = cfg.al
        n = self.al.num_trajectories
        self.starts = [ctx.systems[i % len(ctx.systems)].copy() for i in range(n)]
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
        )
        self.threshold = Threshold(
            self.al.c_x,
            self.al.threshold_window,
            self.al.threshold_warmup,
            self.al.threshold_floor,
            self.al.threshold_ceiling,
        )
        self.waiting: dict[int, str] = {}  # trajectory -> ticket
        self.checkpoints: list[Atoms] = [self.md.atoms(i) for i in range(n)]
        self.quiet_steps = np.zeros(n, dtype=np.int64)  # MD steps since last crossing
        self.crashes = np.zeros(n, dtype=np.int64)  # stops since the last good check
        self.predicted: dict[
            str, np.ndarray
        ] = {}  # ticket -> mean forces at submission
        self.pending_epochs = 0
        self.fresh: set[str] = set()  # training labels whose epochs are still due
        self.deferred = False  # training waited one MD chunk after a submission
        self.epochs = 0
        self.mae: float | None = None  # validation force MAE, eV/Å
        self.e_mae_mev: float | None = None  # validation energy MAE, meV/atom
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
            reason = al_stop(
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
                self._prospective_mae(),
                self.al.prospective_window > 0,
            )
            if reason:
                break
            # MD first: labels submitted at the last check compute meanwhile.
            submitted = 0
            running = self.md.running
            if self.al.synchronous and ctx.pool.in_flight:
                running = running & False  # everyone waits for the labels out
            if running.any():
                in_flight = ctx.pool.in_flight
                self.md.advance(self.al.skip_step_mlff)
                self.quiet_steps[running] += self.al.skip_step_mlff
                ctx.tracker.log(
                    "md",
                    {
                        "phase": "al",
                        "md_steps": int(self.md.steps.sum()),
                        "running": int(running.sum()),
                        "in_flight": in_flight,
                        "in_flight_after": ctx.pool.in_flight,
                    },
                )
                submitted = self._check()
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
                time.sleep(0.02)
            self._progress()
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
                "prospective_f_mae": self._prospective_mae(),
                "labels": self.labels,
            },
        )
        log.info("AL stopped: %s", reason)
        return reason

    # --------------------------------------------------------------- pieces
    def _check(self) -> int:
        """Compare each running trajectory with its threshold; return labels sent."""
        ctx, al = self.ctx, self.al
        submitted = 0
        unc = self.md.uncertainty()[al.uncertainty]
        frozen = ctx.n_train() >= al.freeze_threshold_dataset
        if frozen and not self.threshold.frozen:
            self.threshold.freeze()
        for i in np.flatnonzero(self.md.running):
            key, u = self.keys[i], float(unc[i])
            thr = self.threshold.value(key)
            crossed = self.threshold.crossed(key, u)
            step = int(self.md.steps[i])
            ctx.tracker.log(
                "uncertainty",
                {
                    "phase": "al",
                    "traj": int(i),
                    "system": key,
                    "md_step": step,
                    "uncertainty": u,
                    "threshold": thr,
                    "crossed": crossed,
                },
            )
            self.threshold.observe(key, u)
            if crossed and ctx.pool.in_flight < ctx.max_in_flight:
                submitted += self._submit(int(i), u, thr)
            elif not crossed:
                self.checkpoints[i] = self.md.atoms(int(i))
                self.crashes[i] = 0
                if self.quiet_steps[i] >= al.uncert_not_crossed_limit:
                    log.info(
                        "trajectory %d quiet for %d steps: restarting",
                        i,
                        self.quiet_steps[i],
                    )
                    self.md.reset(int(i), self.starts[i].copy())
                    self.quiet_steps[i] = 0
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
            stops = self.crashes[i] >= al.stops_before_label
            if stops and ctx.pool.in_flight < ctx.max_in_flight:
                # The model fails here again and again: label the last good geometry.
                submitted += self._submit(i, float("nan"), None, trigger="md_stopped")
        return submitted

    def _submit(
        self,
        i: int,
        uncertainty: float,
        threshold: float | None,
        trigger: str = "uncertainty",
    ) -> int:
        """Send trajectory i's geometry to the reference; 0 when the gate refused it."""
        atoms = self.md.atoms(i)
        frame = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        frame.info["system"] = self.keys[i]
        tag = {
            "phase": "al",
            "traj": i,
            "system": self.keys[i],
            "md_step": int(self.md.steps[i]),
            "uncertainty": uncertainty,
            "threshold": threshold,
            "trigger": trigger,
        }
        predicted = self._sane_prediction(i, frame, tag)
        if predicted is None:
            return 0
        ticket = self.ctx.pool.submit(frame, tag)
        self.predicted[ticket] = predicted
        self.waiting[i] = ticket
        self.md.pause(i)
        self.quiet_steps[i] = 0
        return 1

    def _sane_prediction(self, i: int, frame: Atoms, tag: dict) -> np.ndarray | None:
        """The ensemble's mean forces (n, 3) eV/Å on frame, None if the gate refuses.

        A refused geometry is logged with its reason and trajectory i rolls back to
        its checkpoint; nothing is labelled.
        """
        if not self.al.sanity.enabled:
            return self.ctx.ensemble.predict([frame])["forces_comm"]
        start = self.starts[i]
        out = self.ctx.ensemble.predict([frame, start])
        forces = out["forces_comm"][: len(frame)]  # (n, 3) eV/Å
        energy, start_energy = (float(e) for e in out["energy"])  # eV
        reason = unphysical(frame, start, self.al.sanity, forces, energy, start_energy)
        if reason is None:
            return forces
        log.warning("trajectory %d: not labelled, rolled back (%s)", i, reason)
        self.ctx.tracker.log("rejected", {**tag, "reason": reason})
        self.md.reset(i, self.checkpoints[i].copy())
        self.quiet_steps[i] = 0
        return None

    def _arrived(self, done) -> None:
        ctx = self.ctx
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

    def _resume_orphans(self) -> None:
        """Resume trajectories that wait for a label the pool no longer knows."""
        in_flight = self.ctx.pool.in_flight_tickets()
        for traj, ticket in list(self.waiting.items()):
            if ticket not in in_flight:
                del self.waiting[traj]
                self.md.resume(traj)

    def _train_chunk(self) -> None:
        ctx = self.ctx
        epochs = min(self.al.intermediate_epochs_al, self.pending_epochs)
        ctx.ensemble.train(
            self._train_sets(),
            ctx.store.get("valid"),
            epochs,
            phase="al",
            on_epoch=train_logger(ctx, "al"),
        )
        self.pending_epochs -= epochs
        if self.pending_epochs == 0:
            self.fresh.clear()
        self.epochs += epochs
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

    def _evaluate(self) -> None:
        metrics = self.ctx.ensemble.evaluate(self.ctx.store.get("valid"))
        self.mae = float(metrics["mean"]["f_mae"])
        self.e_mae_mev = 1000.0 * float(metrics["mean"]["e_mae_per_atom"])

    def _prospective_mae(self) -> float | None:
        """Mean prospective force MAE of the last al.prospective_window labels."""
        window = self.al.prospective_window
        if window < 1 or len(self.prospective) < window:
            return None
        return float(np.mean(self.prospective[-window:]))

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

    def _progress(self) -> None:
        ctx = self.ctx
        ctx.tracker.progress(
            "al",
            n_train=ctx.n_train(),
            threshold=self.threshold.value(self.keys[0]),
            in_flight=ctx.pool.in_flight,
            mae=self.mae,
            target=self.al.desired_acc,
            e_mae=self.e_mae_mev,
            md_steps=int(self.md.steps.sum()),
        )

    # ---------------------------------------------------------------- state
    def _state(self) -> dict:
        return {
            "md": self.md.state_dict(),
            "threshold": self.threshold.state_dict(),
            "waiting": dict(self.waiting),
            "checkpoints": self.checkpoints,
            "quiet_steps": self.quiet_steps.copy(),
            "pending_epochs": self.pending_epochs,
            "fresh": sorted(self.fresh),
            "epochs": self.epochs,
            "mae": self.mae,
            "e_mae_mev": self.e_mae_mev,
            "prospective": list(self.prospective),
            "labels": self.labels,
        }

    def _restore(self, state: dict) -> None:
        self.md.load_state_dict(state["md"])
        self.threshold.load_state_dict(state["threshold"])
        self.waiting = {int(k): v for k, v in state["waiting"].items()}
        self.checkpoints = state["checkpoints"]
        self.quiet_steps = state["quiet_steps"]
        self.pending_epochs, self.epochs = state["pending_epochs"], state["epochs"]
        self.fresh = set(state.get("fresh", ()))  # absent in states of older pax
        self.mae, self.labels = state["mae"], state["labels"]
        self.e_mae_mev = state.get("e_mae_mev")  # absent in states of older pax
        self.prospective = list(state.get("prospective", ()))
