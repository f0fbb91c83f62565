"""Time to accuracy: wall time and labels to a test force MAE, pax against its aims-PAX mode.

Two arms run the same task one after the other on the same machine:

  * pax: as it is (al=default, run.torch_threads=0, members trained at once);
  * aims-PAX mode: al=aims_pax, one torch thread, members one after the other,
    batch size 5
    (what aims-PAX does; --compare trajectories instead runs pax with
    al.num_trajectories N and 2N).

The task's budget is the same in both: trajectories, training-set limit,
convergence patience and epochs, 1 reference worker, al.desired_acc = --target.
Each run tracks the independent test set during the run (run.test_set, every
--test-every labels; never used for training or stopping) and ends on its own
stop (or is given up after --timeout-s; with --until-target, once its test force
MAE reaches the target). --seeds K runs every arm K times, replicate r with the
same md.seed and mlff.seed in every arm. Reported per run: wall and labels until
the test force MAE first falls to the target (tracker clock, IDG included, less
the seconds spent on the test evaluations themselves; the test before it, above
target, bounds the crossing from below; a run's final model counts as a test at
the end of its last training phase), wall, labels, stop and test errors at
the run's own end, and its time budget; per arm the mean and 95% t-interval
over seeds, and each arm's mean time to target over the first arm's with a
bootstrap interval.

    python scripts/bench/time_to_accuracy.py --system copper    # EMT, 800 K, periodic (about 15 min)
    python scripts/bench/time_to_accuracy.py --system aspirin   # xTB, the default experiment
    python scripts/bench/time_to_accuracy.py --system ethanol   # xTB, small MACE (quick)
    python scripts/bench/time_to_accuracy.py --system aspirin --seeds 3 --until-target
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import seeds
from common import (
    ROOT,
    SMALL_MODEL,
    events,
    final_test_record,
    first_below,
    fmt,
    machine,
    run_pax,
    summary,
    table,
    test_curve,
)
from make_test_set import ensure_test_set
from stats import mean_ratio_interval, t_interval

from pax.tracking.timing import summary_line

SYSTEMS = {
    "copper": {
        "overrides": ["system=copper", "dft=emt", "al.idg.sampler=aimd"],
        "geometry": "data/systems/copper.extxyz",
        "test_set": "outputs/testsets/copper_800K_tta.extxyz",
        "test_frames_per_trajectory": 20,
        "temperature_K": 800.0,
        "reference": "emt",
        "target": 0.05,
        "trajectories": 4,
        "max_train": 200,
    },
    "aspirin": {
        "overrides": ["system=aspirin"],
        "geometry": "data/systems/aspirin.xyz",
        "test_set": "outputs/testsets/aspirin_500K.extxyz",  # the default experiment's
        "test_frames_per_trajectory": 40,
        "temperature_K": 500.0,
        "reference": "xtb",
        "target": 0.1,
        "trajectories": 8,
        "max_train": 100,
    },
    "ethanol": {
        "overrides": ["system=ethanol", *SMALL_MODEL],
        "geometry": "data/systems/ethanol.xyz",
        "test_set": "outputs/testsets/ethanol_500K_tta.extxyz",
        "test_frames_per_trajectory": 20,
        "temperature_K": 500.0,
        "reference": "xtb",
        "target": 0.1,
        "trajectories": 4,
        "max_train": 100,
    },
}
MODES = {
    "pax": ["run.torch_threads=0", "mlff.parallel_members=0"],
    "aims-PAX mode": [
        "al=aims_pax",
        "run.torch_threads=1",
        "mlff.parallel_members=1",
        "mlff.batch_size=5",
    ],
}
BUDGET = ["al.convergence_patience=10", "al.max_convergence_epochs=40"]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--system", choices=sorted(SYSTEMS), default="copper")
    p.add_argument("--compare", choices=("modes", "trajectories"), default="modes")
    p.add_argument(
        "--arms",
        nargs="+",
        help="run only these arms; the others are kept from out/result.json",
    )
    p.add_argument("--target", type=float, help="test force MAE target (eV/Å)")
    p.add_argument("--trajectories", type=int, help="al.num_trajectories (N)")
    p.add_argument("--max-train", type=int, help="al.max_train_set_size")
    p.add_argument("--test-every", type=int, default=5, help="labels between tests")
    p.add_argument("--timeout-s", type=float, default=3600.0, help="per run")
    p.add_argument("--seeds", type=int, default=1, help="runs per arm")
    p.add_argument(
        "--until-target",
        action="store_true",
        help="end each run once its test force MAE reaches the target",
    )
    p.add_argument(
        "--out", type=Path, help="default outputs/bench/time_to_accuracy/SYSTEM"
    )
    p.add_argument("overrides", nargs="*", help="extra pax overrides (every arm)")
    return p.parse_args()


def test_set(setting: dict) -> Path:
    """The independent test set: 5 reference trajectories, frames 50 fs apart."""
    return ensure_test_set(
        ROOT / setting["test_set"],
        ROOT / setting["geometry"],
        setting["temperature_K"],
        trajectories=5,
        frames_per_trajectory=setting["test_frames_per_trajectory"],
        preset=setting["reference"],
    )


def arms(compare: str, n: int) -> dict[str, list[str]]:
    """Arm name -> its own overrides."""
    if compare == "trajectories":
        return {
            f"pax, {k} trajectories": [f"al.num_trajectories={k}"] for k in (n, 2 * n)
        }
    return {name: [*extra, f"al.num_trajectories={n}"] for name, extra in MODES.items()}


def row(name: str, res: dict) -> tuple[list[str], list[str]]:
    """Table row and time-budget row of one run's result."""
    hit, end = res["hit"], res["summary"]
    test = end.get("test", {})
    best = min(test.get("members", [{}]), key=lambda m: m.get("f_mae", 9e9))
    e_mae = test.get("mean", {}).get("e_mae_per_atom")
    budget = end.get("time_budget")
    before = res.get("before_hit")
    label = f"{name}, seed {res.get('seed', 0)}"
    return [
        label,
        fmt(before and net_time(before), ".0f", "–")
        + " – "
        + fmt(hit and net_time(hit), ".0f"),
        fmt(hit and hit["n_labels"], "d"),
        f"{res['wall_s']:.0f}",
        f"{res['labels_idg']} + {res['labels_al']}",
        end.get("stop_reason", res.get("ended", "given up")),
        fmt(test.get("mean", {}).get("f_mae"), ".3f", "–"),
        fmt(best.get("f_mae"), ".3f", "–"),
        fmt(e_mae and 1000 * e_mae, ".1f", "–"),
    ], [label, summary_line(budget) if budget else "–"]


def to_target(runs: list[dict]) -> tuple[list[float], list[float]]:
    """Net seconds and labels to target of each run (inf where never reached)."""
    hits = [r["hit"] for r in runs]
    return (
        [net_time(h) if h else float("inf") for h in hits],
        [h["n_labels"] if h else float("inf") for h in hits],
    )


def over_seeds(name: str, runs: list[dict]) -> list[str]:
    """Summary row of one arm: its seeds' time and labels to target."""
    secs, labels = to_target(runs)
    reached = [i for i, s in enumerate(secs) if s != float("inf")]

    def interval(values: list[float], spec: str) -> str:
        if len(reached) < len(values):
            return "not reached in every seed"
        ci = t_interval(values)
        return f"{ci['mean']:{spec}} [{ci['lo']:{spec}}, {ci['hi']:{spec}}]"

    return [
        name,
        f"{len(reached)} / {len(runs)}",
        interval(secs, ".0f"),
        interval(labels, ".1f"),
        ", ".join(fmt(runs[i]["hit"]["test_f_mae"]) for i in reached) or "–",
    ]


def ratio_lines(results: dict[str, list[dict]]) -> list[str]:
    """Each arm's mean time and labels to target over the first arm's."""
    first, *others = results
    base_s, base_n = to_target(results[first])
    lines = []
    for name in others:
        secs, labels = to_target(results[name])
        parts = []
        for what, a, b in (("time", secs, base_s), ("labels", labels, base_n)):
            r = mean_ratio_interval(a, b)
            if r["lo"] is None:
                parts.append(f"{what}: no seed reached the target in either arm")
            else:
                parts.append(f"{what} {r['ratio']:.2f} [{r['lo']:.2f}, {r['hi']:.2f}]")
        lines.append(
            f"{name} / {first}, mean to target over seeds (95% bootstrap interval, "
            f"seeds resampled apart): " + "; ".join(parts)
        )
    return lines


def net_time(test_record: dict) -> float:
    """Tracker clock at a test record less the test evaluations up to it (s)."""
    return test_record["time_s"] - test_record.get("test_eval_s", 0.0)


def run_arm(
    run_dir: Path,
    overrides: list[str],
    target: float,
    timeout_s: float,
    until_target: bool,
):
    """Run one arm to its own stop, to its target (until_target) or give up."""
    started = time.time()

    def stop(path: Path) -> bool:
        reached = until_target and first_below(test_curve(path), target)
        return bool(reached) or time.time() - started > timeout_s

    wall = run_pax(run_dir, overrides, timeout_s=timeout_s + 120, stop_when=stop)
    final = final_test_record(ROOT / run_dir)
    curve = test_curve(ROOT / run_dir) + ([final] if final else [])
    labels = [r for r in events(ROOT / run_dir, "sampling") if r.get("split")]
    idg = sum(r.get("phase") == "idg" for r in labels)
    done = (ROOT / run_dir / "results" / "summary.json").exists()
    hit = first_below(curve, target)
    before = [r for r in curve if hit and r["time_s"] < hit["time_s"]]
    ended = "stopped at target" if until_target and hit else "given up"
    return {
        "hit": hit,
        "before_hit": before[-1] if before else None,
        "curve": curve,
        "wall_s": wall,
        "labels_idg": idg,
        "labels_al": len(labels) - idg,
        "ended": ended,
        "summary": summary(ROOT / run_dir) if done else {},
    }


def seed_overrides(replicate: int) -> list[str]:
    """md.seed and mlff.seed of replicate r, the same in every arm."""
    return [
        f"md.seed={seeds.seed('pax', replicate)}",
        f"mlff.seed={seeds.seed('pax', replicate, seeds.MLFF_OFFSET)}",
    ]


def main() -> None:
    args = parse_args()
    setting = SYSTEMS[args.system]
    target = args.target or setting["target"]
    n = args.trajectories or setting["trajectories"]
    out = ROOT / (args.out or Path(f"outputs/bench/time_to_accuracy/{args.system}"))
    test_path = test_set(setting)
    base = [
        *setting["overrides"],
        f"md.temperature_K={setting['temperature_K']}",
        f"al.desired_acc={target}",
        f"al.max_train_set_size={args.max_train or setting['max_train']}",
        "cluster.max_workers=1",
        f"run.test_set={test_path.relative_to(ROOT)}",
        f"run.test_every_labels={args.test_every}",
        *BUDGET,
    ]
    t0 = time.time()
    every = arms(args.compare, n)
    chosen = args.arms or list(every)
    unknown = set(chosen) - set(every)
    if unknown:
        raise SystemExit(f"--arms {sorted(unknown)}: choose from {list(every)}")
    earlier = out / "result.json"
    kept = json.loads(earlier.read_text()) if earlier.exists() and args.arms else {}
    results = {k: v for k, v in kept.items() if isinstance(v, list)}  # list of seeds
    for name in chosen:
        results[name] = []
        for r in range(args.seeds):
            slug = name.replace(" ", "_").replace(",", "")
            overrides = [*base, *every[name], *seed_overrides(r), *args.overrides]
            res = run_arm(
                out / slug / f"seed{r}",
                overrides,
                target,
                args.timeout_s,
                args.until_target,
            )
            results[name].append({"seed": r, **res})
            hit = res["hit"]
            print(f"{name}, seed {r}: target at {fmt(hit and net_time(hit), '.0f')} s")
    shown_arms = {name: results[name] for name in every if name in results}
    rows, budgets = zip(
        *(row(name, res) for name, runs in shown_arms.items() for res in runs)
    )
    text = "\n\n".join(
        [
            f"time to accuracy: {args.system} at {setting['temperature_K']:.0f} K, "
            f"reference {setting['reference']}, target test F-MAE {target} eV/Å "
            f"(test set {test_path.relative_to(ROOT)}, checked every "
            f"{args.test_every} labels), {n} trajectories, 1 worker, each run given "
            f"up after {args.timeout_s:.0f} s"
            + (", ended at its target" if args.until_target else "")
            + f"; machine: {machine()}; this invocation {time.time() - t0:.0f} s, "
            f"arms run: {', '.join(chosen)} ({args.seeds} seeds each)",
            table(
                [
                    "arm",
                    "seeds at target",
                    "wall to target, test evaluations left out (s), mean [95%]",
                    "labels to target, mean [95%]",
                    "test F-MAE at the hit",
                ],
                [over_seeds(name, runs) for name, runs in shown_arms.items()],
            ),
            "\n".join(f"- {line}" for line in ratio_lines(shown_arms)),
            table(
                [
                    "run",
                    "wall to target, test before – test at (s)",
                    "labels to target",
                    "wall to own stop (s)",
                    "labels IDG + AL",
                    "stop",
                    "test F-MAE, mean (eV/Å)",
                    "best member",
                    "test E-MAE (meV/atom)",
                ],
                list(rows),
            ),
            table(["run", "time budget of the whole process"], list(budgets)),
        ]
    )
    print(text)
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.md").write_text(text + "\n")
    earlier.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
