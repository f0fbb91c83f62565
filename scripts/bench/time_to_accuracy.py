"""Time to accuracy: wall time and labels until the test force MAE first falls below a target.

Runs the experiment with al.num_trajectories=N and 2N (everything else equal),
tracks the independent test set during the run (run.test_set, every
--test-every labels; never used for training or stopping) and reports, for each,
the first test evaluation at or below --target: wall time since the run started
(tracker clock, includes IDG) and labels so far. Each run stops at its
validation target (al.desired_acc = --target) or at --max-train training points.

    python scripts/bench/time_to_accuracy.py --quick   # ethanol, small MACE (~5 min)
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
    first_below,
    fmt,
    machine,
    run_pax,
    summary,
    table,
    test_curve,
)

QUICK = {"system": "ethanol", "model": SMALL_MODEL, "trajectories": 4, "target": 0.25,
         "max_train": 100}
FULL = {"system": "aspirin", "model": [], "trajectories": 8, "target": 0.1,
        "max_train": 1000}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="ethanol, small MACE")
    p.add_argument("--target", type=float, help="test force MAE target (eV/Å)")
    p.add_argument("--trajectories", type=int, help="N: runs with N and 2N")
    p.add_argument("--max-train", type=int, help="al.max_train_set_size")
    p.add_argument("--temperature-K", type=float, default=500.0)
    p.add_argument("--test-every", type=int, default=5, help="labels between tests")
    p.add_argument("--threads", type=int, default=0,
                   help="run.torch_threads (0: what the workers leave)")
    p.add_argument("--workers", type=int, default=1, help="cluster.max_workers")
    p.add_argument("--timeout-s", type=float, default=1800, help="per run")
    p.add_argument("--out", type=Path, default=Path("outputs/bench/time_to_accuracy"))
    p.add_argument("overrides", nargs="*", help="extra pax overrides (both runs)")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setting = dict(QUICK if args.quick else FULL)
    target = args.target or setting["target"]
    n = args.trajectories or setting["trajectories"]
    max_train = args.max_train or setting["max_train"]
    test_path = ensure_frames(
        Path(f"outputs/testsets/{setting['system']}_{int(args.temperature_K)}K.extxyz"),
        Path(f"data/systems/{setting['system']}.xyz"),
        args.temperature_K, 100, 50, seed=1234,
    )
    base = [
        f"system={setting['system']}",
        *setting["model"],
        f"md.temperature_K={args.temperature_K}",
        f"al.desired_acc={target}",
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
        wall = run_pax(run_dir, [*base, f"al.num_trajectories={trajectories}"],
                       timeout_s=args.timeout_s)
        curve = test_curve(ROOT / run_dir)
        hit = first_below(curve, target)
        s = summary(ROOT / run_dir)
        final = s.get("test", {}).get("mean", {}).get("f_mae")
        results[trajectories] = {"hit": hit, "curve": curve, "summary": s,
                                 "process_wall_s": wall}
        rows.append([
            trajectories,
            fmt(hit and hit["time_s"], ".0f"),
            fmt(hit and hit["n_labels"], "d"),
            fmt(hit and hit["phase"], "s"),
            f"{wall:.0f}",
            f"{s.get('idg_labels', 0)} + {s.get('al_labels', 0)}",
            fmt(final, ".3f"),
            s.get("stop_reason", ""),
        ])
        print(f"num_trajectories={trajectories}: reached at "
              f"{fmt(hit and hit['time_s'], '.0f')} s", flush=True)
    text = "\n\n".join([
        f"time to accuracy: {setting['system']} at {args.temperature_K:.0f} K, "
        f"GFN2-xTB, target test F-MAE {target} eV/Å "
        f"(test set {test_path.relative_to(ROOT)}, checked every {args.test_every} "
        f"labels), {args.workers} worker(s); machine: {machine()}; "
        f"total {time.time() - t0:.0f} s",
        table(["al.num_trajectories", "wall to target (s)", "labels to target",
               "phase", "whole run (s)", "labels IDG + AL", "final test F-MAE",
               "stop reason"], rows),
    ])
    print(text)
    out = ROOT / args.out
    (out / "result.md").write_text(text + "\n")
    (out / "result.json").write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
