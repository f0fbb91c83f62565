"""Member training side by side: one thread (aims-PAX), all threads, members at once.

Trains the same committee for the same epochs on the same frames three ways, in
one process, one after the other, and reports seconds per epoch and the ratios:

  * serial, 1 torch thread: what aims-PAX does;
  * serial, all torch threads: pax with mlff.parallel_members=1;
  * members at once (pax.mlff.parallel, mlff.parallel_members=0).

Members at once give each member one torch thread when there are at least
as many members as threads, and then end with the weights of the 1-thread way
(asserted); serial with more threads differs at float32 rounding only. Frames: the default experiment's 500 K aspirin test set (GFN2-xTB).

    python scripts/bench/members.py            # mace_small, 4 members, 40 frames
    python scripts/bench/members.py --quick    # 20 frames, 2 epochs
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from ase.io import read
from common import ROOT, ensure_frames, machine, table

from pax.config import compose
from pax.mlff.ensemble import Ensemble


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="20 frames, 2 epochs")
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3, help="rounds of the three ways")
    p.add_argument("--out", type=Path, default=Path("outputs/bench/members"))
    p.add_argument("overrides", nargs="*", help="pax overrides (mlff.* keys)")
    return p.parse_args()


def timed_training(frames, overrides, parallel, threads, epochs) -> tuple[float, list]:
    """Seconds per epoch and final weights of a fresh committee."""
    cfg = compose(
        ["system=aspirin", f"mlff.parallel_members={parallel}", *overrides]
    ).mlff
    ens = Ensemble.build(cfg, frames, e0s=None, device="cpu")
    torch.set_num_threads(threads)
    ens.train(frames, [], epochs=1)  # warm-up: graphs, allocator
    start = time.perf_counter()
    ens.train(frames, [], epochs=epochs)
    seconds = (time.perf_counter() - start) / epochs
    weights = [torch.cat([p.flatten() for p in m.parameters()]) for m in ens.models]
    return seconds, weights


def main() -> None:
    args = parse_args()
    n_frames, epochs = (20, 2) if args.quick else (args.frames, args.epochs)
    test_set = ensure_frames(
        Path("outputs/testsets/aspirin_500K.extxyz"),
        Path("data/systems/aspirin.xyz"),
        500.0,
        200,
        50,
        seed=1234,
    )
    frames = read(test_set, f":{n_frames}")
    cores = torch.get_num_threads()
    ways = {
        "serial, 1 thread (aims-PAX)": (1, 1),
        f"serial, {cores} threads": (1, cores),
        f"members at once, {cores} threads": (0, cores),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.repeats):
        weights = {}
        for name, (parallel, threads) in ways.items():
            seconds, weights[parallel, threads] = timed_training(
                frames, args.overrides, parallel, threads, epochs
            )
            times[name].append(seconds)
        k = len(weights[1, 1])
        if cores // min(k, cores) == 1:
            for a, b in zip(weights[1, 1], weights[0, cores]):
                torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    base = min(times[next(iter(ways))])
    rows = [
        [name, f"{min(t):.2f}", f"{max(t):.2f}", f"{base / min(t):.2f}"]
        for name, t in times.items()
    ]
    text = "\n\n".join(
        [
            f"member training, {n_frames} aspirin frames, {epochs} epochs x "
            f"{args.repeats} rounds, overrides {args.overrides or 'none'} "
            f"(mace_small, 4 members by default); machine: {machine()}",
            table(
                ["way", "s/epoch (best)", "s/epoch (worst)", "speed-up over 1 thread"],
                rows,
            ),
        ]
    )
    print(text)
    out = ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.md").write_text(text + "\n")
    (out / "result.json").write_text(json.dumps(times, indent=1))


if __name__ == "__main__":
    main()
