"""The function Parsl runs on a worker: one reference label plus where and when."""

from __future__ import annotations

import os
import socket
import time
import traceback

from ase import Atoms

from pax.dft.labelled import Labelled


def label_on_worker(
    atoms: Atoms, dft_cfg, workdir: str, walltime: float | None = None
) -> Labelled:
    """Label one geometry; record host, Slurm job and busy time in `info`.

    A method that raises (a bug, not a failed SCF) gives a failed label, so
    Parsl retries only what the infrastructure lost (a killed block).

    Args:
        atoms: the geometry.
        dft_cfg: the `dft` group.
        workdir: the run directory, where methods that write files put them.
        walltime: Parsl's limit for this task (s), enforced by Parsl's wrapper
            around this function; past it the label fails with AppTimeout.

    Returns:
        The Labelled result; info has host, pid, slurm_job_id, omp_threads,
        worker_start and worker_end (Unix time, s).
    """
    from pax.dft import label

    start = time.time()
    try:
        result = label(atoms, dft_cfg, workdir)
    except Exception as exc:  # noqa: BLE001 - a crash of the method becomes a failed label
        result = Labelled.failed(
            f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(limit=5)
        )
    result.wall_s = result.wall_s or time.time() - start
    result.info.update(
        host=socket.gethostname(),
        pid=os.getpid(),
        slurm_job_id=os.environ.get("SLURM_JOB_ID"),
        omp_threads=os.environ.get("OMP_NUM_THREADS"),
        worker_start=start,
        worker_end=time.time(),
    )
    return result
