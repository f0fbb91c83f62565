"""Replay the AL accuracy stop of finished runs under other prospective windows.

A run's records hold every AL label's prospective force MAE (`calibration`) and
every validation of the mean model (`train`, member "mean"). Up to the moment
a stop fires, a run with another `al.prospective_window` would have done the
same, so the replay says when that stop would have fired: the tracker time,
the AL labels, and the first test record at or after it (runs with
run.test_set tracked during the run). The window is the only thing replayed;
validation size and target are read from the run's config.

    python scripts/bench/stop_replay.py outputs/bench/time_to_accuracy/aspirin/pax --windows 3 5 10
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml
from common import events, fmt, table


def replay(run_dir: Path, window: int) -> dict | None:
    """The first AL moment where validation and the window's prospective MAE pass."""
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    target = float(cfg["al"]["desired_acc"])
    min_valid = int(cfg["al"]["min_valid_size"])
    valid_mae, n_valid, prospective, labels = None, 0, [], 0
    tests = events(run_dir, "test")
    for rec in events(run_dir):
        kind = rec.get("kind")
        if rec.get("phase") != "al":
            continue
        if kind == "train" and rec.get("member") == "mean":
            valid_mae, n_valid = rec.get("valid_f_mae"), int(rec.get("n_valid", 0))
        elif kind == "calibration":
            prospective.append(float(rec["prospective_f_mae"]))
        elif kind == "sampling" and rec.get("split"):
            labels += 1
        else:
            continue
        recent = prospective[-window:]
        if (
            valid_mae is not None
            and n_valid >= min_valid
            and valid_mae < target
            and len(recent) == window
            and np.mean(recent) < target
        ):
            test = next((t for t in tests if t["time_s"] >= rec["time_s"]), None)
            return {
                "time_s": rec["time_s"],
                "al_labels": labels,
                "valid_f_mae": valid_mae,
                "prospective": float(np.mean(recent)),
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
