"""Label efficiency: test errors against labels for pax and for uniform sampling.

Each arm gives an ordered list of labelled frames; a fresh ensemble is trained
on each arm's first N frames with one fixed protocol and scored on test sets
at 300, 500 and 700 K that no arm ever reads (docs/benchmarks.md).

    python scripts/bench/label_efficiency.py --smoke   # water, tiny model, minutes
    python scripts/bench/label_efficiency.py --quick   # ethanol, 3 seeds (~60 min, 2 cores)
    python scripts/bench/label_efficiency.py           # aspirin, mace_small, 5 seeds (days)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import arms
import report
from ase.io import read, write
from common import ROOT, SMALL_MODEL

from pax.config import compose

TINY_MODEL = [
    "mlff.ensemble_size=2",
    "mlff.num_channels=8",
    "mlff.max_L=0",
    "mlff.correlation=2",
    "mlff.num_interactions=1",
    "mlff.radial_MLP=[8]",
    "mlff.batch_size=4",
]
TINY_AL = [
    "al.num_trajectories=2",
    "al.skip_step_mlff=5",
    "al.threshold_warmup=2",
    "al.idg.skip_step_initial=10",
    "al.idg.max_initial_set_size=6",
    "al.idg.min_initial_set_size=2",
    "al.idg.intermediate_epochs=2",
]
MODES = {
    "smoke": dict(
        system="water",
        seeds=2,
        ns=[8, 16],
        epochs=5,
        min_grad_steps=30,
        score_members=2,
        model=TINY_MODEL + TINY_AL,
        stability_steps=40,
        stability_seeds=2,
        test=dict(trajectories=5, frames_per_trajectory=2, equilibrate_fs=50.0),
        timeout_s=1800,
    ),
    "quick": dict(
        system="ethanol",
        seeds=3,
        ns=[4, 8, 16, 32, 64, 128],
        epochs=60,
        min_grad_steps=600,
        score_members=2,
        model=[*SMALL_MODEL, "mlff.ensemble_size=4", "al.num_trajectories=4"],
        stability_steps=20000,
        stability_seeds=1,
        test=dict(trajectories=5, frames_per_trajectory=40),
        timeout_s=3600,
    ),
    "full": dict(
        system="aspirin",
        seeds=5,
        ns=[8, 16, 32, 64, 128, 256],
        epochs=100,
        min_grad_steps=1000,
        score_members=4,
        model=[],
        stability_steps=20000,
        stability_seeds=5,
        test=dict(trajectories=5, frames_per_trajectory=40),
        timeout_s=12 * 3600,  # a 128-label aspirin arm took about 2 h on 2 cores
    ),
}
"""Scoring: each model trains max(epochs, min_grad_steps worth of epochs) with
score_members members; the stability MD (0.5 fs steps) runs with the final
model of the first stability_seeds seeds; timeout_s bounds each pax run."""
TEST_TEMPERATURES_K = (300.0, 500.0, 700.0)
HOLDOUT_FIRST_SEED = 50
HOLDOUT_FIRST_TRAJECTORY = 100
"""--holdout: replicates from 50 and test trajectories from 100, seeds no default
measurement uses, to confirm on fresh data a setting chosen on the default one."""
TARGETS = (0.2, 0.1, 0.05)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    m = p.add_mutually_exclusive_group()
    m.add_argument("--quick", action="store_true", help="ethanol, 4-member small MACE")
    m.add_argument("--smoke", action="store_true", help="water, tiny model, 2 seeds")
    p.add_argument("--system", help="preset name or geometry file (default by mode)")
    p.add_argument("--reference", default="xtb", help="dft preset (xtb or emt)")
    p.add_argument("--temperature-K", type=float, default=500.0)
    p.add_argument("--seeds", type=int, help="replicates per arm")
    p.add_argument(
        "--ns", type=int, nargs="+", help="label counts scored (default by mode)"
    )
    p.add_argument("--epochs", type=int, help="training epochs per model")
    p.add_argument(
        "--min-grad-steps", type=int, help="at least this many steps per model"
    )
    p.add_argument("--score-members", type=int, help="ensemble size of scored models")
    p.add_argument(
        "--stability-seeds", type=int, help="seeds whose final model runs stability MD"
    )
    p.add_argument(
        "--jobs", type=int, default=1, help="arms and seeds scored in parallel"
    )
    p.add_argument(
        "--arms",
        nargs="*",
        default=list(arms.ARMS),
        choices=arms.ARMS,
        help="built-in arms to run (none: only the --ablation arms)",
    )
    p.add_argument(
        "--ablation",
        action="append",
        default=[],
        metavar="NAME=OVERRIDE",
        help="a pax arm with one setting changed, e.g. cx=al.c_x=0.2",
    )
    p.add_argument(
        "--uniform-pretrained-like",
        metavar="ARM",
        help="add arm uniform_pretrained: the uniform frames, scored from an "
        "ensemble pretrained on the cheap labels of pax arm ARM (same seed)",
    )
    p.add_argument(
        "--holdout",
        action="store_true",
        help="other seeds for every arm and test set (a held-out measurement)",
    )
    p.add_argument("--phase", choices=["all", "arms", "score"], default="all")
    p.add_argument(
        "--rescore",
        action="store_true",
        help="score every arm again (default: keep scores of out/result.json)",
    )
    p.add_argument("--out", type=Path, default=Path("outputs/bench/label_efficiency"))
    p.add_argument(
        "--testsets", type=Path, help="test-set folder (default: out/../testsets)"
    )
    p.add_argument("--timeout-s", type=float, help="per pax run (default by mode)")
    p.add_argument("overrides", nargs="*", help="extra pax overrides (every pax arm)")
    a = p.parse_args(argv)
    a.mode = "smoke" if a.smoke else "quick" if a.quick else "full"
    a.out = a.out if a.out.is_absolute() else ROOT / a.out
    a.testsets = a.testsets or a.out.parent / "testsets"
    return a


def setting(args) -> dict:
    """The mode's settings with the command line's changes."""
    s = dict(MODES[args.mode])
    s["system"] = args.system or s["system"]
    s["seeds"] = args.seeds or s["seeds"]
    s["ns"] = args.ns or s["ns"]
    s["epochs"] = args.epochs or s["epochs"]
    s["min_grad_steps"] = args.min_grad_steps or s["min_grad_steps"]
    s["score_members"] = args.score_members or s["score_members"]
    if args.stability_seeds is not None:
        s["stability_seeds"] = args.stability_seeds
    s["timeout_s"] = args.timeout_s or s["timeout_s"]
    s["first_seed"] = HOLDOUT_FIRST_SEED if args.holdout else 0
    if args.holdout:
        s["test"] = {**s["test"], "first_trajectory": HOLDOUT_FIRST_TRAJECTORY}
    return s


def replicates(s: dict) -> range:
    """The seed indices of every arm."""
    return range(s["first_seed"], s["first_seed"] + s["seeds"])


def system_overrides(system: str) -> tuple[list[str], Path]:
    """pax overrides and geometry file for a preset name or a geometry path."""
    preset = ROOT / "conf" / "system" / f"{system}.yaml"
    if preset.exists():
        import yaml

        return [f"system={system}"], ROOT / yaml.safe_load(preset.read_text())[
            "geometry"
        ]
    path = Path(system).resolve()
    return [f"system.geometry={path}", f"system.name={path.stem}"], path


NO_AL_STOP_EV_A = 0.0001
"""al.desired_acc of the pax arms: AL never stops on accuracy, only on the budget."""


NO_SIZE_STOP = 100_000
"""al.max_train_set_size of the pax arms: the benchmark stops them at their label
budget, so a larger budget resumes the same run."""


def pax_overrides(args, s) -> list[str]:
    """Overrides shared by every pax arm: run to the label budget, no test set.

    AL's accuracy stop is switched off, but IDG keeps the stop of the default
    experiment (validation F-MAE <= 1 eV/Å after min_initial_set_size points):
    otherwise IDG would run to max_initial_set_size and fill the whole budget.
    """
    sys_over, _ = system_overrides(s["system"])
    idg_target = compose([*sys_over, f"dft={args.reference}", *s["model"]]).al
    idg_scale = idg_target.desired_acc * idg_target.idg.desired_acc_scale_idg
    return [
        *sys_over,
        f"dft={args.reference}",
        *s["model"],
        f"md.temperature_K={args.temperature_K}",
        f"al.desired_acc={NO_AL_STOP_EV_A}",
        f"al.idg.desired_acc_scale_idg={idg_scale / NO_AL_STOP_EV_A:g}",
        "al.converge=none",
        f"al.max_train_set_size={NO_SIZE_STOP}",
        "al.max_MD_steps=1000000",
        "cluster.max_workers=1",
        "run.torch_threads=1",
        *args.overrides,
    ]


def run_arms(args, s) -> dict:
    """Every arm for every seed; frames to out/arms/<arm>/s<r>.extxyz, costs returned."""
    base = pax_overrides(args, s)
    _, geometry = system_overrides(s["system"])
    start, n_max = read(geometry), max(s["ns"])
    cfg = compose(base)
    variants = arms.pax_variants(args.arms, args.ablation)
    costs_path = args.out / "arms" / "costs.json"
    costs: dict = json.loads(costs_path.read_text()) if costs_path.exists() else {}
    for r in replicates(s):
        for name, extra in variants.items():
            run_dir = args.out / "runs" / f"{name}_s{r}"
            frames, cost = arms.pax_arm(
                run_dir, [*base, *extra], r, n_max, s["timeout_s"]
            )
            save(args.out, name, r, frames[:n_max], cost, costs)
        pax_dir = args.out / "runs" / f"pax_s{r}"
        pax_cost = costs.get("pax", {}).get(str(r))
        if "uniform" in args.arms:
            save(
                args.out,
                "uniform",
                r,
                *timed(
                    arms.uniform_arm,
                    start,
                    args.temperature_K,
                    r,
                    n_max,
                    args.reference,
                ),
                costs,
            )
        if "equal_cost" in args.arms and pax_cost:
            save(
                args.out,
                "equal_cost",
                r,
                *timed(
                    arms.equal_cost_arm,
                    start,
                    args.temperature_K,
                    r,
                    pax_cost["labels"],
                    args.reference,
                ),
                costs,
            )
        if "mlff_md" in args.arms and pax_cost:
            md = {"cfg": cfg.md, "n_traj": cfg.al.num_trajectories}
            save(
                args.out,
                "mlff_md",
                r,
                *timed(
                    arms.mlff_arm,
                    pax_dir,
                    md,
                    start,
                    r,
                    n_max,
                    pax_cost["mlff_md_steps"],
                    cfg.al.skip_step_mlff,
                    args.reference,
                ),
                costs,
            )
    if args.uniform_pretrained_like:
        add_uniform_pretrained(args.out, args.uniform_pretrained_like, s, costs)
    return costs


def add_uniform_pretrained(out: Path, like: str, s: dict, costs: dict) -> None:
    """Arm uniform_pretrained: each seed's uniform frames, pretrained like arm `like`."""
    for r in replicates(s):
        uniform = out / "arms" / "uniform" / f"s{r}.extxyz"
        if not uniform.exists() or cheap_frames(out, like, r, {}) is None:
            raise SystemExit(
                f"--uniform-pretrained-like {like}: seed {r} needs {uniform} and "
                f"the cheap frames of {out / 'runs' / f'{like}_s{r}'}"
            )
        cheap = arms.pretrain_labels(out / "runs" / f"{like}_s{r}")
        cost = costs["uniform"][str(r)]
        cost = {
            **cost,
            "reference_calls": cost["reference_calls"] + cheap,
            "pretrain_labels": cheap,
            "cheap_from": like,
        }
        save(out, "uniform_pretrained", r, read(str(uniform), ":"), cost, costs)


def cheap_frames(out: Path, arm: str, r: int, cost: dict) -> Path | None:
    """The cheap-labelled pretraining frames of an arm and seed: those of its own
    pax run, or of the run of cost["cheap_from"]; None for an arm not pretrained."""
    path = arms.pretrain_frames(out / "runs" / f"{cost.get('cheap_from', arm)}_s{r}")
    return path if path.exists() else None


def timed(fn, *args):
    """fn(*args) -> (frames, cost) with the wall time added to the cost."""
    t0 = time.time()
    frames, cost = fn(*args)
    return frames, {**cost, "wall_s": time.time() - t0}


def save(out: Path, arm: str, r: int, frames, cost: dict, costs: dict) -> None:
    """Write one arm's frames and record its cost in costs and arms/costs.json at
    once (arms run earlier are kept; a stopped benchmark keeps what it made)."""
    from pax.fileio import atomic_write_json

    path = out / "arms" / arm / f"s{r}.extxyz"
    path.parent.mkdir(parents=True, exist_ok=True)
    write(str(path), frames, format="extxyz")
    costs.setdefault(arm, {})[str(r)] = cost
    atomic_write_json(out / "arms" / "costs.json", costs)
    print(f"arm {arm} seed {r}: {len(frames)} frames, {cost}", flush=True)


def test_set_paths(args, s) -> dict[float, Path]:
    """Where the test set at each temperature lives (named by system, reference, size)."""
    _, geometry = system_overrides(s["system"])
    size = f"{s['test']['trajectories']}x{s['test']['frames_per_trajectory']}"
    holdout = "_holdout" if s["test"].get("first_trajectory") else ""
    return {
        t: args.testsets / f"{Path(geometry).stem}_{args.reference}_{t:.0f}K_"
        f"{size}{holdout}.extxyz"
        for t in TEST_TEMPERATURES_K
    }


def ensure_test_sets(args, s) -> dict[float, Path]:
    """Make the missing test sets (reference MD with the "test" seeds)."""
    from make_test_set import ensure_test_set

    _, geometry = system_overrides(s["system"])
    paths = test_set_paths(args, s)
    for t, path in paths.items():
        ensure_test_set(path, geometry, t, preset=args.reference, **s["test"])
    return paths


def run_scoring(args, s, costs: dict) -> dict:
    """Test sets (made here if missing, read only here), then every arm's models,
    args.jobs arm-seeds at a time (one torch thread each); pretrained ensembles
    shared by arms (same cheap frames and seed) are made first, once each."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from dataclasses import replace

    import scoring

    _, geometry = system_overrides(s["system"])
    test_paths = ensure_test_sets(args, s)
    cfg = compose(pax_overrides(args, s))
    from pax.dft.e0s import isolated_atom_energies
    from pax.dft.xtb import XTBConfig

    numbers = sorted({int(z) for z in read(geometry).numbers})
    e0s = isolated_atom_energies(numbers, cfg.dft, args.out / "e0s")
    cheap_e0s = isolated_atom_energies(
        numbers, XTBConfig(method=cfg.al.pretrain.xtb_method), args.out / "e0s"
    )
    tasks = {
        (arm, r): {
            "frames": args.out / "arms" / arm / f"s{r}.extxyz",
            "tests": test_paths,
            "ns": s["ns"],
            "mlff_cfg": replace(cfg.mlff, ensemble_size=s["score_members"]),
            "e0s": e0s,
            "protocol": {"epochs": s["epochs"], "min_grad_steps": s["min_grad_steps"]},
            "valid_ratio": cfg.al.valid_ratio,
            "replicate": int(r),
            "start": geometry,
            "temperature_K": args.temperature_K,
            "stability_steps": s["stability_steps"]
            if int(r) - s["first_seed"] < s["stability_seeds"]
            else 0,
            "cheap": cheap_frames(args.out, arm, int(r), cost),
            "cheap_e0s": cheap_e0s,
            "pretrain": cfg.al.pretrain,
            "pretrained": args.out
            / "models"
            / f"{cost.get('cheap_from', arm)}_s{r}_pretrained.pt",
        }
        for arm, by_seed in costs.items()
        for r, cost in sorted(by_seed.items(), key=lambda kv: int(kv[0]))
    }
    results = earlier_scores(args.out, s) if not args.rescore else {}
    tasks = {
        key: task
        for key, task in tasks.items()
        if still_to_score(task, results.get(key[0], {}).get(key[1]), s)
    }
    with ProcessPoolExecutor(
        args.jobs, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        bases = {t["pretrained"]: t for t in tasks.values() if t["cheap"]}
        for done in [pool.submit(scoring.pretrain_task, t) for t in bases.values()]:
            done.result()  # each shared pretrained ensemble exists before scoring
        futures = {
            key: pool.submit(scoring.score_task, task) for key, task in tasks.items()
        }
        for (arm, r), future in futures.items():
            by_seed = results.setdefault(arm, {})
            res = by_seed[r] = merged(by_seed.get(r), future.result())
            save_scores_so_far(args.out, s, results)
            stab = res["stability"]
            print(
                f"scored {arm} seed {r}: {res['rows'][-1]}"
                + (f", stable {stab['fraction_physical']:.2f}" if stab else ""),
                flush=True,
            )
    return results


def earlier_scores(out: Path, s: dict) -> dict:
    """Scores in out/result.json made with this scoring protocol (arm -> seed ->
    score), restricted to the label counts in s["ns"].

    An arm-seed is only scored at the N it lacks (still_to_score drops the rows
    whose frames changed).
    """
    path = out / "result.json"
    if not path.exists():
        return {}
    old = json.loads(path.read_text())
    keys = ("epochs", "min_grad_steps", "score_members", "stability_steps", "test")
    if any(old["setting"].get(k) != s[k] for k in keys):
        return {}
    return {
        arm: {
            r: {**res, "rows": [row for row in res["rows"] if row["n"] in s["ns"]]}
            for r, res in by_seed.items()
        }
        for arm, by_seed in old.get("scored", {}).items()
    }


def save_scores_so_far(out: Path, s: dict, scored: dict) -> None:
    """out/result.json with the scores made so far (atomically), so a stopped
    scoring phase keeps them for earlier_scores; the report replaces it at the end."""
    from pax.fileio import atomic_write_json

    atomic_write_json(
        out / "result.json", {"setting": s, "scored": scored, "partial": True}
    )


def still_to_score(task: dict, earlier: dict | None, s: dict) -> bool:
    """Narrow task to the N that earlier (its arm-seed's scores) lacks; whether any.

    A row of earlier whose frames_digest differs from that of the first N frames
    in task["frames"] (its arm was run again) is dropped from earlier and scored
    anew; a row without a digest (older scoring) is kept. The stability run
    goes with the largest N: it is kept from earlier when that N is kept.
    """
    if earlier is None:
        return True
    from scoring import frames_digest

    frames = read(str(task["frames"]), ":")
    digests = {n: frames_digest(frames[:n]) for n in {r["n"] for r in earlier["rows"]}}
    earlier["rows"] = [
        row
        for row in earlier["rows"]
        if row.get("frames_digest", digests[row["n"]]) == digests[row["n"]]
    ]
    done = {row["n"] for row in earlier["rows"]}
    task["ns"] = [n for n in task["ns"] if n not in done]
    if max(s["ns"]) in done:
        task["stability_steps"] = 0
    return bool(task["ns"])


def merged(earlier: dict | None, new: dict) -> dict:
    """One arm-seed's scores: earlier rows and the new ones, by N and temperature."""
    if earlier is None:
        return new
    rows = sorted(earlier["rows"] + new["rows"], key=lambda r: (r["n"], r["test_K"]))
    return {
        **new,
        "rows": rows,
        "train_wall_s": earlier["train_wall_s"] + new["train_wall_s"],
        "pretrain_wall_s": earlier.get("pretrain_wall_s", 0.0) + new["pretrain_wall_s"],
        "stability": new["stability"] or earlier["stability"],
        "pretrained_only": new.get("pretrained_only") or earlier.get("pretrained_only"),
    }


def main(argv=None) -> None:
    args = parse_args(argv)
    # One OpenMP thread for tblite here and in every child (set before torch or
    # tblite loads): with its default threads, aspirin reference MD next to a
    # pax run on 2 cores took 1.8 s a step.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    s, t0 = setting(args), time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.phase in ("all", "arms"):
        costs = run_arms(args, s)
    else:
        costs = json.loads((args.out / "arms" / "costs.json").read_text())
    if args.phase == "arms":
        return
    scored = run_scoring(args, s, costs)
    report.write(args.out, s, args, costs, scored, TARGETS, time.time() - t0)


if __name__ == "__main__":
    sys.exit(main())
