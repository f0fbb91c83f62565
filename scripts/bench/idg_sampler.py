"""IDG sampler frames per second: N trajectories batched against one after the other.

The same MACE model file (mace_small's architecture, random weights: speed does
not depend on them) drives al.idg.trajectories_per_system=N trajectories of
aspirin two ways, in one process, one after the other:

  * ASE: pax's Sampler, ase.md Langevin on MACECalculator, one trajectory at a
    time (what aims-PAX's IDG does with a foundation model);
  * batched: pax's BatchedSampler (make_sampler's choice for a MACE file), all
    N trajectories in one graph batch per step.

Each way hands out --frames frames per trajectory --skip steps apart (after one
warm-up frame each); the table gives frames per second and the ratio.

    python scripts/bench/idg_sampler.py                 # N = 1, 8; 2 threads
    python scripts/bench/idg_sampler.py --ns 1 8 32 --device cuda
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from ase.io import read
from common import ROOT, machine, require_device, table
from md import mace_small

from pax.al.sampler import BatchedSampler, Sampler
from pax.config import compose


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ns", type=int, nargs="+", default=[1, 8])
    p.add_argument("--frames", type=int, default=3, help="timed frames per trajectory")
    p.add_argument("--skip", type=int, default=10, help="MD steps between frames")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=Path("outputs/bench/idg_sampler"))
    return p.parse_args()


def rate(sampler, n: int, frames: int) -> float:
    """Frames per second of a sampler, after one warm-up frame per trajectory."""
    for _ in range(n):
        sampler.next_frame()
    start = time.perf_counter()
    for _ in range(n * frames):
        sampler.next_frame()
    return n * frames / (time.perf_counter() - start)


def main() -> None:
    args = parse_args()
    require_device(args.device)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    model = args.out / "mace_small_random.model"
    torch.save(mace_small(0, torch.float64, "cpu"), model)
    aspirin = read(ROOT / "data" / "systems" / "aspirin.xyz")
    rows = []
    for n in args.ns:
        cfg = compose(
            [
                "al.idg.sampler=foundation",
                f"al.idg.foundation_model={model}",
                f"al.idg.trajectories_per_system={n}",
                "al.idg.equilibration_fs=0",
                "al.idg.sample_interval_fs=0",
                f"al.idg.skip_step_initial={args.skip}",
                "md.temperature_K=300",
                f"mlff.device={args.device}",
            ]
        )
        ase = rate(Sampler(cfg, [aspirin], args.out), n, args.frames)
        ours = rate(BatchedSampler(cfg, [aspirin], args.out), n, args.frames)
        rows.append({"N": n, "ase_frames_per_s": ase, "batched_frames_per_s": ours})
        print(f"N={n}: ASE {ase:.2f} frames/s, batched {ours:.2f} ({ours / ase:.1f}x)")
    result = {"machine": machine(), "args": {**vars(args), "out": str(args.out)}}
    result["rows"] = rows
    (args.out / "result.json").write_text(json.dumps(result, indent=1))
    lines = [
        f"IDG sampler, aspirin, mace_small architecture (float64), {args.skip} steps "
        f"between frames, {args.threads} torch threads, {args.device}; "
        f"{result['machine']}",
        "",
        table(
            [
                "N trajectories",
                "ASE one after the other (frames/s)",
                "batched",
                "ratio",
            ],
            [
                [
                    r["N"],
                    f"{r['ase_frames_per_s']:.2f}",
                    f"{r['batched_frames_per_s']:.2f}",
                    f"{r['batched_frames_per_s'] / r['ase_frames_per_s']:.1f}x",
                ]
                for r in rows
            ],
        ),
    ]
    (args.out / "result.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
