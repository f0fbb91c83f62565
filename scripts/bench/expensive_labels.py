"""Expensive labels to reach a test force MAE: from scratch, pretrained, fine-tuned.

GFN2-xTB plays the expensive reference and GFN1-xTB the cheap one. Three ways
are scored on one test set (independent GFN2 trajectories, seed role "test")
that nothing reads while training:

- scratch: fresh ensembles trained on the first N expensive frames;
- pretrain: pax's al.pretrain path (pax.al.pretrain): GFN1 labels of IDG-sampler
  frames of the same molecule train the ensemble, its E0s are switched to
  GFN2's, then it trains on the first N expensive frames;
- finetune: members fine-tuned (mlff.init=finetune, naive) from a MACE this
  script trains on GFN1 labels of *other* molecules. It stands in for a
  foundation model, since no pretrained MACE weights can be downloaded here.

Expensive frames come from one pool of 5 independent equilibrated GFN2
trajectories (seed role "uniform"); each seed draws its own order (role "draw"),
its own cheap frames (role "cheap") and its own model seeds (role "train").
Every way trains with the label-efficiency protocol (epochs with a floor of
gradient steps, the same split rule and E0s).

    python scripts/bench/expensive_labels.py --smoke   # water, tiny model, minutes
    python scripts/bench/expensive_labels.py --quick   # aspirin, small MACE, 3 seeds

Each finished way-and-seed is appended to OUT/tasks.jsonl; a rerun skips those.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import scoring
import seeds
import stats
from ase.build import molecule
from ase.io import read, write
from common import ROOT, SMALL_MODEL, machine, table
from label_efficiency import TINY_MODEL, system_overrides

from pax.config import compose

WAYS = ("scratch", "pretrain", "finetune")
TARGETS = (0.1, 0.05)
POOL_TRAJECTORIES = 5
MODES = {
    "smoke": dict(
        system="water",
        seeds=2,
        ns=[4, 8],
        epochs=3,
        min_grad_steps=10,
        model=TINY_MODEL,
        pool_per_traj=2,
        pretrain=["al.pretrain.n_frames=12", "al.pretrain.epochs=3"],
        foundation_molecules=["H2O2"],
        foundation_frames=10,
        foundation_epochs=3,
        test=dict(trajectories=5, frames_per_trajectory=2, equilibrate_fs=50.0),
    ),
    "quick": dict(
        system="aspirin",
        seeds=3,
        ns=[8, 16, 32, 64, 128],
        epochs=60,
        min_grad_steps=600,
        model=SMALL_MODEL,
        pool_per_traj=40,
        pretrain=["al.pretrain.epochs=30"],  # 200 GFN1 frames (al.pretrain's default)
        foundation_molecules=[
            "C6H6",
            "CH3COOH",
            "HCOOCH3",
            "CH3CH2OH",
            "C4H4O",
            "CH3COCH3",
        ],
        foundation_frames=240,
        foundation_epochs=60,
        test=dict(trajectories=5, frames_per_trajectory=40),
    ),
}
POOL_EVERY_STEPS = 100  # 50 fs between pool frames
POOL_EQUILIBRATE_STEPS = 1000  # 500 fs


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    m = p.add_mutually_exclusive_group(required=True)
    m.add_argument("--quick", action="store_true", help="aspirin, small MACE, 3 seeds")
    m.add_argument("--smoke", action="store_true", help="water, tiny model, 2 seeds")
    p.add_argument("--seeds", type=int, help="replicates per way")
    p.add_argument("--ns", type=int, nargs="+", help="expensive label counts scored")
    p.add_argument("--ways", nargs="+", default=list(WAYS), choices=WAYS)
    p.add_argument("--jobs", type=int, default=1, help="worker processes for scoring")
    p.add_argument("--out", type=Path, default=Path("outputs/bench/expensive_labels"))
    args = p.parse_args(argv)
    args.mode = "quick" if args.quick else "smoke"
    args.out = (args.out if args.out.is_absolute() else ROOT / args.out).resolve()
    return args


def cheap_frames(cfg, systems, folder: Path, n_frames: int, seed: int) -> list:
    """GFN1-labelled IDG-sampler frames of systems (pax.al.pretrain's own code)."""
    from pax.al.pretrain import labelled_frames
    from pax.dft.xtb import XTBConfig, XTBMethod

    cfg = dataclasses.replace(
        cfg,
        md=dataclasses.replace(cfg.md, seed=seed),
        al=dataclasses.replace(
            cfg.al, pretrain=dataclasses.replace(cfg.al.pretrain, n_frames=n_frames)
        ),
    )
    ctx = SimpleNamespace(cfg=cfg, run_dir=folder, systems=systems)
    return labelled_frames(ctx, XTBConfig(method=XTBMethod.GFN1))


def e0s_of(method: str, numbers) -> dict[int, float]:
    """Isolated-atom energies (eV) of GFN1 or GFN2 (cached under outputs/)."""
    from pax.dft.e0s import isolated_atom_energies
    from pax.dft.xtb import XTBConfig, XTBMethod

    cfg = XTBConfig(method=XTBMethod(method))
    return isolated_atom_energies(sorted(set(numbers)), cfg, ROOT / "outputs" / "e0s")


def expensive_pool(out: Path, start, temperature_K: float, per_traj: int) -> Path:
    """Frames of 5 independent equilibrated GFN2 trajectories (made once)."""
    from make_test_set import reference_md

    path = out / "data" / "gfn2_pool.extxyz"
    if path.exists() and len(read(str(path), ":")) == POOL_TRAJECTORIES * per_traj:
        return path
    pool = []
    for k in range(POOL_TRAJECTORIES):
        frames, _ = reference_md(
            start,
            temperature_K,
            seeds.seed("uniform", 0, k),
            per_traj,
            POOL_EVERY_STEPS,
            POOL_EQUILIBRATE_STEPS,
        )
        pool += frames
    path.parent.mkdir(parents=True, exist_ok=True)
    write(str(path), pool, format="extxyz")
    return path


def foundation_model(out: Path, cfg, s) -> Path:
    """A MACE trained on GFN1 labels of other molecules (the foundation stand-in)."""
    from pax.mlff import Ensemble

    path = out / "models" / "foundation.model"
    if path.exists():
        return path
    systems = [molecule(name) for name in s["foundation_molecules"]]
    for atoms, name in zip(systems, s["foundation_molecules"]):
        atoms.info["system"] = name
    frames = cheap_frames(
        cfg,
        systems,
        out / "data" / "foundation",
        s["foundation_frames"],
        seeds.seed("cheap", 99),
    )
    numbers = [int(z) for a in frames for z in a.numbers]
    mlff = dataclasses.replace(cfg.mlff, seed=seeds.seed("cheap", 99, 1))
    train, valid = scoring.split(frames, cfg.al.valid_ratio)
    ens = Ensemble.build(mlff, train, e0s_of("GFN1-xTB", numbers))
    ens.train(train, valid, s["foundation_epochs"], phase="foundation")
    print(
        f"foundation stand-in: {len(train)} GFN1 frames of {s['foundation_molecules']}, "
        f"validation F-MAE {ens.last_valid[-1]['valid_f_mae']:.3f} eV/Å",
        flush=True,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    exported = ens.export(path.parent / "foundation_members")[0]
    exported.replace(path)
    return path


def score_way(task: dict) -> dict:
    """One way and seed in a worker process: test errors at every N."""
    import torch

    torch.set_num_threads(1)
    cfg, r, way = task["cfg"], task["replicate"], task["way"]
    pool = read(str(task["pool"]), ":")
    order = np.random.default_rng(seeds.seed("draw", r)).permutation(len(pool))
    frames = [pool[i] for i in order]
    test = read(str(task["test"]), ":")
    mlff = dataclasses.replace(cfg.mlff, seed=seeds.seed("train", r))
    e0s = task["e0s"]
    cost = {"cheap_labels": 0, "pretrain_s": 0.0}
    path = None
    if way == "pretrain":
        t0 = time.time()
        folder = task["out"] / "data" / f"cheap_s{r}"
        cheap = cheap_frames(
            cfg,
            task["systems"],
            folder,
            cfg.al.pretrain.n_frames,
            seeds.seed("cheap", r),
        )
        path = scoring.pretrained_base(
            folder / "pretrain" / "frames.extxyz",
            cfg.mlff,
            e0s_of("GFN1-xTB", [int(z) for z in cheap[0].numbers]),
            cfg.al.pretrain,
            r,
            task["out"] / "models" / f"pretrained_s{r}.pt",
        )
        cost = {"cheap_labels": len(cheap), "pretrain_s": time.time() - t0}
    if way == "finetune":
        mlff = dataclasses.replace(
            mlff, init="finetune", foundation_model=str(task["foundation"])
        )
    rows = []
    for n in task["ns"]:
        t0 = time.time()
        ens = scoring.train_fresh(
            frames[:n],
            mlff,
            e0s,
            task["protocol"],
            cfg.al.valid_ratio,
            r,
            path,
        )
        rows.append(
            {"n": n, "train_s": time.time() - t0, **scoring.test_errors(ens, test)}
        )
        print(f"{way} s{r} N={n}: F-MAE {rows[-1]['f_mae']:.4f}", flush=True)
    return {"way": way, "replicate": r, "rows": rows, **cost}


def run_tasks(tasks: list[dict], log: Path, jobs: int) -> list[dict]:
    """Scores of every task at its N; scores already in log are reused.

    A task whose way and seed were scored at other N before only runs the N
    still missing (its pretrained ensemble is reused), so --ns may grow later.
    """
    done: dict[tuple, dict] = {}
    if log.exists():
        for line in log.read_text().splitlines():
            _merge(done, json.loads(line))
    todo = []
    for t in tasks:
        have = done.get((t["way"], t["replicate"]), {"rows": []})["rows"]
        missing = [n for n in t["ns"] if n not in {r["n"] for r in have}]
        if missing:
            todo.append({**t, "ns": missing})
    with open(log, "a") as fh:
        if jobs > 1 and len(todo) > 1:
            import multiprocessing

            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(jobs, mp_context=ctx) as ex:
                futures = [ex.submit(score_way, t) for t in todo]
                for future in as_completed(futures):
                    _append(fh, future.result(), done)
        else:
            for t in todo:
                _append(fh, score_way(t), done)
    out = []
    for t in tasks:
        entry = done[(t["way"], t["replicate"])]
        rows = [r for r in entry["rows"] if r["n"] in t["ns"]]
        out.append({**entry, "rows": sorted(rows, key=lambda r: r["n"])})
    return out


def _merge(done: dict, row: dict) -> None:
    """Add a task's rows to those of its way and seed (costs from the first)."""
    key = (row["way"], row["replicate"])
    entry = done.setdefault(key, {**row, "rows": []})
    known = {r["n"] for r in entry["rows"]}
    entry["rows"] += [r for r in row["rows"] if r["n"] not in known]


def _append(fh, row: dict, done: dict) -> None:
    fh.write(json.dumps(row, default=str) + "\n")
    fh.flush()
    _merge(done, row)


def summarise(results: list[dict], ns: list[int]) -> dict:
    """Per way: F-MAE intervals at each N, labels to each target, ratio to scratch."""
    curves = {}
    for way in WAYS:
        runs = sorted(
            (x for x in results if x["way"] == way), key=lambda x: x["replicate"]
        )
        if runs:
            curves[way] = np.array([[row["f_mae"] for row in x["rows"]] for x in runs])
    out = {}
    for way, c in curves.items():
        runs = [x for x in results if x["way"] == way]
        out[way] = {
            "f_mae": [{"n": n, **stats.t_interval(c[:, i])} for i, n in enumerate(ns)],
            "labels_to_target": {
                str(t): stats.labels_interval(ns, c, t) for t in TARGETS
            },
            "scratch_over_this": {
                str(t): stats.ratio_interval(ns, curves["scratch"], c, t)
                for t in TARGETS
            }
            if "scratch" in curves
            else {},
            "cheap_labels": float(np.mean([x["cheap_labels"] for x in runs])),
            "train_s": float(
                np.mean([sum(r["train_s"] for r in x["rows"]) for x in runs])
            ),
            "pretrain_s": float(np.mean([x["pretrain_s"] for x in runs])),
        }
    return out


def markdown(summary: dict, ns, args, s, wall_s: float, foundation_cheap: int) -> str:
    def iv(d, key="mean", spec=".3f"):
        v = d.get(key)
        if v is None:
            return "not reached"
        if d.get("lo") is None:
            return format(v, spec)
        hi = d["hi"]
        hi_s = "inf" if not np.isfinite(hi) else format(hi, spec)
        return f"{format(v, spec)} [{format(d['lo'], spec)}, {hi_s}]"

    lines = [
        f"Expensive labels ({args.mode}, {s['system']}, GFN2-xTB expensive, GFN1-xTB "
        f"cheap), {args.seeds} seeds; this invocation {wall_s / 60:.0f} min on "
        f"{machine()} (scores reused from tasks.jsonl not counted).",
        "",
        "Test force MAE (eV/Å, mean [95% t-interval over seeds]) against expensive labels:",
        "",
        table(
            ["way", *[f"N={n}" for n in ns]],
            [[w, *[iv(p) for p in e["f_mae"]]] for w, e in summary.items()],
        ),
        "",
        "Expensive labels to target (bootstrap 95% interval over seeds) and "
        "scratch/way ratio:",
        "",
        table(
            [
                "way",
                *[f"to {t}" for t in TARGETS],
                *[f"ratio at {t}" for t in TARGETS],
                "cheap labels",
                "training s",
            ],
            [
                [
                    w,
                    *[
                        iv(e["labels_to_target"][str(t)], "labels", ".0f")
                        for t in TARGETS
                    ],
                    *[
                        iv(e["scratch_over_this"][str(t)], "ratio", ".2f")
                        if e["scratch_over_this"]
                        else "-"
                        for t in TARGETS
                    ],
                    f"{e['cheap_labels']:.0f}"
                    if w != "finetune"
                    else f"{foundation_cheap} (other molecules)",
                    f"{e['train_s'] + e['pretrain_s']:.0f}",
                ]
                for w, e in summary.items()
            ],
        ),
    ]
    return "\n".join(lines) + "\n"


def figure(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for way, e in summary.items():
        n = [p["n"] for p in e["f_mae"]]
        mean = [p["mean"] for p in e["f_mae"]]
        ax.plot(n, mean, marker="o", label=way)
        ax.fill_between(
            n,
            [max(p["lo"], p["mean"] / 10) for p in e["f_mae"]],
            [p["hi"] for p in e["f_mae"]],
            alpha=0.2,
        )
    for t in TARGETS:
        ax.axhline(t, color="grey", lw=0.8, ls=":")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="expensive (GFN2) labels",
        ylabel="test F-MAE (eV/Å)",
        xticks=n,
        xticklabels=[str(v) for v in n],
    )
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> None:
    from make_test_set import ensure_test_set

    from pax.system.geometry import load_systems

    args = parse_args(argv)
    s = MODES[args.mode]
    args.seeds = args.seeds or s["seeds"]
    s = {**s, "ns": sorted(args.ns or s["ns"])}
    t0 = time.time()
    overrides, geometry = system_overrides(s["system"])
    cfg = compose(
        [*overrides, "dft=xtb", "dft.method=GFN2", *s["model"], *s["pretrain"]]
    )
    systems = load_systems(cfg.system)
    temperature = cfg.md.temperature_K
    test = ensure_test_set(
        ROOT / "outputs" / "testsets" / f"{s['system']}_{temperature:.0f}K.extxyz"
        if args.mode == "quick"
        else args.out / "testsets" / f"{s['system']}_{temperature:.0f}K.extxyz",
        geometry,
        temperature,
        **s["test"],
    )
    pool = expensive_pool(args.out, read(geometry), temperature, s["pool_per_traj"])
    foundation = foundation_model(args.out, cfg, s) if "finetune" in args.ways else None
    numbers = [int(z) for z in systems[0].numbers]
    tasks = [
        {
            "way": way,
            "replicate": r,
            "cfg": cfg,
            "systems": systems,
            "out": args.out,
            "pool": pool,
            "test": test,
            "foundation": foundation,
            "ns": s["ns"],
            "e0s": e0s_of("GFN2-xTB", numbers),
            "protocol": {"epochs": s["epochs"], "min_grad_steps": s["min_grad_steps"]},
        }
        for r in range(args.seeds)
        for way in args.ways
    ]
    (args.out / "models").mkdir(parents=True, exist_ok=True)
    results = run_tasks(tasks, args.out / "tasks.jsonl", args.jobs)
    summary = summarise(results, s["ns"])
    foundation_cheap = s["foundation_frames"] if foundation else 0
    text = markdown(summary, s["ns"], args, s, time.time() - t0, foundation_cheap)
    (args.out / "result.json").write_text(
        json.dumps(
            {
                "summary": summary,
                "results": results,
                "machine": machine(),
                "mode": args.mode,
                "seeds": args.seeds,
                "ns": s["ns"],
                "foundation_cheap_labels": foundation_cheap,
            },
            indent=1,
            default=str,
        )
    )
    (args.out / "result.md").write_text(text)
    figure(summary, args.out / "mae_vs_expensive_labels.png")
    print(text, flush=True)


if __name__ == "__main__":
    main()
