"""Reliability: SIGKILL the main process at 10 random moments of one small run.

Each kill takes the whole process group (main process, interchange, calculation
children) at a random wall time after the start, then the same command resumes.
The run must finish with every computed label in the datasets exactly once, and
no worker of the run may outlive it (the local analogue of no Slurm job left).
"""

import json
import random
import time
from pathlib import Path

import psutil
import pytest

from tests.integration.test_reliability import EMT, assert_labels_exactly_once
from tests.integration.workflow_helpers import kill_when, run_pax

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

KILLS = 10
SEED = 10
WINDOW_S = (4.0, 12.0)
"""Kill between these many seconds after each start (imports take ~4 s)."""


def phase(run_dir: Path) -> str:
    path = run_dir / "state" / "phase.json"
    return json.loads(path.read_text())["phase"] if path.exists() else "start"


def n_labels(run_dir: Path) -> int:
    path = run_dir / "ledger.jsonl"
    if not path.exists():
        return 0
    return path.read_text().count('"event": "done"')


def processes_of(run_dir: Path) -> list[psutil.Process]:
    """Live processes whose command line mentions run_dir (Parsl blocks of the run)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if str(run_dir) in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


def test_ten_sigkills_then_finish(tmp_path):
    rng = random.Random(SEED)
    run_dir = tmp_path / "run"
    moments = []
    for _ in range(KILLS):
        delay_s = rng.uniform(*WINDOW_S)
        start = time.monotonic()
        killed = kill_when(
            run_dir, lambda d, s=start, t=delay_s: time.monotonic() - s > t, 120, *EMT
        )
        moments.append((round(delay_s, 1), killed, phase(run_dir), n_labels(run_dir)))
        if not killed:
            break
    print("kills (delay s, killed, phase, labels):", moments)
    assert sum(k for _, k, _, _ in moments) >= 8, moments
    assert {p for _, _, p, _ in moments} >= {"idg", "al"}, moments

    proc = run_pax(run_dir, *EMT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (run_dir / "results" / "summary.json").exists()
    ids = assert_labels_exactly_once(run_dir)
    assert len(ids) >= 10

    deadline = time.monotonic() + 60  # orphaned blocks see their interchange gone
    while processes_of(run_dir) and time.monotonic() < deadline:
        time.sleep(1)
    left = processes_of(run_dir)
    for p in left:  # do not leave them to the next test either
        p.kill()
    assert not left, [p.info["cmdline"] for p in left]
