"""Label efficiency: test force MAE against labels for pax AL, uniform MD sampling, IDG.

Three ways to spend reference labels on the same model and test set:
  (a) pax: IDG then active learning (one pax run, run.test_set tracked);
  (b) uniform: frames of one long reference (GFN2-xTB) Langevin trajectory,
      independent of the test set, taken in van der Corput order (every prefix is
      spread evenly over the trajectory), the same pax.mlff.Ensemble trained at each
      of pax's test points on as many labels for as many epochs as pax had;
  (c) IDG alone: pax-idg, run past its usual stop to the same label budget.
Then the labels each needs to reach the thresholds, and uniform / AL.

    python scripts/bench/label_efficiency.py --quick   # ethanol, small MACE (10 min on 2 cores)
    python scripts/bench/label_efficiency.py           # aspirin, mace_small (hours)
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
    fmt,
    machine,
    run_pax,
    table,
    test_curve,
)

QUICK = {
    "system": "ethanol",
    "budget": 80,
    "model": [*SMALL_MODEL, "al.num_trajectories=4"],
    "thresholds": [0.2, 0.1, 0.05],
}
FULL = {"system": "aspirin", "budget": 300, "model": [], "thresholds": [0.1, 0.05]}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="ethanol, small MACE")
    p.add_argument("--budget", type=int,
                   help="al.max_train_set_size of the pax run (training points); "
                   "uniform and IDG get as many labels as that run used")
    p.add_argument("--thresholds", type=float, nargs="+", help="test F-MAE, eV/Å")
    p.add_argument("--temperature-K", type=float, default=500.0)
    p.add_argument("--hot-offset-K", type=float, default=200.0,
                   help="second test set this much hotter (final models only)")
    p.add_argument("--test-every", type=int, default=5, help="labels between tests")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--workers", type=int, default=1, help="reference workers")
    p.add_argument("--out", type=Path, default=Path("outputs/bench/label_efficiency"))
    p.add_argument("overrides", nargs="*", help="extra pax overrides (both runs)")
    return p.parse_args()


def pax_overrides(setting: dict, args, test_set: Path) -> list[str]:
    """Overrides shared by the AL and IDG runs."""
    return [
        f"system={setting['system']}",
        "dft=xtb",
        *setting["model"],
        f"md.temperature_K={args.temperature_K}",
        f"run.test_set={test_set}",
        f"run.test_every_labels={args.test_every}",
        f"run.torch_threads={args.threads}",
        f"cluster.max_workers={args.workers}",
        "al.converge=none",
        *args.overrides,
    ]


def al_run(base: list[str], budget: int, out: Path) -> tuple[list[dict], float]:
    """(a) pax IDG + AL up to `budget` training points; its test curve and wall."""
    overrides = [
        *base,
        "al.desired_acc=0.001",  # run to the label budget
        "al.idg.desired_acc_scale_idg=1000",  # IDG keeps its usual 1 eV/Å stop
        f"al.max_train_set_size={budget}",
        "al.skip_step_mlff=5",
        "al.max_MD_steps=50000",
    ]
    wall = run_pax(out / "al", overrides, timeout_s=3600)
    return test_curve(ROOT / out / "al"), wall


def idg_run(base: list[str], labels: int, out: Path):
    """(c) IDG alone (pax-idg) up to about `labels` labels; its test curve and wall."""
    overrides = [
        *base,
        "al.desired_acc=0.001",
        "al.idg.desired_acc_scale_idg=1",  # never stops on accuracy
        # one shared set: with per-member sets the round-robin member tags and the
        # submit cap can leave the smallest member short of the size limit (a stall)
        "al.idg.distinct_member_sets=false",
        f"al.idg.max_initial_set_size={max(1, int(labels * 0.9))}",
        "al.idg.max_initial_epochs=100000",
    ]
    wall = run_pax(out / "idg", overrides, timeout_s=3600, entry="main_idg")
    return test_curve(ROOT / out / "idg"), wall


def van_der_corput(n: int) -> list[int]:
    """0..n-1 in base-2 van der Corput order: each prefix spreads over the range."""
    bits = max(1, (n - 1).bit_length())
    keys = []
    for i in range(1 << bits):
        r = int(format(i, f"0{bits}b")[::-1], 2)
        if r < n:
            keys.append(r)
    return keys


def uniform_curve(pool, checkpoints: list[dict], run_dir: Path, test):
    """(b) the same Ensemble trained on uniform frames with pax's label/epoch budget.

    Returns the curve (n_labels, epoch, test_f_mae) and the last ensemble.
    """
    import yaml

    from pax.al.decisions import goes_to_validation
    from pax.mlff import Ensemble
    from pax.mlff.config import MLFFConfig

    cfg_all = yaml.safe_load((run_dir / "config.yaml").read_text())
    cfg = MLFFConfig(**cfg_all["mlff"])
    valid_ratio = cfg_all["al"]["valid_ratio"]
    e0s = None
    for path in (run_dir / "state").glob("e0s_*.json"):
        e0s = {int(z): e for z, e in json.loads(path.read_text())["energies_eV"].items()}
    order = [pool[i] for i in van_der_corput(len(pool))]
    train, valid, ens, epoch, out = [], [], None, 0, []
    for cp in checkpoints:
        n = cp["n_labels"]
        if n > len(order):
            break
        for frame in order[len(train) + len(valid) : n]:
            if goes_to_validation(len(train), len(valid), valid_ratio) or not valid:
                valid.append(frame)
            else:
                train.append(frame)
        if not train:
            continue
        if ens is None:
            ens = Ensemble.build(cfg, train, e0s)
        if cp["epoch"] > epoch:
            ens.train(train, valid, cp["epoch"] - epoch, phase="uniform")
            epoch = cp["epoch"]
        mae = float(ens.evaluate(test)["mean"]["f_mae"])
        out.append({"n_labels": n, "epoch": epoch, "test_f_mae": mae})
        print(f"  uniform: {n} labels, {epoch} epochs: test F-MAE {mae:.4f}", flush=True)
    return out, ens


def labels_to_reach(curve: list[dict], target: float) -> int | None:
    """Labels at the first test point whose force MAE is <= target."""
    for rec in curve:
        if rec["test_f_mae"] <= target:
            return int(rec["n_labels"])
    return None


def load_final(run_dir: Path):
    """The ensemble a pax run ended with (its last checkpoint)."""
    from pax.mlff import Ensemble

    return Ensemble.load(run_dir / "state" / "ensemble.pt")


def n_labels(run_dir: Path) -> int:
    """Labels a pax run stored (sampling records with a split)."""
    return sum(1 for r in events(ROOT / run_dir, "sampling") if r.get("split"))


def final_table(entries, test, hot) -> list[list]:
    """Rows: method, labels, epochs, test F-MAE on the run's and the hot test set."""
    rows = []
    for name, ens, labels in entries:
        maes = [float(ens.evaluate(frames)["mean"]["f_mae"]) for frames in (test, hot)]
        rows.append([name, labels, ens.epoch, f"{maes[0]:.4f}", f"{maes[1]:.4f}"])
    return rows


def curve_table(curve: list[dict], uniform: list[dict], name: str) -> str:
    """Test F-MAE of a pax run and of uniform sampling at the same labels/epochs."""
    by_n = {r["n_labels"]: r for r in uniform}
    rows = []
    for rec in curve:
        u = by_n.get(rec["n_labels"])
        rows.append([rec["n_labels"], rec["phase"], rec["epoch"],
                     f"{rec['test_f_mae']:.4f}", fmt(u and u["test_f_mae"], ".4f", "–")])
    return table(["labels", "phase", "epochs", f"{name} test F-MAE",
                  "uniform test F-MAE"], rows)


def main() -> None:
    args = parse_args()
    import torch
    from ase.io import read

    torch.set_num_threads(args.threads)
    setting = dict(QUICK if args.quick else FULL)
    budget = args.budget or setting["budget"]
    thresholds = args.thresholds or setting["thresholds"]
    system = Path(f"data/systems/{setting['system']}.xyz")
    t_k = int(args.temperature_K)
    test_path = ensure_frames(
        Path(f"outputs/testsets/{setting['system']}_{t_k}K.extxyz"),
        system, args.temperature_K, 100, 50, seed=1234,
    )
    pool_path = ensure_frames(
        Path(f"outputs/testsets/{setting['system']}_{t_k}K_uniform_pool.extxyz"),
        system, args.temperature_K, max(128, 2 * budget), 50, seed=4321,
    )
    test, pool = read(str(test_path), ":"), read(str(pool_path), ":")
    base = pax_overrides(setting, args, test_path.relative_to(ROOT))

    t0 = time.time()
    al, al_wall = al_run(base, budget, args.out)
    print(f"pax AL: {al[-1]['n_labels']} labels in {al_wall:.0f} s", flush=True)
    idg, idg_wall = idg_run(base, al[-1]["n_labels"], args.out)
    print(f"IDG alone: {idg[-1]['n_labels']} labels in {idg_wall:.0f} s", flush=True)
    uniform, uni_ens = uniform_curve(pool, al, ROOT / args.out / "al", test)
    uniform_idg, uni_idg_ens = uniform_curve(pool, idg, ROOT / args.out / "al", test)
    hot_t = args.temperature_K + args.hot_offset_K
    hot_path = ensure_frames(
        Path(f"outputs/testsets/{setting['system']}_{int(hot_t)}K.extxyz"),
        system, hot_t, 100, 50, seed=1234,
    )
    hot = read(str(hot_path), ":")
    final_rows = final_table(
        [("pax AL", load_final(ROOT / args.out / "al"), n_labels(args.out / "al")),
         ("uniform (AL's epochs)", uni_ens, uniform[-1]["n_labels"]),
         ("IDG alone", load_final(ROOT / args.out / "idg"), n_labels(args.out / "idg")),
         ("uniform (IDG's epochs)", uni_idg_ens, uniform_idg[-1]["n_labels"])],
        test, hot,
    )

    rows = []
    for target in thresholds:
        n_al, n_uni = labels_to_reach(al, target), labels_to_reach(uniform, target)
        n_idg = labels_to_reach(idg, target)
        n_uni_idg = labels_to_reach(uniform_idg, target)
        ratio = n_uni / n_al if n_al and n_uni else None
        rows.append([target, fmt(n_al, "d"), fmt(n_uni, "d"), fmt(ratio, ".2f", "–"),
                     fmt(n_idg, "d"), fmt(n_uni_idg, "d")])
    text = "\n\n".join([
        f"label efficiency: {setting['system']} at {args.temperature_K:.0f} K, "
        f"GFN2-xTB labels, test set {test_path.relative_to(ROOT)} ({len(test)} frames), "
        f"pax al.max_train_set_size={budget}; machine: {machine()}; total {time.time() - t0:.0f} s",
        "Labels to reach the target (uniform trained with the epochs the other had "
        "at the same labels):",
        table(["test F-MAE target (eV/Å)", "pax AL", "uniform (AL's epochs)",
               "uniform / AL (goal >= 2)", "IDG alone", "uniform (IDG's epochs)"],
              rows),
        f"Final models on the {t_k} K test set and on {hot_t:.0f} K frames "
        f"({hot_path.relative_to(ROOT)}, hotter than any training data):",
        table(["method", "labels", "epochs", f"test F-MAE {t_k} K",
               f"test F-MAE {hot_t:.0f} K"], final_rows),
        "(a) pax IDG + AL against (b) uniform, at pax's test points:",
        curve_table(al, uniform, "pax"),
        "(c) IDG alone against (b) uniform, at IDG's test points:",
        curve_table(idg, uniform_idg, "IDG"),
    ])
    print(text)
    out = ROOT / args.out
    (out / "result.md").write_text(text + "\n")
    (out / "result.json").write_text(json.dumps(
        {"al": al, "uniform": uniform, "idg": idg, "uniform_idg": uniform_idg, "thresholds": thresholds,
         "al_wall_s": al_wall, "idg_wall_s": idg_wall}, indent=1, default=str))


if __name__ == "__main__":
    main()
