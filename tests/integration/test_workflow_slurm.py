"""The whole workflow with its labels computed in Slurm blocks (real single-node Slurm)."""

import json
import os
import signal
import time

import pytest

from pax.cluster.parsl_config import run_label
from pax.cluster.slurm import cancel_jobs_of_run, jobs_of_run
from tests.integration.test_slurm import PARTITION, slurm  # noqa: F401 (fixture)
from tests.integration.workflow_helpers import events, n_labels, run_pax, start_pax

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.timeout(900)]

SLURM = [
    "cluster=slurm",
    f"cluster.partition={PARTITION}",
    "cluster.walltime=00:15:00",
    "cluster.workers_per_node=1",
    "cluster.exclusive=false",
    "cluster.address=127.0.0.1",
    "cluster.heartbeat_period_s=1",
    "cluster.heartbeat_threshold_s=4",
    "cluster.poll_interval_s=1",
]


def test_run_with_slurm_blocks_finishes_and_leaves_no_job(tmp_path, slurm):  # noqa: F811
    run_dir = tmp_path / "run"
    try:
        proc = run_pax(run_dir, *SLURM)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert not jobs_of_run(run_label(run_dir)), "a Slurm job outlived the run"
    finally:
        cancel_jobs_of_run(run_label(run_dir))
    job_ids = set()
    for line in (run_dir / "ledger.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec.get("event") == "done":
            job_ids.add(rec["result"]["info"].get("slurm_job_id"))
    assert job_ids and None not in job_ids, "a label was computed outside Slurm"
    phases = {(e["phase"], e["event"]) for e in events(run_dir, "phase")}
    assert ("al", "end") in phases
    assert (run_dir / "results" / "summary.json").exists()


def test_a_killed_main_process_leaves_no_slurm_job(tmp_path, slurm):  # noqa: F811
    """After a SIGKILL of pax alone its interchange exits, the block misses its
    heartbeats and the Slurm job ends long before its walltime."""
    run_dir = tmp_path / "run"
    proc = start_pax(run_dir, *SLURM)
    label = run_label(run_dir)
    try:
        deadline = time.monotonic() + 300
        while n_labels(run_dir) < 2:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        assert jobs_of_run(label)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 60  # heartbeat_threshold_s is 4
        while jobs_of_run(label) and time.monotonic() < deadline:
            time.sleep(1)
        assert not jobs_of_run(label), "the Slurm job outlived the killed run"
    finally:
        cancel_jobs_of_run(label)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
