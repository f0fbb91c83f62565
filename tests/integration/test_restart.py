"""SIGKILL the run at awkward moments, resume, and lose no label nor count one twice."""

import json
import os

import psutil
import pytest
from ase.io import read

from tests.integration.workflow_helpers import events, kill_when, run_pax

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


def ledger_ok_tickets(run_dir):
    done = set()
    for line in (run_dir / "ledger.jsonl").read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if rec.get("event") == "done" and rec["result"]["status"] == "ok":
            done.add(rec["ticket"])
    return done


def dataset_frames(run_dir):
    from pax.data import DatasetStore

    store = DatasetStore(run_dir / "data")
    return [frame for split in store.splits.values() for frame in split]


def during_idg_labelling(run_dir):
    return any(e["phase"] == "idg" for e in events(run_dir, "sampling"))


def during_al_training(run_dir):
    return any(e["phase"] == "al" for e in events(run_dir, "train"))


def while_labels_in_flight(run_dir):
    return any(e["in_flight"] > 0 for e in events(run_dir, "md"))


def test_kill_three_times_then_finish(tmp_path):
    run_dir = tmp_path / "run"
    moments = [during_idg_labelling, during_al_training, while_labels_in_flight]
    killed = [kill_when(run_dir, moment) for moment in moments]
    assert killed[0], "the run ended before IDG labelling could be interrupted"
    proc = run_pax(run_dir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (run_dir / "results" / "summary.json").exists()

    frames = dataset_frames(run_dir)
    ids = [f.info["label_id"] for f in frames]
    hashes = [f.info["geometry_hash"] for f in frames]
    assert len(ids) == len(set(ids)), "a label is stored twice"
    assert len(hashes) == len(set(hashes)), "a geometry is stored twice"
    assert ledger_ok_tickets(run_dir) == set(ids), (
        "a computed label is missing from the data"
    )
    results = read(run_dir / "results" / "train.extxyz", index=":") + read(
        run_dir / "results" / "valid.extxyz", index=":"
    )
    assert len(results) == len(ids)


def test_sigterm_stops_cleanly_and_leaves_no_process(tmp_path):
    import signal
    import subprocess
    import time

    from tests.conftest import ROOT
    from tests.integration.workflow_helpers import pax_command

    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        pax_command(run_dir),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 300
        while time.time() < deadline and not events(run_dir, "md"):
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)  # the main process only, as scancel does
        assert proc.wait(timeout=60) == 130
        assert "rerun the same command to resume" in proc.stderr.read()
        deadline = time.time() + 5  # the block's shell wrappers exit after the pool
        while (left := _living_in_session(proc.pid)) and time.time() < deadline:
            time.sleep(0.1)
        assert not left, f"processes of the run left behind: {left}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert run_pax(run_dir).returncode == 0


def _living_in_session(sid: int) -> list[dict]:
    """Processes of session sid that are not zombies (dead, waiting for a reaper)."""
    living = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        try:
            if (
                os.getsid(proc.pid) == sid
                and proc.info["status"] != psutil.STATUS_ZOMBIE
            ):
                living.append(proc.info)
        except OSError:  # gone
            continue
    return living
