"""Run tracking: metrics.jsonl, Weights & Biases, plots and the progress display."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pax.progress import ProgressDisplay
from pax.tracking_wandb import (
    CALIBRATION_COLUMNS,
    SAMPLING_COLUMNS,
    WandbSink,
    jsonable,
)

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
PLOTS_DIR = "plots"


class Tracker:
    """Records every event of a run (the only module that talks to W&B).

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
        """
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.cfg = cfg
        self._state = _State()
        for row in read_metrics(self.run_dir):
            self._state.update(row)
        self._t0 = time.time() - self._state.last_time_s
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
        self._state.annotate(row)
        self._state.update(row)
        self._file.write(json.dumps(row, default=jsonable) + "\n")
        if self._wandb is not None and kind not in ("summary", "model"):
            self._wandb.log(row)

    def logged_label(self, ticket: str) -> bool:
        """Whether a "sampling" record of this ticket is in metrics.jsonl already."""
        return ticket in self._state.label_tickets

    def progress(self, phase: str, **fields: Any) -> None:
        """Update the live display (fields: see pax.progress)."""
        self._progress.update(phase, **fields)

    def plots(self, phase: str) -> list[Path]:
        """Write the PNG plots of everything so far under run_dir/plots/.

        Args:
            phase: The phase that just ended (for the log line and W&B tables).

        Returns:
            The PNG files written.
        """
        from pax import plots

        try:
            paths = plots.make_all(
                read_metrics(self.run_dir), self.run_dir / PLOTS_DIR, self._targets()
            )
        except Exception as exc:  # plots must never stop a run
            log.warning("plots after %s failed: %s", phase, exc)
            return []
        log.info("plots after %s: %s", phase, ", ".join(p.name for p in paths))
        if self._wandb is not None:
            self._wandb.tables(self._state.sampling_rows, self._state.calibration_rows)
        return paths

    def summary(self, values: dict[str, Any]) -> dict[str, Any]:
        """Record the final figures of the run (W&B summary and metrics.jsonl).

        Returns:
            The summary as recorded, with the figures the tracker adds.
        """
        full = {**self._state.summary(time.time() - self._t0), **values}
        if "final_mae" in values and "final_valid_f_mae" not in values:
            full["final_valid_f_mae"] = values["final_mae"]
        self.log("summary", full)
        if self._wandb is not None:
            self._wandb.tables(self._state.sampling_rows, self._state.calibration_rows)
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
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.close(exit_code=0 if exc_type is None else 1)

    def _targets(self) -> dict[str, float]:
        al = getattr(self.cfg, "al", None)
        if al is None:
            return {}
        idg = al.desired_acc * al.idg.desired_acc_scale_idg
        return {"al": al.desired_acc, "idg": idg}


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The records of run_dir/metrics.jsonl (a torn last line is skipped)."""
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return []
    rows = []
    with open(path) as handle:
        for line in handle:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                log.debug("skipping a torn line in %s", path)
    return rows


class _State:
    """Counters rebuilt from metrics.jsonl so a resumed run continues its axes."""

    def __init__(self) -> None:
        self.last_time_s = 0.0
        self.labels = 0
        self.labels_by_phase: dict[str, int] = {}
        self.labels_failed = 0
        self.crossed = 0
        self.train_phase: str | None = None
        self.epoch_base = 0
        self.epoch_max = -1
        self.last_mean: dict[str, Any] = {}
        self.label_tickets: set[str] = set()
        self.sampling_rows: list[list[Any]] = []
        self.calibration_rows: list[list[Any]] = []

    def annotate(self, row: dict[str, Any]) -> None:
        """Add the running axes to a new record."""
        kind = row["kind"]
        if kind == "train" and "epoch" in row:
            phase = row.get("phase")
            if phase != self.train_phase:
                self.train_phase = phase
                self.epoch_base = self.epoch_max + 1
            row["epoch_total"] = self.epoch_base + int(row["epoch"])
        elif kind == "sampling":
            row["labels"] = self.labels + 1
        elif kind == "calibration":
            row["labels"] = self.labels

    def update(self, row: dict[str, Any]) -> None:
        """Count one record (new, or read back on resume)."""
        kind = row.get("kind")
        self.last_time_s = max(self.last_time_s, float(row.get("time_s", 0.0)))
        if kind == "train":
            self.train_phase = row.get("phase")
            total = row.get("epoch_total", row.get("epoch", 0))
            self.epoch_base = int(total) - int(row.get("epoch", 0))
            self.epoch_max = max(self.epoch_max, int(total))
            if str(row.get("member", "mean")) == "mean":
                self.last_mean = row
        elif kind == "sampling":
            self.labels = int(row.get("labels", self.labels + 1))
            if row.get("ticket") is not None:
                self.label_tickets.add(str(row["ticket"]))
            if row.get("status", "ok") == "ok":
                phase = str(row.get("phase", "al"))
                self.labels_by_phase[phase] = self.labels_by_phase.get(phase, 0) + 1
            else:
                self.labels_failed += 1
            self.sampling_rows.append([row.get(c) for c in SAMPLING_COLUMNS])
        elif kind == "calibration":
            self.calibration_rows.append([row.get(c) for c in CALIBRATION_COLUMNS])
        elif kind == "uncertainty" and row.get("crossed"):
            self.crossed += 1

    def summary(self, wall_time_s: float) -> dict[str, Any]:
        """The figures the tracker knows by itself."""
        out: dict[str, Any] = {"wall_time_s": round(wall_time_s, 3)}
        out.update({f"labels_{p}": n for p, n in self.labels_by_phase.items()})
        out["labels_total"] = sum(self.labels_by_phase.values())
        out["labels_failed"] = self.labels_failed
        if self.last_mean.get("valid_f_mae") is not None:
            out["final_valid_f_mae"] = self.last_mean["valid_f_mae"]
        return out


def _wandb_cfg(cfg: Any) -> Any:
    return getattr(cfg, "wandb", None)
