"""The Tracker: every event of a run to metrics.jsonl, W&B, plots and the display."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pax.tracking.progress import ProgressDisplay
from pax.tracking.records import METRICS_FILE, RunCounters, jsonable, read_metrics
from pax.tracking.timing import TimeBudget
from pax.tracking.wandb_sink import WandbSink

log = logging.getLogger(__name__)

PLOTS_DIR = "plots"


class Tracker:
    """Records every event of a run (the only caller of W&B).

    kinds and their fields (as IDG, AL and finalize log them):
      train:       phase, epoch, member ("mean" for the ensemble), train_loss,
                   valid_loss, valid_e_mae_per_atom, valid_f_mae, valid_f_rmse, lr;
                   IDG and AL add n_train, n_valid (converge records have none)
      uncertainty: phase, traj, system, md_step, uncertainty, threshold, crossed
      sampling:    phase, ticket, traj, member (IDG), system, md_step, uncertainty,
                   threshold, trigger (AL), label_wall_s, status, reason, split,
                   n_train, n_valid, in_flight, utilisation; one per ticket
      calibration: phase, traj, system, predicted_uncertainty, force_error_max,
                   force_error_mean
      md:          phase, md_steps (total so far), running, in_flight,
                   in_flight_after
      test:        phase, n_labels, test_f_mae, test_f_rmse, test_e_mae_per_atom
      phase:       phase, event (start|end), and phase figures
      summary, model: written by summary() and log_model()
    Each record gets time_s (run wall time, continued across resumes) and kind;
    train records also get epoch_total (epochs counted over all phases) and
    sampling and calibration records labels (labels returned so far).
    summary keys the workflow should give: final_valid_f_mae,
    final_valid_e_mae_per_atom (eV/Å, eV/atom), stop_reason (final_mae is
    taken as final_valid_f_mae when that is missing); the tracker adds
    wall_time_s, labels_<phase>, labels_total, labels_failed (and
    final_valid_f_mae from the last ensemble-mean train record when missing).

    No method raises because of W&B: a missing, failing or disabled W&B is
    reported once and the run goes on with metrics.jsonl and the plots.
    """

    def __init__(
        self,
        run_dir: Path,
        cfg: Any = None,
        job_type: str = "all",
        group: str | None = None,
        resolved_config: dict[str, Any] | None = None,
        progress_interval_s: float = 30.0,
        budget: TimeBudget | None = None,
    ) -> None:
        """Open metrics.jsonl (appending on resume) and start or resume W&B.

        Args:
            run_dir: The run directory; everything is written under it.
            cfg: The PaxConfig (its wandb and al nodes are read); None means
                W&B defaults (offline) and no MAE targets on plots.
            job_type: idg, al or all (W&B job type).
            group: The sweep's name under -m (W&B group unless wandb.group is set).
            resolved_config: The resolved config as a dict (W&B config).
            progress_interval_s: Least time between plain progress lines (s).
            budget: The run's time budget; tracking time counts as "tracking".
        """
        self._budget = budget
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.cfg = cfg
        self._counters = RunCounters()
        for row in read_metrics(self.run_dir):
            self._counters.update(row)
        self._t0 = time.time() - self._counters.last_time_s
        self._file = open(self.run_dir / METRICS_FILE, "a", buffering=1)  # noqa: SIM115
        self._progress = ProgressDisplay(interval_s=progress_interval_s)
        self._wandb = WandbSink.start(
            self.run_dir, _wandb_cfg(cfg), job_type, group, resolved_config or {}
        )

    @property
    def wandb_active(self) -> bool:
        """Whether records still go to W&B."""
        return self._wandb is not None and self._wandb.run is not None

    def log(self, kind: str, record: dict[str, Any]) -> None:
        """Append one record to metrics.jsonl (flushed at once) and send it to W&B."""
        row = {"kind": kind, "time_s": round(time.time() - self._t0, 3), **record}
        with self._timed():
            self._counters.annotate(row)
            self._counters.update(row)
            self._file.write(json.dumps(row, default=jsonable) + "\n")
            if self._wandb is not None and kind not in ("summary", "model"):
                self._wandb.log(row)

    def logged_label(self, ticket: str) -> bool:
        """Whether a "sampling" record of this ticket is in metrics.jsonl already."""
        return ticket in self._counters.label_tickets

    def progress(self, phase: str, **fields: Any) -> None:
        """Update the live display (fields: see pax.tracking.progress)."""
        with self._timed():
            self._progress.update(phase, **fields)

    def _timed(self):
        return (
            self._budget.section("tracking")
            if self._budget is not None
            else contextlib.nullcontext()
        )

    def plots(self, phase: str) -> list[Path]:
        """Write the PNG plots of everything so far under run_dir/plots/.

        Args:
            phase: The phase that just ended (for the log line and W&B tables).

        Returns:
            The PNG files written.
        """
        with self._timed():
            return self._plots(phase)

    def _plots(self, phase: str) -> list[Path]:
        from pax.tracking import plots

        try:
            paths = plots.make_all(
                read_metrics(self.run_dir), self.run_dir / PLOTS_DIR, self._targets()
            )
        except Exception as exc:  # plots must never stop a run
            log.warning("plots after %s failed: %s", phase, exc)
            return []
        log.info("plots after %s: %s", phase, ", ".join(p.name for p in paths))
        self._send_tables()
        return paths

    def summary(self, values: dict[str, Any]) -> dict[str, Any]:
        """Record the final figures of the run (W&B summary and metrics.jsonl).

        Returns:
            The summary as recorded, with the figures the tracker adds.
        """
        full = {**self._counters.summary(time.time() - self._t0), **values}
        if "final_mae" in values and "final_valid_f_mae" not in values:
            full["final_valid_f_mae"] = values["final_mae"]
        self.log("summary", full)
        self._send_tables()
        if self._wandb is not None:
            self._wandb.summary(full)
        return full

    def log_model(self, paths: Iterable[Path]) -> None:
        """Record the final model files; upload them when wandb.log_model is set."""
        files = [str(p) for p in paths]
        self.log("model", {"files": files})
        wcfg = _wandb_cfg(self.cfg)
        if self._wandb is not None and getattr(wcfg, "log_model", False):
            self._wandb.artifact(files)

    def close(self, exit_code: int = 0) -> None:
        """Stop the display, finish the W&B run and close metrics.jsonl.

        Args:
            exit_code: 0 for a finished run; anything else marks the W&B run failed.
        """
        self._progress.close()
        if self._wandb is not None:
            self._wandb.finish(exit_code)
            self._wandb = None
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> Tracker:
        """The tracker itself."""
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        """Close; an exception marks the W&B run failed."""
        self.close(exit_code=0 if exc_type is None else 1)

    def _send_tables(self) -> None:
        if self._wandb is not None:
            counters = self._counters
            self._wandb.tables(counters.sampling_rows, counters.calibration_rows)

    def _targets(self) -> dict[str, float]:
        al = getattr(self.cfg, "al", None)
        if al is None:
            return {}
        idg = al.desired_acc * al.idg.desired_acc_scale_idg
        return {"al": al.desired_acc, "idg": idg}


def _wandb_cfg(cfg: Any) -> Any:
    return getattr(cfg, "wandb", None)
