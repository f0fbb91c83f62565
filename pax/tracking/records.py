"""The records of a run: metrics.jsonl, read back, and the counters built from it."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
SAMPLING_COLUMNS = [
    "phase",
    "ticket",
    "traj",
    "system",
    "md_step",
    "uncertainty",
    "threshold",
    "label_wall_s",
    "status",
    "reason",
    "split",
    "n_train",
    "n_valid",
    "in_flight",
    "utilisation",
    "time_s",
]
CALIBRATION_COLUMNS = [
    "phase",
    "traj",
    "system",
    "predicted_uncertainty",
    "force_error_max",
    "force_error_mean",
    "labels",
]


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


def is_mean_train(row: dict[str, Any]) -> bool:
    """Whether a record is a train record of the ensemble mean."""
    return row.get("kind") == "train" and str(row.get("member", "mean")) == "mean"


def jsonable(value: Any) -> Any:
    """json.dumps default: arrays as lists, Enums as values, anything else as str."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "value"):
        return value.value
    return str(value)


def flatten(node: Any, sep: str, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one dict whose keys join the nested keys with sep."""
    if not isinstance(node, dict):
        return {prefix: node}
    out: dict[str, Any] = {}
    for key, value in node.items():
        out.update(flatten(value, sep, f"{prefix}{sep}{key}" if prefix else str(key)))
    return out


class RunCounters:
    """Counters rebuilt from metrics.jsonl so a resumed run continues its axes."""

    def __init__(self) -> None:
        """Start from an empty run."""
        self.last_time_s = 0.0
        self.labels = 0
        self.labels_by_phase: dict[str, int] = {}
        self.labels_failed = 0
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
            if is_mean_train(row):
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

    def summary(self, wall_time_s: float) -> dict[str, Any]:
        """The figures the counters know by themselves."""
        out: dict[str, Any] = {"wall_time_s": round(wall_time_s, 3)}
        out.update({f"labels_{p}": n for p, n in self.labels_by_phase.items()})
        out["labels_total"] = sum(self.labels_by_phase.values())
        out["labels_failed"] = self.labels_failed
        if self.last_mean.get("valid_f_mae") is not None:
            out["final_valid_f_mae"] = self.last_mean["valid_f_mae"]
        return out
