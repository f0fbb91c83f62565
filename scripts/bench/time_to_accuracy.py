"""Time to accuracy: wall time and labels until the test force MAE first falls below a target.

Runs the experiment with al.num_trajectories=N and 2N (everything else equal),
tracks the independent test set during the run (run.test_set, every
--test-every labels; never used for training or stopping) and reports, for each,
the first test evaluation at or below --target: wall time since the run started
(tracker clock, includes IDG) and labels so far. The run is stopped (Ctrl-C)
right there; it also ends at --max-train training points. IDG keeps the default
experiment's 1 eV/Å stop (al.desired_acc * al.idg.desired_acc_scale_idg).

    python scripts/bench/time_to_accuracy.py --quick   # ethanol, small MACE (2 min; <= 15 min)
    python scripts/bench/time_to_accuracy.py           # aspirin, default experiment
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import (
    ROOT,
    SMALL_MODEL,
    ensure_frames,
    events,
    first_below,
    fmt,
    machine,
    run_pax,
    table,
    test_curve,
)

QUICK = {
    "system": "ethanol",
    "model": SMALL_MODEL,
    "trajectories": 4,
    "target": 0.2,
    "max_train": 80,
}
FULL = {
    "system": "aspirin",
    "model": [],
    "trajectories": 8,
    "target": 0.1,
    "max_train": 1000,
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="ethanol, small MACE")
    p.add_argument("--target", type=float, help="test force MAE target (eV/Å)")
    p.add_argument("--trajectories", type=int, help="N: runs with N and 2N")
    p.add_argument("--max-train", type=int, help="al.max_train_set_size")
    p.add_argument("--temperature-K", type=float, default=500.0)
    p.add_argument("--test-every", type=int, default=5, help="labels between tests")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="run.torch_threads (0: what the workers leave)",
    )
    p.add_argument("--workers", type=int, default=1, help="cluster.max_workers")
    p.add_argument("--timeout-s", type=float, help="per run (quick 300, else 3600)")
    p.add_argument("--out", type=Path, default=Path("outputs/bench/time_to_accuracy"))
    p.add_argument("overrides", nargs="*", help="extra pax overrides (both runs)")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setting = dict(QUICK if args.quick else FULL)
    target = args.target or setting["target"]
    n = args.trajectories or setting["trajectories"]
    max_train = args.max_train or setting["max_train"]
    limit_s = args.timeout_s or (300 if args.quick else 3600)
    test_path = ensure_frames(
        Path(f"outputs/testsets/{setting['system']}_{int(args.temperature_K)}K.extxyz"),
        Path(f"data/systems/{setting['system']}.xyz"),
        args.temperature_K,
        100,
        50,
        seed=1234,
    )
    base = [
        f"system={setting['system']}",
        *setting["model"],
        f"md.temperature_K={args.temperature_K}",
        f"al.desired_acc={target / 10}",  # stopped at the test target instead
        f"al.idg.desired_acc_scale_idg={10 / target:g}",  # IDG stops at 1 eV/Å
        f"al.max_train_set_size={max_train}",
        f"cluster.max_workers={args.workers}",
        f"run.torch_threads={args.threads}",
        f"run.test_set={test_path.relative_to(ROOT)}",
        f"run.test_every_labels={args.test_every}",
        "al.converge=none",
        *args.overrides,
    ]
    t0 = time.time()
    rows, results = [], {}
    for trajectories in (n, 2 * n):
        run_dir = args.out / f"traj{trajectories}"
        started = time.time()

        def reached(path: Path, started: float = started) -> bool:
            late = time.time() - started > limit_s  # give up: "not reached"
            return late or first_below(test_curve(path), target) is not None

        wall = run_pax(
            run_dir,
            [*base, f"al.num_trajectories={trajectories}"],
            timeout_s=limit_s + 120,
            stop_when=reached,
        )
        curve = test_curve(ROOT / run_dir)
        hit = first_below(curve, target)
        labels = [r for r in events(ROOT / run_dir, "sampling") if r.get("split")]
        idg = sum(r.get("phase") == "idg" for r in labels)
        results[trajectories] = {"hit": hit, "curve": curve, "process_wall_s": wall}
        rows.append(
            [
                trajectories,
                fmt(hit and hit["time_s"], ".0f"),
                fmt(hit and hit["n_labels"], "d"),
                fmt(hit and hit["phase"], "s"),
                f"{idg} + {len(labels) - idg}",
                f"{min(r['test_f_mae'] for r in curve):.3f}" if curve else "–",
                f"{wall:.0f}",
            ]
        )
        print(
            f"num_trajectories={trajectories}: reached at "
            f"{fmt(hit and hit['time_s'], '.0f')} s",
            flush=True,
        )
    text = "\n\n".join(
        [
            f"time to accuracy: {setting['system']} at {args.temperature_K:.0f} K, "
            f"GFN2-xTB, target test F-MAE {target} eV/Å "
            f"(test set {test_path.relative_to(ROOT)}, checked every {args.test_every} "
            f"labels), {args.workers} worker(s), each run given up after {limit_s:.0f} s; machine: {machine()}; "
            f"total {time.time() - t0:.0f} s",
            table(
                [
                    "al.num_trajectories",
                    "wall to target (s)",
                    "labels to target",
                    "phase",
                    "labels IDG + AL (whole run)",
                    "best test F-MAE",
                    "process wall (s)",
                ],
                rows,
            ),
        ]
    )
    print(text)
    out = ROOT / args.out
    (out / "result.md").write_text(text + "\n")
    (out / "result.json").write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
