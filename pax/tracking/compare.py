"""`pax-compare DIR...`: compare runs or whole sweeps from their metrics files.

Each DIR is a run directory (it holds metrics.jsonl) or a folder of them (a
sweep). Writes a table (printed, and as CSV) and one figure (drawn by
pax.tracking.plots.comparison): validation force MAE against training set size
for every run, and final MAE, labels and wall time against the swept keys (the
config keys whose values differ).
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
from pathlib import Path
from typing import Any

from pax.errors import PaxError
from pax.fileio import atomic_write
from pax.tracking import plots
from pax.tracking.records import METRICS_FILE, flatten, is_mean_train, read_metrics

log = logging.getLogger(__name__)

# Keys that never make runs different in a way worth comparing.
IGNORED_PREFIXES = ("run.", "wandb.", "hydra.")
COLUMNS = [
    "final_valid_f_mae",
    "final_valid_e_mae_mev_per_atom",
    "labels_total",
    "labels_failed",
    "wall_time_s",
    "stop_reason",
]


def find_runs(dirs: list[Path]) -> list[Path]:
    """Run directories in dirs (a dir with metrics.jsonl, or any below it)."""
    runs: list[Path] = []
    for d in map(Path, dirs):
        if (d / METRICS_FILE).exists():
            runs.append(d)
        elif d.is_dir():
            runs.extend(
                sorted(
                    p.parent for p in d.rglob(METRICS_FILE) if "wandb" not in p.parts
                )
            )
        else:
            raise PaxError(f"pax-compare: {d} is not a directory")
    return list(dict.fromkeys(runs))


def run_figures(run_dir: Path) -> dict[str, Any]:
    """Final figures of one run: its last summary record, else computed from records."""
    rows = read_metrics(run_dir)
    summaries = [r for r in rows if r.get("kind") == "summary"]
    out: dict[str, Any] = dict(summaries[-1]) if summaries else {}
    means = [r for r in rows if is_mean_train(r) and r.get("valid_f_mae") is not None]
    labels = [r for r in rows if r.get("kind") == "sampling"]
    out.setdefault("final_valid_f_mae", means[-1]["valid_f_mae"] if means else None)
    e_mae = means[-1].get("valid_e_mae_per_atom") if means else None  # eV/atom
    out.setdefault(
        "final_valid_e_mae_mev_per_atom", None if e_mae is None else 1000 * e_mae
    )
    out.setdefault("labels_total", sum(r.get("status", "ok") == "ok" for r in labels))
    out.setdefault("labels_failed", sum(r.get("status", "ok") != "ok" for r in labels))
    out.setdefault("wall_time_s", max((r.get("time_s", 0) for r in rows), default=0))
    out.setdefault("stop_reason", "unfinished" if not summaries else "")
    out["curve"] = learning_curve(rows)
    return out


def learning_curve(rows: list[dict[str, Any]]) -> list[tuple[int, float]]:
    """(training set size, validation force MAE) of every ensemble-mean train record.

    The size is the record's n_train, else that of the latest record before it
    that has one (converge records, and runs of pax before train records had it).
    """
    curve, n_train = [], None
    for r in rows:
        if r.get("n_train") is not None:
            n_train = r["n_train"]
        mae = r.get("valid_f_mae")
        if is_mean_train(r) and mae is not None and n_train is not None:
            curve.append((n_train, mae))
    return curve


def run_config(run_dir: Path) -> dict[str, Any]:
    """The run's resolved config.yaml, flattened to dotted keys (or from its name)."""
    import yaml

    path = run_dir / "config.yaml"
    if path.exists():
        return flatten(yaml.safe_load(path.read_text()) or {}, ".")
    pairs = [p.split("=", 1) for p in run_dir.name.split(",") if "=" in p]
    return dict(pairs)


def swept_keys(configs: list[dict[str, Any]]) -> list[str]:
    """Config keys whose values differ between runs."""
    keys = sorted({k for c in configs for k in c})
    return [
        k
        for k in keys
        if not k.startswith(IGNORED_PREFIXES)
        and len({repr(c.get(k)) for c in configs}) > 1
    ]


def compare(dirs: list[Path]) -> tuple[list[str], list[dict[str, Any]]]:
    """The swept keys and one row per run (name, swept values, final figures)."""
    runs = find_runs(dirs)
    if not runs:
        where = ", ".join(map(str, dirs))
        raise PaxError(f"pax-compare: no {METRICS_FILE} under {where}")
    configs = [run_config(r) for r in runs]
    keys = swept_keys(configs)
    rows = []
    for run_dir, config in zip(runs, configs):
        figures = run_figures(run_dir)
        row = {"run": run_dir.name, "dir": str(run_dir)}
        row.update({k: config.get(k) for k in keys})
        row.update({k: figures.get(k) for k in COLUMNS})
        row["curve"] = figures["curve"]
        rows.append(row)
    return keys, rows


def format_table(keys: list[str], rows: list[dict[str, Any]]) -> str:
    """A plain-text table of the comparison."""
    cols = ["run", *keys, *COLUMNS]
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def write_csv(keys: list[str], rows: list[dict[str, Any]], path: Path) -> Path:
    """The comparison as CSV."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(
        text, fieldnames=["run", *keys, *COLUMNS, "dir"], extrasaction="ignore"
    )
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write(path, text.getvalue())


def main(argv: list[str] | None = None) -> int:
    """Entry point of `pax-compare DIR... [--out DIR]`."""
    parser = argparse.ArgumentParser(
        prog="pax-compare",
        description="Compare pax runs or sweeps from their metrics.jsonl files.",
    )
    parser.add_argument(
        "dirs",
        nargs="+",
        type=Path,
        help="run directories or sweep directories holding runs",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("."),
        help="folder for compare.png and compare.csv (default: .)",
    )
    args = parser.parse_args(argv)
    keys, rows = compare(args.dirs)
    print(format_table(keys, rows))
    args.out.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(keys, rows, args.out / "compare.csv")
    png_path = plots.comparison(keys, rows, args.out / "compare.png")
    print(f"\nwrote {png_path} and {csv_path}")
    return 0
