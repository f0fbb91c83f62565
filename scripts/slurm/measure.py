#!/usr/bin/env python3
"""Measure the ReferencePool: time to the first result, short-task throughput, utilisation.

    .venv/bin/python scripts/slurm/measure.py [--slurm] [--tasks 300]

Runs three batches through a ReferencePool with 2 workers (local processes, or
one block of the local Slurm with --slurm; start it with scripts/slurm/start.sh):
  1. one EMT label right after the pool opens: seconds from submit to result
     (local: worker start; Slurm: sbatch, block start, worker start);
  2. --tasks instant EMT labels: tasks per second through Parsl and the ledger;
  3. 20 EMT labels of 0.5 s each: pool utilisation (busy over available
     worker-seconds, measured from the batch's submit).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from ase.build import molecule

from pax.cluster import ReferencePool
from pax.cluster.config import LocalClusterConfig, SlurmClusterConfig
from pax.dft.emt import EMTConfig


def frames(n, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        atoms = molecule("H2O")
        atoms.positions += rng.normal(0.0, 0.03, atoms.positions.shape)
        out.append(atoms)
    return out


def cluster(slurm: bool):
    if not slurm:
        return LocalClusterConfig(max_workers=2, cores_per_worker=1)
    return SlurmClusterConfig(
        partition="debug",
        walltime="00:15:00",
        workers_per_node=2,
        exclusive=False,
        address="127.0.0.1",
        heartbeat_period_s=1,
        heartbeat_threshold_s=4,
        poll_interval_s=1,
        strategy_period_s=1.0,
    )


def batch(cfg, dft_cfg, n, seed):
    """(seconds to the first result, seconds for all, utilisation) of one fresh pool."""
    with ReferencePool(
        cfg, dft_cfg, Path(tempfile.mkdtemp(prefix="pax_measure_"))
    ) as pool:
        t0 = time.monotonic()
        for i, atoms in enumerate(frames(n, seed)):
            pool.submit(atoms, {"i": i})
        first, got = None, 0
        while got < n and time.monotonic() - t0 < 300:
            new = pool.completed()
            if new and first is None:
                first = time.monotonic() - t0
            got += len(new)
            time.sleep(0.002)
        return first, time.monotonic() - t0, pool.utilisation()


def warm_batch(cfg, dft_cfg, n, seed):
    """Throughput and utilisation once the workers run (first result discarded)."""
    root = Path(tempfile.mkdtemp(prefix="pax_measure_"))
    with ReferencePool(cfg, dft_cfg, root) as pool:
        pool.submit(frames(1, seed + 100)[0], {"warm": True})
        pool.drain(120)
        busy0, t0 = pool.busy_s, time.monotonic()
        for i, atoms in enumerate(frames(n, seed)):
            pool.submit(atoms, {"i": i})
        done = len(pool.drain(300))
        elapsed = time.monotonic() - t0
        busy = pool.busy_s - busy0
        return done, elapsed, busy / (pool.workers * elapsed)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--slurm", action="store_true", help="one block of the local Slurm")
    ap.add_argument("--tasks", type=int, default=300)
    args = ap.parse_args()
    cfg = cluster(args.slurm)
    where = "slurm" if args.slurm else "local"

    first, _, _ = batch(cfg, EMTConfig(charge=0, multiplicity=1), 1, 0)
    print(
        f"[{where}] submit -> first result: {first:.2f} s (pool just opened)",
        flush=True,
    )

    done, elapsed, _ = warm_batch(
        cfg, EMTConfig(charge=0, multiplicity=1), args.tasks, 1
    )
    print(
        f"[{where}] {done} instant tasks in {elapsed:.2f} s = {done / elapsed:.0f} tasks/s"
    )

    slow = EMTConfig(delay_s=0.5, charge=0, multiplicity=1)
    done, elapsed, util = warm_batch(cfg, slow, 20, 2)
    print(
        f"[{where}] 20 tasks of 0.5 s on 2 workers: {elapsed:.2f} s "
        f"(ideal 5.0 s), utilisation {util:.2f}"
    )
    first, elapsed, util = batch(cfg, slow, 20, 3)
    print(
        f"[{where}] same from a cold pool: first result {first:.2f} s, all {elapsed:.2f} s, "
        f"pool.utilisation() {util:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
