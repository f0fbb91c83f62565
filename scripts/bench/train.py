"""Training throughput: pax's loop against mace-torch's `mace_run_train`, side by side.

Same data (xTB-labelled aspirin from GFN2 Langevin MD at 500 K), same model
(mace_small: ScaleShiftMACE, 32 channels, max_L 1, r_max 5 Å, radial MLP
[16, 16, 16], 2 interactions, correlation 3), same batch sizes, optimizer, EMA,
clipping, dtype, device and thread count. Both validate every epoch.

The epoch time is the median wall time between consecutive validations, after
the first epoch (warm-up, graph building), best over alternating rounds (the
machine may be shared; medians are printed too); mace_run_train's is read from its
log timestamps, so its start-up and final evaluation are not counted.

    python scripts/bench/train.py                          # ~5-8 min on 2 cores
    python scripts/bench/train.py --n-train 50 --rounds 1  # a quick look (~1 min)
    python scripts/bench/train.py --device cuda           # on a GPU
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-train", type=int, default=200, help="training structures")
    p.add_argument("--n-valid", type=int, default=20, help="validation structures")
    p.add_argument(
        "--epochs", type=int, default=4, help="epochs per contender and round"
    )
    p.add_argument(
        "--rounds", type=int, default=2, help="alternating rounds (pax, mace)"
    )
    p.add_argument(
        "--threads", type=int, default=2, help="torch/OMP threads of each run"
    )
    p.add_argument("--batch-size", type=int, default=5)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--work", type=Path, default=Path("outputs/bench_train"))
    return p.parse_args()


def aspirin_frames(n: int, path: Path, stride: int = 5):
    """n GFN2-labelled aspirin frames, cached at `path` (extxyz, REF_ keys)."""
    import ase.io

    if path.exists() and len(frames := ase.io.read(path, ":")) >= n:
        return frames[:n]
    import numpy as np
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from tblite.ase import TBLite

    atoms = ase.io.read(ROOT / "data/systems/aspirin.xyz")
    atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
    rng = np.random.default_rng(0)
    MaxwellBoltzmannDistribution(atoms, temperature_K=500, rng=rng)
    dyn = Langevin(
        atoms, 0.5 * units.fs, temperature_K=500, friction=0.02, rng=rng, fixcm=False
    )
    dyn.run(200)  # leave the minimum
    frames = []
    for _ in range(n):
        dyn.run(stride)
        frame = atoms.copy()
        frame.info = {"REF_energy": float(atoms.get_potential_energy())}
        frame.arrays["REF_forces"] = atoms.get_forces().copy()
        frames.append(frame)
    path.parent.mkdir(parents=True, exist_ok=True)
    ase.io.write(path, frames, format="extxyz")
    return frames


def bench_pax(cfg, train, valid, epochs: int) -> list[float]:
    """Wall seconds of each epoch (train + validation) of member 0 of a pax Ensemble."""
    from pax.mlff.ensemble import Ensemble

    ens = Ensemble.build(cfg, train, e0s=None)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        ens.train(train, valid, epochs=1, members=[0])
        times.append(time.perf_counter() - t0)
    return times


def mace_run_train() -> str:
    """mace-torch's training script of this Python's environment (no activated venv
    needed), or the one on PATH."""
    import shutil

    here = Path(sys.executable).parent / "mace_run_train"
    return (
        str(here)
        if here.exists()
        else shutil.which("mace_run_train") or "mace_run_train"
    )


def bench_mace(cfg, work: Path, epochs: int, threads: int) -> list[float]:
    """Wall seconds between consecutive validations in mace_run_train's log."""
    log_dir = work / "mace_logs"
    for f in log_dir.glob("*.log"):
        f.unlink()
    cmd = [
        mace_run_train(),
        "--name",
        "bench",
        "--seed",
        str(cfg.seed),
        "--train_file",
        str(work / "train.extxyz"),
        "--valid_file",
        str(work / "valid.extxyz"),
        "--energy_key",
        "REF_energy",
        "--forces_key",
        "REF_forces",
        "--E0s",
        "average",
        "--model",
        "ScaleShiftMACE",
        "--num_channels",
        str(cfg.num_channels),
        "--max_L",
        str(cfg.max_L),
        "--r_max",
        str(cfg.r_max),
        "--num_interactions",
        str(cfg.num_interactions),
        "--correlation",
        str(cfg.correlation),
        "--max_ell",
        str(cfg.max_ell),
        "--radial_MLP",
        str(list(cfg.radial_MLP)),
        "--num_radial_basis",
        str(cfg.num_radial_basis),
        "--num_cutoff_basis",
        str(cfg.num_cutoff_basis),
        "--MLP_irreps",
        cfg.MLP_irreps,
        "--batch_size",
        str(cfg.batch_size),
        "--valid_batch_size",
        str(cfg.valid_batch_size),
        "--lr",
        str(cfg.lr),
        "--weight_decay",
        str(cfg.weight_decay),
        "--amsgrad",
        "--scheduler",
        "ReduceLROnPlateau",
        "--lr_factor",
        str(cfg.lr_factor),
        "--scheduler_patience",
        str(cfg.scheduler_patience),
        "--ema",
        "--ema_decay",
        str(cfg.ema_decay),
        "--clip_grad",
        str(cfg.clip_grad),
        "--loss",
        "weighted",
        "--energy_weight",
        str(cfg.energy_weight),
        "--forces_weight",
        str(cfg.forces_weight),
        "--error_table",
        "PerAtomMAE",
        "--max_num_epochs",
        str(epochs),
        "--eval_interval",
        "1",
        "--patience",
        "1000",
        "--default_dtype",
        cfg.default_dtype.value,
        "--device",
        cfg.device.value,
        "--work_dir",
        str(work / "mace"),
        "--log_dir",
        str(log_dir),
        "--model_dir",
        str(work / "mace"),
        "--checkpoints_dir",
        str(work / "mace" / "ckpt"),
        "--results_dir",
        str(work / "mace" / "results"),
    ]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    subprocess.run(
        cmd,
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        timeout=1800,
    )
    (log,) = [f for f in log_dir.glob("*.log") if not f.name.endswith("_debug.log")]
    stamps = []
    for line in log.read_text().splitlines():
        m = re.match(r"(\S+ \S+) INFO: (Initial|Epoch \d+): head", line)
        if m:
            stamps.append(datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f"))
    return [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:])]


def main() -> None:
    args = parse_args()
    from common import require_device

    require_device(args.device)
    import ase.io
    import torch

    torch.set_num_threads(args.threads)
    from pax.mlff.config import MLFFConfig

    work = args.work.resolve()
    frames = aspirin_frames(args.n_train + args.n_valid, work / "aspirin_xtb.extxyz")
    train, valid = frames[: args.n_train], frames[args.n_train :]
    ase.io.write(work / "train.extxyz", train, format="extxyz")
    ase.io.write(work / "valid.extxyz", valid, format="extxyz")
    cfg = MLFFConfig(
        batch_size=args.batch_size, default_dtype=args.dtype, device=args.device
    )

    stock = dataclasses.replace(cfg, element_contraction=False)
    times = {"pax": [], "pax, stock product": [], "mace_run_train": []}
    for _ in range(args.rounds):  # alternate, so load from other users hits all
        times["pax"].append(bench_pax(cfg, train, valid, args.epochs))
        times["pax, stock product"].append(bench_pax(stock, train, valid, args.epochs))
        times["mace_run_train"].append(bench_mace(cfg, work, args.epochs, args.threads))
    # Drop each run's first epoch (warm-up); the fastest epoch is the cost with
    # the least interference from other processes, the median the typical one.
    warm = {k: [t for run in v for t in run[1:]] for k, v in times.items()}
    best = {k: min(v) for k, v in warm.items()}
    median = {k: statistics.median(v) for k, v in warm.items()}
    result = {
        "n_train": args.n_train,
        "n_valid": args.n_valid,
        "epochs": args.epochs,
        "threads": args.threads,
        "dtype": args.dtype,
        "device": args.device,
        "batch_size": args.batch_size,
        "epoch_s": times,
        "best_epoch_s": best,
        "median_epoch_s": median,
        "ratio_pax_over_mace": best["mace_run_train"] / best["pax"],
        "ratio_of_medians": median["mace_run_train"] / median["pax"],
    }
    (work / "bench_train.json").write_text(json.dumps(result, indent=2))
    print(
        f"mace_small, {args.n_train} aspirin train / {args.n_valid} valid, batch "
        f"{args.batch_size}, {args.dtype}, {args.device}, {args.threads} threads"
    )
    print(
        "| contender | best s/epoch | structures/s | median s/epoch | "
        "throughput / mace_run_train (best, median) |"
    )
    print("|---|---|---|---|---|")
    for k in times:
        print(
            f"| {k} | {best[k]:.2f} | {args.n_train / best[k]:.1f} | {median[k]:.2f} | "
            f"{best['mace_run_train'] / best[k]:.2f}, "
            f"{median['mace_run_train'] / median[k]:.2f} |"
        )


if __name__ == "__main__":
    main()
