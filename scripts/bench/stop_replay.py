"""Replay the AL accuracy stop of finished runs under other prospective windows.

A run's records hold every AL label's prospective force MAE (`calibration`) and
every validation of the mean model (`train`, member "mean"). Up to the moment
a stop fires, a run with another `al.prospective_window` would have done the
same, so the replay applies pax's own accuracy stop (`pax.al.decisions`) to
these records and says when it would have fired: the tracker time, the AL
labels, and the first test record at or after it (runs with run.test_set
tracked during the run). The window is the only thing replayed; target,
validation size and energy target are read from the run's config.

    python scripts/bench/stop_replay.py outputs/bench/time_to_accuracy/aspirin/pax --windows 3 5 10
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml
from common import events, fmt, table

from pax.al.decisions import accuracy_stop, enough_validation
from pax.tracking.records import is_mean_train


def replay(run_dir: Path, window: int) -> dict | None:
    """The first AL moment where pax's accuracy stop holds with this window."""
    al = yaml.safe_load((run_dir / "config.yaml").read_text())["al"]
    valid, n_valid, prospective, labels = {}, 0, [], 0
    tests = events(run_dir, "test")
    for rec in events(run_dir):
        if rec.get("phase") != "al":
            continue
        if is_mean_train(rec):
            valid, n_valid = rec, int(rec.get("n_valid", 0))
        elif rec.get("kind") == "calibration":
            prospective.append(float(rec["prospective_f_mae"]))
        elif rec.get("kind") == "sampling" and rec.get("split"):
            labels += 1
        else:
            continue
        recent = prospective[-window:]
        mean = float(np.mean(recent)) if len(recent) == window else None
        e_mae = valid.get("valid_e_mae_per_atom")
        reason = accuracy_stop(
            enough_validation(valid.get("valid_f_mae"), n_valid, al["min_valid_size"]),
            al["desired_acc"],
            None if e_mae is None else 1000.0 * e_mae,
            al["desired_acc_energy"],
            mean,
            prospective_on=True,
        )
        if reason:
            test = next((t for t in tests if t["time_s"] >= rec["time_s"]), None)
            return {
                "time_s": rec["time_s"],
                "al_labels": labels,
                "valid_f_mae": valid["valid_f_mae"],
                "prospective": mean,
                "test_f_mae": None if test is None else test.get("test_f_mae"),
                "test_labels": None if test is None else test.get("n_labels"),
            }
    return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dirs", nargs="+", type=Path)
    p.add_argument("--windows", nargs="+", type=int, default=[3, 5, 10])
    args = p.parse_args()
    rows = []
    for run_dir in args.run_dirs:
        for window in args.windows:
            hit = replay(run_dir, window) or {}
            rows.append(
                [
                    run_dir.name,
                    window,
                    fmt(hit.get("time_s"), ".0f"),
                    hit.get("al_labels", "-"),
                    fmt(hit.get("valid_f_mae")),
                    fmt(hit.get("prospective")),
                    fmt(hit.get("test_f_mae"), ".3f", "-"),
                    hit.get("test_labels", "-"),
                ]
            )
    header = ["run", "window", "stop at (s)", "AL labels", "valid F-MAE"]
    header += ["prospective", "next test F-MAE", "test at labels"]
    print(table(header, rows))


if __name__ == "__main__":
    main()
