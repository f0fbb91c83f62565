"""Run tracking: metrics.jsonl, Weights & Biases, plots and the progress display."""

from __future__ import annotations

import json
import logging
import os
import secrets
import string
import time
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import Any

from pax.progress import ProgressDisplay

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
RUN_ID_FILE = "wandb_run_id"
PLOTS_DIR = "plots"

# Step axis of each W&B section (W&B plots each section against its axis).
STEP_AXES = {
    "train": "epoch",
    "uncertainty": "md_step",
    "sampling": "labels",
    "calibration": "labels",
    "md": "time_s",
    "phase": "time_s",
}
SAMPLING_COLUMNS = [
    "phase", "traj", "system", "md_step", "uncertainty", "threshold", "label_wall_s",
    "status", "reason", "split", "n_train", "n_valid", "in_flight", "utilisation",
    "time_s",
]
CALIBRATION_COLUMNS = [
    "phase", "traj", "system", "predicted_uncertainty", "force_error_max",
    "force_error_mean", "labels",
]


class Tracker:
    """Records every event of a run (the only module that talks to W&B).

    kinds and their fields:
      train:       phase, epoch, member ("mean" for the ensemble), train_loss,
                   valid_e_mae_per_atom, valid_f_mae, valid_f_rmse, lr, n_train, n_valid
      uncertainty: phase, traj, system, md_step, uncertainty, threshold, crossed
      sampling:    phase, traj, system, md_step, uncertainty, threshold, label_wall_s,
                   status, reason, n_train, n_valid, in_flight, utilisation
      calibration: phase, traj, system, predicted_uncertainty, force_error_max,
                   force_error_mean
      md:          md_steps (total so far), running, in_flight
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
        self._wandb = _WandbSink.start(self, job_type, group, resolved_config or {})

    @property
    def wandb_active(self) -> bool:
        """Whether records still go to W&B."""
        return self._wandb is not None and self._wandb.run is not None

    def log(self, kind: str, record: dict[str, Any]) -> None:
        """Append one record to metrics.jsonl (flushed at once) and send it to W&B."""
        row = {"kind": kind, "time_s": round(time.time() - self._t0, 3), **record}
        self._state.annotate(row)
        self._state.update(row)
        self._file.write(json.dumps(row, default=_jsonable) + "\n")
        if self._wandb is not None and kind not in ("summary", "model"):
            self._wandb.log(row)

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
            self._wandb.tables(self._state)
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
            self._wandb.tables(self._state)
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


class _WandbSink:
    """One W&B run; after the first failure it warns once and goes quiet."""

    def __init__(self, run: Any, wandb: Any) -> None:
        self.run = run
        self._wandb = wandb

    @classmethod
    def start(
        cls, tracker: Tracker, job_type: str, group: str | None, config: dict
    ) -> _WandbSink | None:
        wcfg = _wandb_cfg(tracker.cfg)
        mode = _plain(getattr(wcfg, "mode", "offline"))
        if mode == "disabled":
            log.info("W&B disabled (wandb.mode=disabled); metrics in %s", METRICS_FILE)
            return None
        try:
            import wandb

            run_id = _run_id(tracker.run_dir)
            run = wandb.init(
                mode=mode,
                dir=str(tracker.run_dir),
                project=getattr(wcfg, "project", "pax"),
                entity=getattr(wcfg, "entity", None),
                name=getattr(wcfg, "name", None) or tracker.run_dir.name,
                group=getattr(wcfg, "group", None) or group,
                job_type=job_type,
                tags=list(getattr(wcfg, "tags", []) or []),
                notes=getattr(wcfg, "notes", "") or None,
                config=_scrub(config),
                id=run_id,
                resume="allow",
                reinit="create_new",
                settings=wandb.Settings(
                    console="off",
                    silent=True,
                    disable_git=True,
                    save_code=False,
                    init_timeout=float(getattr(wcfg, "init_timeout_s", 60.0)),
                ),
            )
            for axis in sorted(set(STEP_AXES.values())):
                run.define_metric(axis, hidden=True)
            for section, axis in STEP_AXES.items():
                run.define_metric(f"{section}/*", step_metric=axis)
            run.define_metric("train/mean/valid_f_mae", step_metric="epoch",
                              summary="min,last")
        except Exception as exc:
            log.warning("W&B could not start (%s); the run goes on with %s and plots",
                        exc, METRICS_FILE)
            return None
        where = "offline; upload later with `wandb sync`" if mode == "offline" else mode
        log.info("W&B run %s (%s) in %s/wandb", run_id, where, tracker.run_dir)
        return cls(run, wandb)

    def _guard(self, what: str, func: Any, *args: Any) -> None:
        if self.run is None:
            return
        try:
            func(*args)
        except Exception as exc:
            log.warning("W&B failed while %s (%s); it stays off for the rest of the "
                        "run, %s goes on", what, exc, METRICS_FILE)
            self.run = None

    def log(self, row: dict[str, Any]) -> None:
        self._guard("logging", lambda: self.run.log(wandb_row(row)))

    def tables(self, state: _State) -> None:
        def send() -> None:
            data: dict[str, Any] = {}
            if state.sampling_rows:
                data["sampling/events"] = self._wandb.Table(
                    columns=SAMPLING_COLUMNS, data=state.sampling_rows)
            if state.calibration_rows:
                table = self._wandb.Table(
                    columns=CALIBRATION_COLUMNS, data=state.calibration_rows)
                data["calibration/table"] = table
                data["calibration/scatter"] = self._wandb.plot.scatter(
                    table, "predicted_uncertainty", "force_error_max",
                    title="predicted uncertainty vs force error (eV/Å)")
            if data:
                self.run.log(data)

        self._guard("logging tables", send)

    def summary(self, values: dict[str, Any]) -> None:
        flat = _flatten(values)
        self._guard("writing the summary", lambda: self.run.summary.update(flat))

    def artifact(self, files: list[str]) -> None:
        def send() -> None:
            name = "".join(c if c.isalnum() or c in "-_." else "-"
                           for c in self.run.name)
            art = self._wandb.Artifact(f"{name}-model", type="model")
            for path in files:
                art.add_file(path)
            self.run.log_artifact(art)

        self._guard("logging the model artifact", send)

    def finish(self, exit_code: int = 0) -> None:
        self._guard("finishing", lambda: self.run.finish(exit_code=exit_code))
        self.run = None


def wandb_row(row: dict[str, Any]) -> dict[str, Any]:
    """The W&B history row of a record: numbers under '<kind>/...' plus its axis.

    train fields go under train/<member>/ (member "mean" or m<k>), uncertainty
    per trajectory under uncertainty/traj_<k> and thresholds per system.
    """
    kind = row["kind"]
    out: dict[str, Any] = {"time_s": row["time_s"]}
    if kind == "train":
        member = row.get("member", "mean")
        prefix = f"train/{member if str(member) == 'mean' else f'm{member}'}/"
        out["epoch"] = row.get("epoch_total", row.get("epoch", 0))
        skip = {"epoch", "epoch_total", "member", "time_s"}
        out.update({prefix + k: v for k, v in _numbers(row, skip).items()})
    elif kind == "uncertainty":
        out["md_step"] = row.get("md_step", 0)
        out[f"uncertainty/traj_{row.get('traj', 0)}"] = row.get("uncertainty")
        out[f"uncertainty/threshold/{row.get('system', 'all')}"] = row.get("threshold")
        out["uncertainty/crossed"] = int(bool(row.get("crossed")))
    elif kind in ("sampling", "calibration"):
        out["labels"] = row.get("labels", 0)
        skip = {"labels", "time_s"}
        out.update({f"{kind}/{k}": v for k, v in _numbers(row, skip).items()})
        if kind == "sampling":
            out["sampling/failed"] = int(row.get("status", "ok") != "ok")
    elif kind == "phase":
        prefix = f"phase/{row.get('phase', 'run')}/"
        out[prefix + str(row.get("event", "mark"))] = row["time_s"]
        out.update({prefix + k: v for k, v in _numbers(row, {"time_s"}).items()})
    else:
        out.update({f"{kind}/{k}": v for k, v in _numbers(row, {"time_s"}).items()})
    return {k: v for k, v in out.items() if v is not None}


def _numbers(row: dict[str, Any], skip: set[str]) -> dict[str, float]:
    out = {}
    for key, value in row.items():
        if key in skip or key == "kind" or isinstance(value, str | list | dict):
            continue
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    return out


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}/"))
        else:
            out[f"{prefix}{key}"] = _plain(value)
    return out


def _wandb_cfg(cfg: Any) -> Any:
    return getattr(cfg, "wandb", None)


def _run_id(run_dir: Path) -> str:
    """The W&B run id of this run directory (made once, reused on resume)."""
    path = run_dir / RUN_ID_FILE
    if path.exists() and path.read_text().strip():
        return path.read_text().strip()
    alphabet = string.ascii_lowercase + string.digits
    run_id = "".join(secrets.choice(alphabet) for _ in range(8))
    path.write_text(run_id + "\n")
    return run_id


def _scrub(config: dict[str, Any]) -> dict[str, Any]:
    """The config with the W&B API key (if it is anywhere in it) masked."""
    key = os.environ.get("WANDB_API_KEY")
    if not key:
        return config
    text = json.dumps(config, default=_jsonable).replace(key, "***")
    return json.loads(text)


def _plain(value: Any) -> Any:
    """Enums as their values, arrays and tensor scalars as Python values."""
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "value"):
        return value.value
    if isinstance(value, Path):
        return str(value)
    return str(value)
