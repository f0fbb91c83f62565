"""Reliability: SIGKILL the main process at 10 random moments of one small run.

The first kill lands while Parsl starts; the other nine at a random moment after
that session's k-th new label (k random in 1..2, then 0-0.8 s more: imports and
Parsl start-up take 5-10 s on a loaded machine, and a session killed before its
first label makes no progress). Each kill takes the whole process group (main
process, interchange, calculation children), except the second, which kills the
main process alone (as the OOM killer does) and orphans its Parsl interchange.
The same command resumes each time. The run must finish with every computed
label in the datasets exactly once, and no process of the run may outlive it
(the local analogue of no Slurm job left behind).
"""

import json
import os
import random
import signal
import time
from pathlib import Path

import psutil
import pytest

from pax.cluster.parsl_config import _alive
from tests.integration.test_reliability import EMT, assert_labels_exactly_once
from tests.integration.workflow_helpers import (
    kill_when,
    n_labels,
    run_pax,
    start_pax,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

KILLS = 10
SEED = 10
RUN = [
    *EMT,
    "al=aims_pax",  # distinct member sets: labels enough for ten kills in IDG and AL
    "dft.delay_s=0.2",
    "al.idg.max_initial_set_size=8",
    "al.max_train_set_size=30",
    "al.max_MD_steps=100000",  # it ends on its size limit, at the same label count
    "al.sanity.enabled=false",  # EMT water breaks its bonds: the gate refuses all
]
"""Longer than the tiny run (about 20 IDG labels and more AL), so ten kills fit."""
NEW_LABELS = (1, 2)
"""A session is killed after this many new labels (uniform integer)..."""
EXTRA_S = (0.0, 0.8)
"""... and this many seconds more (uniform)."""


def phase(run_dir: Path) -> str:
    path = run_dir / "state" / "phase.json"
    return json.loads(path.read_text())["phase"] if path.exists() else "start"


def after_new_labels(new: int, delay_s: float):
    """A kill_when predicate: true delay_s after the session's new-th new label."""
    seen = {}

    def predicate(run_dir: Path) -> bool:
        labels = n_labels(run_dir)
        if "base" not in seen:
            seen["base"] = labels
        elif "t" not in seen and labels >= seen["base"] + new:
            seen["t"] = time.monotonic()
        return "t" in seen and time.monotonic() - seen["t"] > delay_s

    return predicate


def processes_of(run_dir: Path) -> list[psutil.Process]:
    """Live processes whose command line mentions run_dir (Parsl blocks of the run)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if str(run_dir) in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


def kill_main_only_when(run_dir: Path, predicate, orphans: list[int]) -> bool:
    """Like kill_when, but SIGKILL the main process alone (as the OOM killer does).

    Its Parsl interchange is orphaned (it exits by itself within a second, or
    the next start kills it); its pid goes to orphans.
    """
    proc = start_pax(run_dir, *RUN)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if predicate(run_dir):
                orphans += [
                    c.pid
                    for c in psutil.Process(proc.pid).children()
                    if c.cmdline()[:1] == ["parsl: HTEX interchange"]
                ]
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
                return True
            time.sleep(0.05)
        return False
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def alive(pids: list[int]) -> list[int]:
    return [p for p in pids if psutil.pid_exists(p)]


def test_ten_sigkills_then_finish(tmp_path):
    rng = random.Random(SEED)
    run_dir = tmp_path / "run"
    moments, orphans = [], []
    try:
        _kill_and_finish(run_dir, rng, moments, orphans)
    finally:  # never leave a worker behind, also when the test fails
        for p in processes_of(run_dir):
            p.kill()
        for pid in alive(orphans):
            os.kill(pid, signal.SIGKILL)


def in_startup(run_dir: Path) -> bool:
    """True once Parsl has written the first block's submit script."""
    return any(run_dir.glob("parsl/*/submit_scripts/*.sh"))


def _kill_and_finish(run_dir: Path, rng: random.Random, moments: list, orphans: list):
    killed = kill_when(run_dir, in_startup, 120, *RUN)  # before any label
    moments.append(("startup", 0.0, killed, phase(run_dir), n_labels(run_dir)))
    for k in range(KILLS - 1):
        new, delay_s = rng.randint(*NEW_LABELS), rng.uniform(*EXTRA_S)
        moment = after_new_labels(new, delay_s)
        if k == 0:  # the main process alone: its interchange is orphaned
            killed = kill_main_only_when(run_dir, moment, orphans)
            assert orphans, "no interchange to orphan"
        else:
            killed = kill_when(run_dir, moment, 120, *RUN)
        moments.append(
            (new, round(delay_s, 1), killed, phase(run_dir), n_labels(run_dir))
        )
        if not killed:
            break
    print("kills (new labels, extra s, killed, phase, labels):", moments)
    assert sum(m[2] for m in moments) == KILLS, f"the run ended too soon: {moments}"
    assert {m[3] for m in moments} >= {"idg", "al"}, moments

    proc = run_pax(run_dir, *RUN, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (run_dir / "results" / "summary.json").exists()
    ids = assert_labels_exactly_once(run_dir)
    assert len(ids) >= 10

    deadline = time.monotonic() + 30  # the last block stops with its session
    while processes_of(run_dir) and time.monotonic() < deadline:
        time.sleep(1)
    left = processes_of(run_dir)
    assert not left, [p.info["cmdline"] for p in left]
    assert not alive(orphans), "the interchange of the killed process is still running"


def family_of(pid: int, run_dir: Path) -> list[psutil.Process]:
    """The process pid, its descendants and the run's blocks with theirs."""
    roots = [psutil.Process(pid), *processes_of(run_dir)]
    return list({p.pid: p for r in roots for p in [r, *r.children(True)]}.values())


def running(procs: list[psutil.Process]) -> list[psutil.Process]:
    """Those of procs still running (zombies count as gone)."""
    return [p for p in procs if _alive(p)]


def test_a_main_process_killed_alone_leaves_no_process_running(tmp_path):
    """After a SIGKILL of pax's main process alone (the OOM killer), its
    interchange, local block and helpers end by themselves, with no rerun."""
    run_dir = tmp_path / "run"
    proc = start_pax(run_dir, *RUN)
    family: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 120
        while n_labels(run_dir) < 2:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        family = family_of(proc.pid, run_dir)
        names = [" ".join(p.cmdline()) for p in family]
        assert any(n.startswith("parsl: HTEX interchange") for n in names), names
        assert any("process_worker_pool" in n for n in names), names
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 60  # heartbeat_threshold_s is 10
        while running(family) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = [" ".join(p.cmdline()) for p in running(family)]
        assert not left, left
    finally:
        for p in running(family):
            p.kill()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
