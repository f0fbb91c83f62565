"""Reliability: reference faults, a lost worker and a W&B key, through whole runs.

Every run uses the tiny water settings of workflow_helpers with EMT as the
reference, whose test-only fault injection (dft.fault_rate, dft.fault_kinds)
fails calculations on purpose. The table of what was tried is docs/reliability.md.
"""

import json
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from pax.cluster.ledger import read_records
from tests.conftest import ROOT
from tests.integration.test_restart import dataset_frames
from tests.integration.workflow_helpers import events, pax_command

pytestmark = pytest.mark.timeout(600)

EMT = ["dft=emt"]
FAULTS = [*EMT, "dft.fault_rate=0.25", "dft.timeout_s=3"]
"""Every 4th calculation of a worker fails: scf, crash, hang, scf, ..."""


def start_pax(run_dir: Path, *overrides: str, env: dict | None = None):
    """Start pax in its own session; stdout and stderr go to files in run_dir's parent."""
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    out = open(run_dir.parent / f"{run_dir.name}.out", "w")  # noqa: SIM115 - closed by finish_pax
    err = open(run_dir.parent / f"{run_dir.name}.err", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        pax_command(run_dir, *overrides),
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        stdout=out,
        stderr=err,
        start_new_session=True,
    )
    proc.files = (out, err)
    return proc


def finish_pax(proc, timeout_s: float = 300) -> tuple[int, str, str]:
    """Wait for pax (killing its session past timeout_s); return rc, stdout, stderr."""
    try:
        proc.wait(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        for fh in proc.files:
            fh.close()
    out, err = (Path(fh.name).read_text() for fh in proc.files)
    return proc.returncode, out, err


def ledger(run_dir: Path) -> list[dict]:
    return read_records(run_dir / "ledger.jsonl")


def final_results(run_dir: Path) -> dict[str, dict]:
    """ticket -> result of every done/failed record of the ledger."""
    return {
        r["ticket"]: {**r["result"], "event": r["event"]}
        for r in ledger(run_dir)
        if r["event"] in ("done", "failed")
    }


def assert_labels_exactly_once(run_dir: Path) -> list[str]:
    """Every ok label of the ledger is in the datasets once; no failed one is."""
    frames = dataset_frames(run_dir)
    ids = [f.info["label_id"] for f in frames]
    hashes = [f.info["geometry_hash"] for f in frames]
    assert len(ids) == len(set(ids)), "a label is stored twice"
    assert len(hashes) == len(set(hashes)), "a geometry is stored twice"
    results = final_results(run_dir)
    ok = {t for t, r in results.items() if r["event"] == "done"}
    assert set(ids) == ok, (
        f"lost {sorted(ok - set(ids))}, extra {sorted(set(ids) - ok)}"
    )
    return ids


# ---------------------------------------------------------------- reference faults
SECRET = "pax-test-" + secrets.token_hex(20)


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory):
    """A whole run where every 4th reference call fails; a W&B key in the environment."""
    run_dir = tmp_path_factory.mktemp("faults") / "run"
    started = time.monotonic()
    rc, out, err = finish_pax(
        start_pax(run_dir, *FAULTS, env={"WANDB_API_KEY": SECRET}), timeout_s=300
    )
    assert rc == 0, err[-3000:]
    print(f"faulty run: {time.monotonic() - started:.1f} s")
    return run_dir, out, err


def test_faulty_run_completes_with_every_fault_kind(faulty_run):
    run_dir, out, _ = faulty_run
    assert "pax: finished" in out
    failed = [r for r in final_results(run_dir).values() if r["event"] == "failed"]
    reasons = [r["reason"] for r in failed]
    assert any(r == "SCF not converged (injected)" for r in reasons), reasons
    assert any("calculation process exited with code 3" in r for r in reasons), reasons
    assert any(r.startswith("timeout:") and "dft.timeout_s" in r for r in reasons), (
        reasons
    )
    summary = json.loads((run_dir / "results" / "summary.json").read_text())
    assert summary["failed_labels"] == len(failed) >= 3


def test_failed_geometries_are_recorded_with_reasons(faulty_run):
    run_dir, _, _ = faulty_run
    results = final_results(run_dir)
    failed_events = [e for e in events(run_dir, "sampling") if e["status"] == "failed"]
    assert len(failed_events) == sum(r["event"] == "failed" for r in results.values())
    assert all(e["reason"] and e["split"] is None for e in failed_events)
    submitted = {r["ticket"]: r for r in ledger(run_dir) if r["event"] == "submitted"}
    for ticket, result in results.items():  # the geometry of each failure is kept
        if result["event"] == "failed":
            assert len(submitted[ticket]["atoms"]["numbers"]) == 3


def test_failed_al_labels_restart_their_trajectory(faulty_run):
    run_dir, out, _ = faulty_run
    al_failed = [
        e
        for e in events(run_dir, "sampling")
        if e["phase"] == "al" and e["status"] == "failed"
    ]
    assert al_failed, "no AL label failed: the fault rate missed the AL phase"
    for e in al_failed:
        assert f"trajectory {e['traj']}: label " in out
    assert out.count("restarting from its checkpoint") >= len(al_failed)


def test_no_label_lost_despite_faults(faulty_run):
    run_dir, _, _ = faulty_run
    ids = assert_labels_exactly_once(run_dir)
    summary = json.loads((run_dir / "results" / "summary.json").read_text())
    assert summary["n_train"] + summary["n_valid"] <= len(ids)


def test_wandb_key_never_written(faulty_run):
    run_dir, out, err = faulty_run
    needle = SECRET.encode()
    leaked = [
        str(p.relative_to(run_dir))
        for p in run_dir.rglob("*")
        if p.is_file() and needle in p.read_bytes()
    ]
    assert not leaked, f"the W&B key is in {leaked}"
    assert SECRET not in out and SECRET not in err
    assert (run_dir / "config.yaml").exists() and any((run_dir / "wandb").rglob("*"))


# ---------------------------------------------------------------- worker loss
def worker_pools(run_dir: Path) -> list[psutil.Process]:
    """Parsl worker pools (process_worker_pool) of the blocks of run_dir.

    A local block runs detached (its parent is init), so it is found by the
    submit script under run_dir/parsl on its launcher's command line.
    """
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if f"{run_dir}/parsl" not in cmdline or "submit_scripts" not in cmdline:
            continue
        try:
            found += [
                child
                for child in proc.children(recursive=True)
                if any("process_worker_pool" in part for part in child.cmdline())
            ]
        except psutil.NoSuchProcess:
            continue
    return list({p.pid: p for p in found}.values())


def in_flight_tickets(run_dir: Path) -> set[str]:
    if not (run_dir / "ledger.jsonl").exists():
        return set()
    records = ledger(run_dir)
    submitted = {r["ticket"] for r in records if r["event"] == "submitted"}
    return submitted - {
        r["ticket"] for r in records if r["event"] in ("done", "failed")
    }


def test_killed_worker_tasks_run_again(tmp_path):
    run_dir = tmp_path / "run"
    proc = start_pax(
        run_dir,
        *EMT,
        "dft.delay_s=0.1",
        "cluster.heartbeat_period_s=1",
        "cluster.heartbeat_threshold_s=3",
    )
    killed, lost = [], set()
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            done = (
                [r for r in ledger(run_dir) if r["event"] == "done"]
                if (run_dir / "ledger.jsonl").exists()
                else []
            )
            lost = in_flight_tickets(run_dir)
            pools = worker_pools(run_dir) if len(done) >= 3 and lost else []
            if pools:
                for pool in pools:
                    family = [pool, *pool.children(recursive=True)]
                    killed += [p.pid for p in family]
                    for p in family:
                        p.kill()
                break
            time.sleep(0.05)
    finally:
        rc, _, err = finish_pax(proc, timeout_s=300)
    assert killed, "never saw a worker pool with a calculation in flight"
    assert rc == 0, err[-3000:]
    results = final_results(run_dir)
    assert all(results[t]["event"] == "done" for t in lost), {
        t: results[t]["reason"] for t in lost
    }
    later_pids = {r["info"]["pid"] for t, r in results.items() if t >= max(lost)}
    assert later_pids - set(killed), "no worker started after the loss"
    assert_labels_exactly_once(run_dir)


def test_reference_that_always_fails_stops_with_a_reason(tmp_path):
    """IDG samples again after each failure, and gives up after 20 in a row."""
    run_dir = tmp_path / "run"
    all_fail = [*EMT, "dft.fault_rate=1.0", "dft.fault_kinds=[scf]"]
    rc, _, err = finish_pax(start_pax(run_dir, *all_fail), timeout_s=180)
    assert rc == 2, err[-3000:]
    line = [x for x in err.splitlines() if x.startswith("pax: error:")]
    assert len(line) == 1 and "20 reference labels in a row failed" in line[0]
    assert "SCF not converged (injected)" in line[0]
    assert sum(r["event"] == "failed" for r in ledger(run_dir)) >= 20
