"""Overlap: are the reference workers kept busy? pax (asynchronous) against a barrier.

Runs the same small experiment twice with a slow reference on 2 workers: pax as
it is, and with al.synchronous=true (label a whole batch, then train; in AL every
trajectory waits while a label is out). For IDG and for AL it prints

  * utilisation: label seconds finished in the phase / (workers x phase wall time),
    and the pool's own cumulative figure (`utilisation` of the last sampling record);
  * wall time against its lower bound, sum of label times / workers.

Goal: utilisation >= 90% and wall within 15% of the bound.

    python scripts/bench/overlap.py --quick          # EMT + 2 s delay, ethanol (3 min on 2 cores)
    python scripts/bench/overlap.py --reference pyscf  # PySCF PBE/def2-SVP, aspirin
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import ROOT, SMALL_MODEL, events, machine, run_pax, table

SETTINGS = {
    # fake slow reference: EMT (instant) plus a fixed delay per call
    "emt": {"system": "ethanol", "dft": ["dft=emt"], "model": SMALL_MODEL},
    # a real slow reference; aspirin PBE/def2-SVP takes minutes per call on 1 core
    "pyscf": {"system": "aspirin", "dft": ["dft=pyscf"], "model": []},
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="EMT with --delay-s, ethanol, small MACE (the default reference)",
    )
    p.add_argument("--reference", choices=sorted(SETTINGS), default="emt")
    p.add_argument("--delay-s", type=float, default=2.0, help="EMT delay per call (s)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument(
        "--idg-per-member", type=int, default=15, help="al.idg.max_initial_set_size"
    )
    p.add_argument("--train-size", type=int, default=40, help="al.max_train_set_size")
    p.add_argument("--threads", type=int, default=1, help="torch threads of pax")
    p.add_argument("--out", type=Path, default=Path("outputs/bench/overlap"))
    p.add_argument("overrides", nargs="*", help="extra pax overrides (both runs)")
    return p.parse_args()


def phase_windows(records: list[dict]) -> dict[str, tuple[float, float]]:
    """(start, end) time_s of each phase from its phase records."""
    out: dict[str, list[float]] = {}
    for rec in records:
        if rec.get("kind") == "phase" and rec.get("phase") in ("idg", "al"):
            out.setdefault(rec["phase"], [None, None])
            out[rec["phase"]][0 if rec["event"] == "start" else 1] = rec["time_s"]
    return {k: (v[0], v[1]) for k, v in out.items() if None not in v}


def phase_figures(run_dir: Path, workers: int) -> dict[str, dict]:
    """Per phase: labels, wall, lower bound, wall/bound, utilisation (two ways)."""
    records = events(run_dir)
    out = {}
    for phase, (start, end) in phase_windows(records).items():
        # labels that finished inside the phase's window (IDG's last ones land in AL)
        done = [
            r
            for r in records
            if r.get("kind") == "sampling"
            and start <= r["time_s"] <= end
            and r.get("label_wall_s") is not None
        ]
        label_s = sum(r["label_wall_s"] for r in done)
        wall = end - start
        bound = label_s / workers
        out[phase] = {
            "labels": len(done),
            "failed": sum(r.get("status") != "ok" for r in done),
            "wall_s": wall,
            "bound_s": bound,
            "wall_over_bound": wall / bound if bound else None,
            "utilisation": label_s / (workers * wall) if wall else None,
            "pool_utilisation": done[-1].get("utilisation") if done else None,
            "mean_label_s": label_s / len(done) if done else None,
        }
    return out


def main() -> None:
    args = parse_args()
    setting = SETTINGS[args.reference]
    base = [
        f"system={setting['system']}",
        *setting["dft"],
        *setting["model"],
        f"cluster.max_workers={args.workers}",
        f"run.torch_threads={args.threads}",
        "al.desired_acc=0.001",  # stop on the label budget, not on accuracy
        "al.idg.desired_acc_scale_idg=1",
        f"al.idg.min_initial_set_size={args.idg_per_member}",
        f"al.idg.max_initial_set_size={args.idg_per_member}",
        f"al.max_train_set_size={args.train_size}",
        "al.skip_step_mlff=5",
        "al.converge=none",
        *args.overrides,
    ]
    if args.reference == "emt":
        base.append(f"dft.delay_s={args.delay_s}")
    t0 = time.time()
    results = {}
    for mode, extra in (("async (pax)", []), ("synchronous", ["al.synchronous=true"])):
        name = "sync" if extra else "async"
        total = run_pax(args.out / name, [*base, *extra], timeout_s=1800)
        results[mode] = {
            "total_wall_s": total,
            **phase_figures(ROOT / args.out / name, args.workers),
        }
        print(f"{mode}: {total:.0f} s", flush=True)
    rows = []
    for mode, res in results.items():
        for phase in ("idg", "al"):
            f = res.get(phase)
            if not f:
                continue
            rows.append(
                [
                    mode,
                    phase,
                    f["labels"],
                    f"{f['mean_label_s']:.2f}",
                    f"{f['wall_s']:.1f}",
                    f"{f['bound_s']:.1f}",
                    f"{f['wall_over_bound']:.2f}",
                    f"{100 * f['utilisation']:.0f}%",
                    f"{100 * (f['pool_utilisation'] or 0):.0f}%",
                ]
            )
    ref = (
        f"EMT + {args.delay_s:g} s delay per call"
        if args.reference == "emt"
        else "PySCF " + args.reference
    )
    text = "\n\n".join(
        [
            f"overlap: {setting['system']}, reference {ref}, {args.workers} workers, "
            f"al.idg.max_initial_set_size={args.idg_per_member}, "
            f"al.max_train_set_size={args.train_size}; machine: {machine()}; "
            f"total {time.time() - t0:.0f} s",
            table(
                [
                    "mode",
                    "phase",
                    "labels",
                    "mean label (s)",
                    "wall (s)",
                    "bound Σlabel/workers (s)",
                    "wall/bound (goal <= 1.15)",
                    "utilisation (goal >= 90%)",
                    "pool's cumulative utilisation",
                ],
                rows,
            ),
        ]
    )
    print(text)
    out = ROOT / args.out
    (out / "result.md").write_text(text + "\n")
    (out / "result.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
