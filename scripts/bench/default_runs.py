"""The default experiment several times from empty run directories.

Does it stop on accuracy, how long does it take, and how good is its model on an
independent test set? Each run is plain `pax` (aspirin, GFN2-xTB, al=default)
with `run.test_set` set to 500 K GFN2-xTB frames from make_test_set.py: the test
set is evaluated at the end and never trained on, validated on or stopped on.

    python scripts/bench/default_runs.py --runs 3            # ~10 min a run, 2 cores
    python scripts/bench/default_runs.py --runs 1 al=aims_pax

Run r uses md.seed = r and mlff.seed = 42 + 10 r (run 0: the defaults, exactly
`pax`); pax is deterministic for given seeds, so equal seeds would repeat one
run. A run whose row is already in out/runs/r<r>/row.json is not run again;
`--rescore` evaluates those runs' final models on the test set again (after
the test set was remade) without running them.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import ROOT, events, machine, run_pax, summary, table


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument(
        "--test-set",
        type=Path,
        default=Path("outputs/testsets/aspirin_500K.extxyz"),
        help="extxyz with REF_energy/REF_forces (made by make_test_set.py "
        "with its defaults when missing)",
    )
    p.add_argument("--out", type=Path, default=Path("outputs/bench/default_runs"))
    p.add_argument("--timeout-s", type=float, default=3600, help="per run")
    p.add_argument(
        "--rescore",
        action="store_true",
        help="test errors of the finished runs' final models on --test-set",
    )
    p.add_argument("overrides", nargs="*", help="extra pax overrides (every run)")
    a = p.parse_args(argv)
    a.out = a.out if a.out.is_absolute() else ROOT / a.out
    a.test_set = a.test_set if a.test_set.is_absolute() else ROOT / a.test_set
    return a


def ensure_test_set(path: Path) -> None:
    """make_test_set.py's default set (5 x 40 frames at 500 K, 50 fs apart)."""
    from make_test_set import ensure_test_set as make

    make(path, ROOT / "data/systems/aspirin.xyz", 500.0)


def phase_walls(run_dir: Path) -> dict:
    """Wall time (s) and labels of IDG and AL, and AL's stop reason."""
    times: dict = {}
    for e in events(run_dir, "phase"):
        times[(e["phase"], e["event"])] = e
    labels = [e for e in events(run_dir, "sampling") if e.get("status") == "ok"]
    out = {}
    for phase in ("idg", "al"):
        start, end = times.get((phase, "start")), times.get((phase, "end"))
        out[f"{phase}_wall_s"] = (
            end["time_s"] - start["time_s"] if start and end else None
        )
        out[f"{phase}_labels"] = sum(e.get("phase") == phase for e in labels)
    out["stop"] = (times.get(("al", "end")) or {}).get("reason")
    return out


def one_run(
    run_dir: Path, overrides: list[str], test_set: Path, timeout_s: float
) -> dict:
    """Run pax once from an empty directory; its walls, labels, stop and errors."""
    if (run_dir / "row.json").exists():
        return json.loads((run_dir / "row.json").read_text())
    tested = [f"run.test_set={test_set}", "run.test_every_labels=0"]  # at the end
    wall = run_pax(run_dir, [*overrides, *tested], timeout_s)
    s = summary(run_dir)
    test, valid = s["test"], s["final_validation"]
    row = {
        "overrides": overrides,
        "wall_s": wall,
        **phase_walls(run_dir),
        "valid_f_mae": valid["mean"]["f_mae"],
        "test_f_mae": test["mean"]["f_mae"],
        "test_f_rmse": test["mean"]["f_rmse"],
        "test_e_mae_mev_per_atom": 1000 * test["mean"]["e_mae_per_atom"],
        "members_test_e_mae_mev_per_atom": [
            1000 * m["e_mae_per_atom"] for m in test["members"]
        ],
        "energy_warning": s.get("energy_warning"),
        "prospective_f_mae": s.get("prospective_f_mae"),
    }
    (run_dir / "row.json").write_text(json.dumps(row))
    return row


def rescore(run_dir: Path, test_set: Path) -> dict:
    """The run's row with the test errors of its final models on test_set."""
    import numpy as np

    from pax.mlff.evaluate import evaluate_predictor, load_predictor, read_test_set

    row = json.loads((run_dir / "row.json").read_text())
    frames = read_test_set(test_set, "REF_energy", "REF_forces")
    predictor = load_predictor(run_dir, "cpu")
    metrics = evaluate_predictor(predictor, frames)["metrics"]
    energies = predictor.predict(frames)["energies"]  # (members, frames) eV
    ref = np.array([a.info["REF_energy"] for a in frames])
    n_atoms = np.array([len(a) for a in frames])
    row.update(
        test_f_mae=metrics["f_mae"],
        test_f_rmse=metrics["f_rmse"],
        test_e_mae_mev_per_atom=1000 * metrics["e_mae_per_atom"],
        members_test_e_mae_mev_per_atom=[
            float(1000 * np.abs((e - ref) / n_atoms).mean()) for e in energies
        ],
        test_set=test_set.name,
    )
    (run_dir / "row.json").write_text(json.dumps(row))
    return row


def markdown(rows: list[dict], args, wall_s: float) -> str:
    """The table of runs, with the setting line."""

    def f(v, spec=".0f"):
        return "–" if v is None else format(v, spec)

    lines = [
        [
            i,
            " ".join(r["overrides"]) or "–",
            f"{f(r['idg_wall_s'])} s / {r['idg_labels']}",
            f"{f(r['al_wall_s'])} s / {r['al_labels']}",
            r["stop"],
            f"{r['wall_s']:.0f} s",
            f"{r['valid_f_mae']:.3f}",
            f(r["prospective_f_mae"], ".3f"),
            f"{r['test_f_mae']:.3f} / {r['test_f_rmse']:.3f}",
            f"{r['test_e_mae_mev_per_atom']:.1f}",
            ", ".join(f"{v:.1f}" for v in r["members_test_e_mae_mev_per_atom"]),
        ]
        for i, r in enumerate(rows)
    ]
    head = (
        f"default experiment, {len(rows)} runs from empty directories "
        f"(overrides: {' '.join(args.overrides) or 'none'}); test set "
        f"{args.test_set.name}; machine: {machine()}; total {wall_s:.0f} s"
    )
    return (
        head
        + "\n\n"
        + table(
            [
                "run",
                "seeds",
                "IDG wall / labels",
                "AL wall / labels",
                "stop",
                "process wall",
                "valid F-MAE (eV/Å)",
                "prospective F-MAE (eV/Å)",
                "test F-MAE / F-RMSE (eV/Å)",
                "test E-MAE (meV/atom)",
                "members' test E-MAE (meV/atom)",
            ],
            lines,
        )
        + "\n"
    )


def main(argv=None) -> None:
    args = parse_args(argv)
    t0 = time.time()
    ensure_test_set(args.test_set)
    rows = []
    for i in range(args.runs):
        seeds = [f"md.seed={i}", f"mlff.seed={42 + 10 * i}"] if i else []
        run_dir = args.out / "runs" / f"r{i}"
        rows.append(
            rescore(run_dir, args.test_set)
            if args.rescore
            else one_run(
                run_dir, [*args.overrides, *seeds], args.test_set, args.timeout_s
            )
        )
        print(json.dumps(rows[-1]), flush=True)
    text = markdown(rows, args, time.time() - t0)
    (args.out / "result.md").write_text(text)
    (args.out / "result.json").write_text(
        json.dumps(
            {"machine": machine(), "overrides": args.overrides, "runs": rows}, indent=1
        )
    )
    print(text)


if __name__ == "__main__":
    main()
