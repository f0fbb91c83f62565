"""Reliability: truncated state, checkpoint, dataset and ledger files on resume.

A tiny water run (EMT reference) is SIGKILLed in active learning once state/al.pt
has a previous generation; each case corrupts a copy of that run directory and
resumes it. Either the run falls back to the last good file and finishes with
every label exactly once, or it stops with one line naming the file and leaves
the files as they were.
"""

import hashlib
import shutil
from pathlib import Path

import pytest

from tests.integration.test_reliability import assert_labels_exactly_once
from tests.integration.workflow_helpers import events, kill_when, run_pax

pytestmark = pytest.mark.timeout(600)

SLOW_EMT = ["dft=emt", "dft.delay_s=0.15"]
"""EMT slowed down so that AL lives long enough to save its state twice."""


def truncate(path: Path, keep: float = 0.5) -> None:
    """Cut a file to a fraction of its bytes (a torn write)."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def snapshot(run_dir: Path) -> dict[str, str]:
    """sha1 of every file the run owns (Hydra's .hydra/ and log aside)."""
    return {
        str(p.relative_to(run_dir)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file()
        and p.relative_to(run_dir).parts[0] not in (".hydra", "parsl", "wandb")
        and p.name != "cli.log"
    }


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A run killed in AL after its second state save (al.pt and al.pt.prev)."""
    run_dir = tmp_path_factory.mktemp("state") / "run"

    def two_al_saves(d: Path) -> bool:
        return (d / "state" / "al.pt.prev").exists()

    assert kill_when(run_dir, two_al_saves, 300, *SLOW_EMT), "AL ended too soon"
    return run_dir


def copy_of(interrupted: Path, tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    shutil.copytree(interrupted, run_dir, ignore=shutil.ignore_patterns("parsl"))
    return run_dir


def assert_refused(run_dir: Path, needle: str) -> str:
    """Resume; it must exit 2 with one 'pax: error:' line naming needle, change nothing."""
    before = snapshot(run_dir)
    proc = run_pax(run_dir, *SLOW_EMT, timeout=180)
    assert proc.returncode == 2, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("pax: ")]
    assert len(errors) == 1 and needle in errors[0], proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    after = snapshot(run_dir)
    changed = [k for k in before if after.get(k) != before[k]]
    assert not changed, f"a refused resume changed {changed}"
    return errors[0]


def test_torn_state_checkpoint_and_ledger_fall_back(interrupted, tmp_path):
    run_dir = copy_of(interrupted, tmp_path)
    truncate(run_dir / "state" / "al.pt")
    truncate(run_dir / "state" / "ensemble.pt")
    with open(run_dir / "ledger.jsonl", "a") as fh:
        fh.write('{"event": "done", "ticket": "0000')  # a torn last line
    proc = run_pax(run_dir, *SLOW_EMT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert f"state file {run_dir / 'state' / 'al.pt'} is unreadable" in log
    assert "resumed from the previous state" in log
    assert "resumed from the previous ensemble checkpoint" in log
    assert "dropping a truncated last line" in log
    assert (run_dir / "results" / "summary.json").exists()
    assert_labels_exactly_once(run_dir)


def test_unreadable_state_and_its_previous_stop_naming_them(interrupted, tmp_path):
    run_dir = copy_of(interrupted, tmp_path)
    truncate(run_dir / "state" / "al.pt")
    truncate(run_dir / "state" / "al.pt.prev")
    line = assert_refused(run_dir, str(run_dir / "state" / "al.pt"))
    assert "al.pt.prev" in line


def test_unreadable_ensemble_checkpoints_stop_naming_them(interrupted, tmp_path):
    run_dir = copy_of(interrupted, tmp_path)
    truncate(run_dir / "state" / "ensemble.pt")
    truncate(run_dir / "state" / "ensemble.pt.prev")
    line = assert_refused(run_dir, str(run_dir / "state" / "ensemble.pt"))
    assert "ensemble.pt.prev" in line


def test_truncated_dataset_stops_naming_the_file(interrupted, tmp_path):
    run_dir = copy_of(interrupted, tmp_path)
    path = max((run_dir / "data").glob("*.extxyz"), key=lambda p: p.stat().st_size)
    truncate(path, keep=0.7)
    assert_refused(run_dir, f"dataset file {path} is corrupt")


def test_changed_config_is_refused_unless_forced(interrupted, tmp_path):
    run_dir = copy_of(interrupted, tmp_path)
    before = snapshot(run_dir)
    proc = run_pax(run_dir, *SLOW_EMT, "al.c_x=0.5", timeout=180)
    assert proc.returncode == 2 and "different config (al.c_x)" in proc.stderr
    assert snapshot(run_dir) == before, "a refused resume changed the run directory"

    starts = len(events(run_dir, "phase"))

    def resumed(d: Path) -> bool:  # the forced resume got to work
        return len(events(d, "phase")) > starts

    assert kill_when(run_dir, resumed, 180, *SLOW_EMT, "al.c_x=0.5", "run.force=true")
