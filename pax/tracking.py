"""Run tracking: metrics.jsonl now; W&B, plots and progress are added here."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class Tracker:
    """Records every event of a run (the only module that talks to W&B).

    kinds and their fields:
      train:       phase, epoch, member ("mean" for the ensemble), train_loss,
                   valid_e_mae_per_atom, valid_f_mae, valid_f_rmse, lr, n_train, n_valid
      uncertainty: phase, traj, system, md_step, uncertainty, threshold, crossed
      sampling:    phase, traj, system, md_step, uncertainty, threshold, label_wall_s,
                   status, reason, n_train, n_valid, in_flight, utilisation
      calibration: traj, system, predicted_uncertainty, force_error_max, force_error_mean
      md:          md_steps (total so far), running, in_flight
      phase:       phase, event (start|end), and phase figures
    Each record gets time_s (since the tracker started) and kind.
    """

    def __init__(self, run_dir: Path, **_: Any) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._t0 = time.time()
        self._file = open(self.run_dir / "metrics.jsonl", "a", buffering=1)

    def log(self, kind: str, record: dict[str, Any]) -> None:
        """Append one record (flushed line by line)."""
        row = {"kind": kind, "time_s": round(time.time() - self._t0, 3), **record}
        self._file.write(json.dumps(row, default=_jsonable) + "\n")

    def summary(self, values: dict[str, Any]) -> None:
        """Record the final figures of the run."""
        self.log("summary", values)

    def close(self) -> None:
        """Flush and close everything."""
        self._file.close()

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "value"):
        return value.value
    return str(value)
