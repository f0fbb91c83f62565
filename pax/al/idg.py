"""Initial dataset generation: sample with cheap MD, label asynchronously, train."""

from __future__ import annotations

import logging
import time

from pax.al.context import Context
from pax.al.decisions import enough_validation, idg_stop
from pax.al.labels import store_label
from pax.al.records import log_sampling, train_logger
from pax.al.sampler import make_sampler
from pax.errors import PaxError
from pax.tracking.timing import timed

log = logging.getLogger(__name__)


class InitialDataset:
    """aims-PAX's IDG without its barrier: labels stream in while the ensemble trains.

    Each round asks for n_points_per_sampling_step frames per member and system.
    The next round is sampled and labelled while the ensemble trains on what has
    arrived, so the reference workers and the trainer work at the same time.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        cfg = ctx.cfg
        self.idg = cfg.al.idg
        self.members = cfg.mlff.ensemble_size
        per_member = self.idg.n_points_per_sampling_step * len(ctx.systems)
        self.round_size = per_member * (
            self.members if self.idg.distinct_member_sets else 1
        )
        self.target = cfg.al.desired_acc * self.idg.desired_acc_scale_idg
        self.sampler = make_sampler(cfg, ctx.systems, ctx.run_dir)
        self.submitted = 0
        self.out: dict[int, int] = {}  # member -> labels in flight for it
        self.failed_in_a_row = 0
        self.trainings = 0
        self.epochs = 0
        self.mae: float | None = None
        self.e_mae_mev: float | None = None  # validation energy MAE, meV/atom (shown)
        state = ctx.load("idg")
        if state:
            self.sampler.load_state_dict(state["sampler"])
            self.submitted, self.trainings = state["submitted"], state["trainings"]
            self.epochs, self.mae = state["epochs"], state["mae"]

    def run(self) -> str:
        """Run to a stop rule; return the stop reason."""
        ctx = self.ctx
        ctx.tracker.log("phase", {"phase": "idg", "event": "start"})
        new_labels = 0
        for done in ctx.pool.recovered():
            split = store_label(ctx, done)
            new_labels += split is not None
            log_sampling(ctx, done, split)  # only those the killed run did not log
        while True:
            for done in ctx.pool.completed():
                new_labels += self._arrived(done)
            reason = idg_stop(
                enough_validation(
                    self.mae, ctx.store.size("valid"), ctx.cfg.al.min_valid_size
                ),
                self.target,
                self._n_train(),
                self.idg.max_initial_set_size,
                self.epochs,
                self.idg.max_initial_epochs,
                self.idg.min_initial_set_size,
            )
            if reason and ctx.store.size("valid") > 0:
                break
            self._submit_more()
            if ctx.ensemble is None and self._ready_to_build():
                self._build()
            barrier = ctx.cfg.al.synchronous and ctx.pool.in_flight > 0
            if (
                ctx.ensemble is not None
                and self._ready_to_build()  # a pretrained one waits for labels
                and not barrier
                and (new_labels or ctx.pool.in_flight == 0)
            ):
                new_labels = 0
                self._train()
            else:
                with ctx.budget.section("reference_wait"):
                    time.sleep(0.02)
            self._progress()
            ctx.save("idg", self._state(), every_s=10.0)
        if ctx.ensemble is None:
            self._build()
            self._train()
        if self.idg.converge_initial:
            al = ctx.cfg.al
            ctx.use_free_cores()
            with ctx.budget.section("training/idg"):
                ctx.ensemble.converge(
                    self._train_sets(),
                    ctx.store.get("valid"),
                    al.convergence_patience,
                    al.convergence_margin,
                    al.max_convergence_epochs,
                    members="all",
                )
        ctx.save("idg", self._state())
        ctx.tracker.log(
            "phase",
            {
                "phase": "idg",
                "event": "end",
                "reason": reason,
                "valid_f_mae": self.mae,
                "epochs": self.epochs,
                "n_train": self._n_train(),
                "n_valid": ctx.store.size("valid"),
            },
        )
        log.info("IDG stopped: %s", reason)
        return reason

    def _n_train(self) -> int:
        return (
            self.ctx.n_train()
            if self.idg.distinct_member_sets
            else self.ctx.store.size("train")
        )

    def _smallest_member(self) -> tuple[int, int]:
        """The member with the fewest training frames, counting those in flight."""
        if not self.idg.distinct_member_sets:
            return 0, self.ctx.store.size("train") + sum(self.out.values())
        sizes = [
            self.ctx.store.size(f"train_m{k}") + self.out.get(k, 0)
            for k in range(self.members)
        ]
        k = min(range(self.members), key=sizes.__getitem__)
        return k, sizes[k]

    def _arrived(self, done) -> bool:
        ctx = self.ctx
        member = done.tag.get("member")
        if done.tag.get("phase") == "idg" and self.out.get(member, 0) > 0:
            self.out[member] -= 1
        split = store_label(ctx, done)
        log_sampling(ctx, done, split)
        if done.result.ok:
            self.failed_in_a_row = 0
        else:  # sample another frame in its place (else IDG waits forever)
            self.submitted -= 1
            self.failed_in_a_row += 1
            if self.failed_in_a_row >= self.idg.max_failed_in_a_row:
                raise PaxError(
                    f"dft={ctx.cfg.dft.kind}: {self.failed_in_a_row} reference labels "
                    f"in a row failed (last: {done.result.reason}); check the dft "
                    "settings (the failures are in ledger.jsonl)"
                )
        return split is not None

    def _submit_more(self) -> None:
        ctx = self.ctx
        # Train on one round while the next is labelled (none ahead if synchronous).
        ahead = 1 if self.ctx.cfg.al.synchronous else 2
        allowed = (self.trainings + ahead) * self.round_size
        # No model can be built (or judged) before a validation frame arrives: with
        # al.validation_split=hash the first labels may all be training frames.
        no_validation = ctx.store.size("valid") == 0
        if no_validation:
            allowed = max(allowed, self.submitted + 1)
        while (
            ctx.pool.in_flight < ctx.max_in_flight
            and self.submitted < allowed
            and (
                no_validation
                or self._smallest_member()[1] < self.idg.max_initial_set_size
            )
        ):
            ctx.use_free_cores()
            with ctx.budget.section("md"):
                traj, frame = self.sampler.next_frame()
                ctx.trajectories.offer(
                    "idg",
                    traj,
                    frame,
                    self.sampler.steps[traj],
                    temperature_K=self.sampler.temperature_K(traj),
                )
            member = self._smallest_member()[0]
            self.out[member] = self.out.get(member, 0) + 1
            tag = {
                "phase": "idg",
                "member": member,
                "traj": traj,
                "system": frame.info.get("system"),
                "md_step": self.sampler.steps[traj],
            }
            ctx.pool.submit(frame, tag)
            self.submitted += 1

    def _ready_to_build(self) -> bool:
        store = self.ctx.store
        if store.size("valid") < 1:
            return False
        return self._n_train() >= 1

    @timed("training/idg")
    def _build(self) -> None:
        from pax.mlff import Ensemble

        ctx = self.ctx
        ctx.ensemble = Ensemble.build(ctx.cfg.mlff, self._train_sets(), ctx.e0s)
        log.info("built the ensemble on %d training points", self._n_train())

    def _train_sets(self):
        return self.ctx.member_train_sets()

    @timed("training/idg")
    def _train(self) -> None:
        ctx = self.ctx
        ctx.use_free_cores()
        records = ctx.ensemble.train(
            self._train_sets(),
            ctx.store.get("valid"),
            self.idg.intermediate_epochs,
            phase="idg",
            on_epoch=train_logger(ctx, "idg"),
        )
        self.trainings += 1
        self.ctx.track_test("idg")
        self.epochs += self.idg.intermediate_epochs
        mean = [r for r in records if r.get("member") == "mean"]
        if mean:
            self.mae = float(mean[-1]["valid_f_mae"])
            e_mae = mean[-1].get("valid_e_mae_per_atom")  # eV/atom
            self.e_mae_mev = None if e_mae is None else 1000.0 * e_mae

    def _progress(self) -> None:
        ctx = self.ctx
        ctx.tracker.progress(
            "idg",
            labels=self._n_train(),
            total=self.idg.max_initial_set_size,
            in_flight=ctx.pool.in_flight,
            mae=self.mae,
            e_mae=self.e_mae_mev,
            target=self.target,
        )

    def _state(self) -> dict:
        return {
            "sampler": self.sampler.state_dict(),
            "submitted": self.submitted,
            "trainings": self.trainings,
            "epochs": self.epochs,
            "mae": self.mae,
        }
