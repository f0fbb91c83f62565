"""ReferencePool and sweeps on a real single-node Slurm (scripts/slurm/start.sh).

In CI (the CI variable is set) these tests must run: no Slurm there is a
failure. Elsewhere they skip and say why.
"""

import logging
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from pax.cluster import ReferencePool
from pax.cluster.config import SlurmClusterConfig
from pax.cluster.ledger import read_records
from pax.cluster.parsl_config import run_label
from pax.cluster.slurm import cancel_jobs_of_run, jobs_of_run
from pax.errors import ConfigError, PaxError
from tests.integration.test_cluster_local import ROOT, geometries, reference, wait_for

pytestmark = pytest.mark.slurm
PARTITION = os.environ.get("PAX_SLURM_PARTITION", "debug")


def _why_no_slurm() -> str | None:
    if shutil.which("sbatch") is None:
        return (
            "no sbatch on PATH: run scripts/slurm/start.sh as root to get a local Slurm"
        )
    try:
        ping = subprocess.run(
            ["scontrol", "ping"], capture_output=True, text=True, timeout=15
        )
        state = subprocess.run(
            ["sinfo", "-h", "-p", PARTITION, "-o", "%T"],
            capture_output=True,
            text=True,
            timeout=15,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"Slurm does not answer: {exc}"
    if "is UP" not in ping.stdout:
        return f"slurmctld is not up ({ping.stdout.strip() or ping.stderr.strip()})"
    states = set(state.stdout.split())
    if not states & {"idle", "mixed", "allocated", "completing"}:
        return (
            f"partition {PARTITION!r} has no usable node (states: {states or 'none'})"
        )
    return None


@pytest.fixture(scope="module")
def slurm():
    """Skip (or, in CI, fail) when no Slurm runs here."""
    reason = _why_no_slurm()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Slurm tests, but: {reason}")
        pytest.skip(reason)


@pytest.fixture
def run_dir(tmp_path: Path, slurm):
    """A run directory; teardown cancels any job of its run that is left."""
    yield tmp_path
    left = cancel_jobs_of_run(run_label(tmp_path))
    assert not left, f"jobs left behind by the test: {left}"


def slurm_cfg(**overrides) -> SlurmClusterConfig:
    """One block of two 1-core workers on the local node; short polls and heartbeats."""
    settings = {
        "partition": PARTITION,
        "walltime": "00:10:00",
        "workers_per_node": 2,
        "cores_per_worker": 1,
        "exclusive": False,
        "address": "127.0.0.1",
        "heartbeat_period_s": 1,
        "heartbeat_threshold_s": 4,
        "poll_interval_s": 1,
        "strategy_period_s": 1.0,
        "max_idletime_s": 60.0,
        "retries": 2,
    }
    return SlurmClusterConfig(**{**settings, **overrides})


def wait_until_no_jobs(label: str, timeout_s: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while (left := jobs_of_run(label)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def test_labels_run_inside_a_slurm_block_and_close_leaves_no_job(run_dir: Path):
    dft_cfg = reference()
    label = run_label(run_dir)
    seen_jobs = set()
    with ReferencePool(slurm_cfg(), dft_cfg, run_dir) as pool:
        t0 = time.monotonic()
        pool.submit(geometries(1, seed=5)[0], {"i": -1})
        first = []
        while not first and time.monotonic() - t0 < 90:
            first = pool.completed()
            seen_jobs.update(jobs_of_run(label)) if not first else None
            time.sleep(0.05)
        first_s = time.monotonic() - t0
        assert first, "no result within 90 s"
        seen_jobs.update(jobs_of_run(label))
        frames = geometries(40, seed=6)
        t1 = time.monotonic()
        for i, atoms in enumerate(frames):
            pool.submit(atoms, {"i": i})
        got = pool.drain(90)
        rate = len(frames) / (time.monotonic() - t1)
        utilisation, workers = pool.utilisation(), pool.connected_workers
    print(
        f"\n[slurm] {dft_cfg.kind}: first result {first_s:.2f} s after submit (block start "
        f"included); {len(frames)} short tasks at {rate:.0f}/s; utilisation {utilisation:.2f} "
        f"with {workers} workers"
    )
    results = [c.result for c in first + got]
    assert len(results) == 41 and all(r.ok for r in results)
    job_ids = {r.info["slurm_job_id"] for r in results}
    assert None not in job_ids and job_ids <= seen_jobs, (job_ids, seen_jobs)
    records = read_records(run_dir / "ledger.jsonl")
    assert {
        r["result"]["info"]["slurm_job_id"] for r in records if r["event"] == "done"
    } == job_ids
    assert not wait_until_no_jobs(label), (
        "squeue still lists a block after the pool closed"
    )


@pytest.mark.slow
def test_scancel_of_the_block_mid_task_retries_on_a_new_block(run_dir: Path):
    label = run_label(run_dir)
    frames = geometries(4, seed=7)
    with ReferencePool(slurm_cfg(), reference(delay_s=4.0), run_dir) as pool:
        tickets = [pool.submit(a, {"i": i}) for i, a in enumerate(frames)]
        wait_for(
            lambda: pool.connected_workers >= 2,
            60,
            "two workers connected in a Slurm block",
        )
        (block,) = jobs_of_run(label)
        time.sleep(1.5)  # both workers are inside a 4 s task now
        assert pool.completed() == []
        subprocess.run(["scancel", block], check=True, timeout=30)
        t_cancel = time.monotonic()
        got = pool.drain(120)
        recovered_s = time.monotonic() - t_cancel
    print(
        f"\n[slurm] block {block} cancelled: all tasks done {recovered_s:.1f} s later"
    )
    assert sorted(c.ticket for c in got) == sorted(tickets)
    assert all(c.result.ok for c in got), [c.result.reason for c in got]
    new_blocks = {c.result.info["slurm_job_id"] for c in got}
    assert block not in new_blocks and None not in new_blocks
    done = Counter(
        r["ticket"]
        for r in read_records(run_dir / "ledger.jsonl")
        if r["event"] == "done"
    )
    assert done == dict.fromkeys(tickets, 1)
    assert not wait_until_no_jobs(label)


def test_ctrl_c_inside_the_pool_cancels_the_block_and_keeps_work_for_restart(
    run_dir: Path,
):
    label = run_label(run_dir)
    pool = ReferencePool(slurm_cfg(), reference(delay_s=30.0), run_dir)
    with pytest.raises(KeyboardInterrupt), pool:
        tickets = [
            pool.submit(a, {"i": i}) for i, a in enumerate(geometries(2, seed=8))
        ]
        wait_for(lambda: pool.connected_workers >= 2, 60, "workers in a Slurm block")
        assert jobs_of_run(label)
        raise KeyboardInterrupt
    assert not wait_until_no_jobs(label), "the block outlived Ctrl-C"
    events = [(r["event"], r["ticket"]) for r in read_records(run_dir / "ledger.jsonl")]
    assert events == [("submitted", t) for t in tickets]  # nothing marked failed


def test_invalid_partition_names_cluster_partition(run_dir: Path):
    pool = ReferencePool(slurm_cfg(partition="no-such-partition"), reference(), run_dir)
    with pytest.raises(ConfigError) as info:
        with pool:
            pass
    assert info.value.key == "cluster.partition"
    assert "no-such-partition" in str(info.value) and PARTITION in str(info.value)
    assert jobs_of_run(run_label(run_dir)) == []


def test_blocks_slurm_refuses_give_a_clear_error(run_dir: Path):
    cfg = slurm_cfg(mem_per_node_GB=10**7)  # sbatch: memory cannot be satisfied
    with ReferencePool(cfg, reference(), run_dir) as pool:
        pool.submit(geometries(1)[0], {"i": 0})
        with pytest.raises(PaxError, match="cluster.mem_per_node_GB"):
            pool.drain(60)
            pytest.fail("drain returned without the error")
    records = read_records(run_dir / "ledger.jsonl")
    assert [r["event"] for r in records] == [
        "submitted"
    ]  # rerun once the config is fixed


def test_blocks_whose_worker_init_fails_stop_with_a_clear_error(run_dir: Path):
    cfg = slurm_cfg(worker_init="echo 'module: command not found' >&2; exit 3")
    with ReferencePool(cfg, reference(), run_dir) as pool:
        pool.submit(geometries(1)[0], {"i": 0})
        with pytest.raises(PaxError) as info:
            pool.drain(90)
            pytest.fail("drain returned without the error")
    assert "worker_init" in str(info.value), str(info.value)
    records = read_records(run_dir / "ledger.jsonl")
    assert [r["event"] for r in records] == ["submitted"]  # rerun after the fix


def test_block_that_never_starts_is_reported_with_its_reason(run_dir: Path, caplog):
    cfg = slurm_cfg(scheduler_options=["#SBATCH --hold"], no_worker_warning_s=3)
    with caplog.at_level(logging.WARNING, logger="pax.cluster.pool"):
        with ReferencePool(cfg, reference(), run_dir) as pool:
            pool.submit(geometries(1)[0], {"i": 0})
            deadline = time.monotonic() + 60
            while "JobHeldUser" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.5)
            assert pool.completed() == []
    assert "1 reference label(s) waited" in caplog.text
    assert re.search(r"Slurm jobs of this run: \d+ PD \(JobHeldUser\)", caplog.text), (
        caplog.text
    )


def test_sweep_on_slurm_with_the_submitit_preset(tmp_path: Path, slurm):
    sweep = tmp_path / "sweep"
    cmd = [
        str(Path(sys.executable).parent / "pax"),
        "-m",
        "hydra/launcher=pax_slurm",
        f"hydra.launcher.partition={PARTITION}",
        "hydra.launcher.timeout_min=5",
        "hydra.launcher.cpus_per_task=1",
        f"hydra.sweep.dir={sweep}",
        "run.dry=true",
        "system=copper",
        "dft=emt",
        "md.temperature_K=300,600",
    ]
    try:
        out = subprocess.run(
            cmd,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=240,
            env={**os.environ},
        )
    finally:
        for job_dir in (sweep / ".submitit").glob("*_*/"):
            subprocess.run(
                ["scancel", job_dir.name.split("_")[0]], check=False, timeout=30
            )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    plans = sorted(sweep.glob("*/plan.txt"))
    assert [p.parent.name for p in plans] == [
        "dft=emt,md.temperature_K=300,system=copper",
        "dft=emt,md.temperature_K=600,system=copper",
    ]
    logs = sorted((sweep / ".submitit").glob("*/*_log.out"))
    assert len(logs) == 2  # each job of the sweep ran as a Slurm array task
    script = next((sweep / ".submitit").glob("*.sh")).read_text()
    assert f"#SBATCH --partition={PARTITION}" in script
