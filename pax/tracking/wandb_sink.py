"""The W&B side of tracking: one W&B run per Hydra job, records as history rows."""

from __future__ import annotations

import json
import logging
import os
import secrets
import string
from enum import Enum
from pathlib import Path
from typing import Any

from pax.fileio import atomic_write
from pax.tracking.records import (
    CALIBRATION_COLUMNS,
    METRICS_FILE,
    SAMPLING_COLUMNS,
    flatten,
    jsonable,
)

log = logging.getLogger(__name__)

RUN_ID_FILE = "wandb_run_id"

# Step axis of each W&B section (W&B plots each section against its axis).
STEP_AXES = {
    "train": "epoch",
    "uncertainty": "md_step",
    "sampling": "labels",
    "calibration": "labels",
    "md": "time_s",
    "phase": "time_s",
}


class WandbSink:
    """One W&B run; after the first failure it warns once and goes quiet."""

    def __init__(self, run: Any, wandb: Any) -> None:
        """Wrap a started W&B run and the wandb module that started it."""
        self.run = run
        self._wandb = wandb

    @classmethod
    def start(
        cls, run_dir: Path, wcfg: Any, job_type: str, group: str | None, config: dict
    ) -> WandbSink | None:
        """Start (or resume) the W&B run of run_dir; None when disabled or failing.

        Args:
            run_dir: The run directory (W&B files go to run_dir/wandb).
            wcfg: The WandbConfig (None: defaults, offline).
            job_type: idg, al or all.
            group: The sweep's name, used unless wandb.group is set.
            config: The resolved config (the API key is masked in it).
        """
        mode = _plain(getattr(wcfg, "mode", "offline"))
        if mode == "disabled":
            log.info("W&B disabled (wandb.mode=disabled); metrics in %s", METRICS_FILE)
            return None
        try:
            import wandb

            run_id = wandb_run_id(run_dir)
            run = wandb.init(
                mode=mode,
                dir=str(run_dir),
                project=getattr(wcfg, "project", "pax"),
                entity=getattr(wcfg, "entity", None),
                name=getattr(wcfg, "name", None) or run_dir.name,
                group=getattr(wcfg, "group", None) or group,
                job_type=job_type,
                tags=list(getattr(wcfg, "tags", []) or []),
                notes=getattr(wcfg, "notes", "") or None,
                config=scrub_api_key(config),
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
            run.define_metric(
                "train/mean/valid_f_mae", step_metric="epoch", summary="min,last"
            )
        except Exception as exc:
            log.warning(
                "W&B could not start (%s); the run goes on with %s and plots",
                exc,
                METRICS_FILE,
            )
            return None
        where = "offline; upload later with `wandb sync`" if mode == "offline" else mode
        log.info("W&B run %s (%s) in %s/wandb", run_id, where, run_dir)
        return cls(run, wandb)

    def _guard(self, what: str, func: Any, *args: Any) -> None:
        if self.run is None:
            return
        try:
            func(*args)
        except Exception as exc:
            log.warning(
                "W&B failed while %s (%s); it stays off for the rest of the "
                "run, %s goes on",
                what,
                exc,
                METRICS_FILE,
            )
            self.run = None

    def log(self, row: dict[str, Any]) -> None:
        """Send one metrics record as a history row."""
        self._guard("logging", lambda: self.run.log(wandb_row(row)))

    def tables(self, sampling: list[list[Any]], calibration: list[list[Any]]) -> None:
        """Log the sampling events and calibration tables (and the scatter)."""

        def send() -> None:
            data: dict[str, Any] = {}
            if sampling:
                data["sampling/events"] = self._wandb.Table(
                    columns=SAMPLING_COLUMNS, data=sampling
                )
            if calibration:
                table = self._wandb.Table(columns=CALIBRATION_COLUMNS, data=calibration)
                data["calibration/table"] = table
                data["calibration/scatter"] = self._wandb.plot.scatter(
                    table,
                    "predicted_uncertainty",
                    "force_error_max",
                    title="predicted uncertainty vs force error (eV/Å)",
                )
            if data:
                self.run.log(data)

        self._guard("logging tables", send)

    def summary(self, values: dict[str, Any]) -> None:
        """Update the run summary (nested dicts flattened with '/')."""
        flat = {k: _plain(v) for k, v in flatten(values, "/").items()}
        self._guard("writing the summary", lambda: self.run.summary.update(flat))

    def artifact(self, files: list[str]) -> None:
        """Log files as a model artifact named after the run."""

        def send() -> None:
            name = "".join(
                c if c.isalnum() or c in "-_." else "-" for c in self.run.name
            )
            art = self._wandb.Artifact(f"{name}-model", type="model")
            for path in files:
                art.add_file(path)
            self.run.log_artifact(art)

        self._guard("logging the model artifact", send)

    def finish(self, exit_code: int = 0) -> None:
        """Finish the run (exit_code != 0 marks it failed)."""
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


def wandb_run_id(run_dir: Path) -> str:
    """The W&B run id of this run directory (made once, reused on resume)."""
    path = run_dir / RUN_ID_FILE
    if path.exists() and path.read_text().strip():
        return path.read_text().strip()
    alphabet = string.ascii_lowercase + string.digits
    run_id = "".join(secrets.choice(alphabet) for _ in range(8))
    atomic_write(path, run_id + "\n")
    return run_id


def scrub_api_key(config: dict[str, Any]) -> dict[str, Any]:
    """The config with the W&B API key (if it is anywhere in it) masked."""
    key = os.environ.get("WANDB_API_KEY")
    if not key:
        return config
    text = json.dumps(config, default=jsonable).replace(key, "***")
    return json.loads(text)


def _plain(value: Any) -> Any:
    """Enums as their values, arrays and tensor scalars as Python values."""
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "tolist"):
        return value.tolist()
    return value
