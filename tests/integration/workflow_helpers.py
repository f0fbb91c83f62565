"""Shared pieces of the end-to-end tests: tiny settings, running pax, reading events."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pax.tracking import read_metrics
from tests.conftest import ROOT

TINY = [
    "system=water",
    "dft=xtb",
    "mlff.ensemble_size=2",
    "mlff.num_channels=8",
    "mlff.max_L=0",
    "mlff.correlation=2",
    "mlff.num_interactions=1",
    "mlff.radial_MLP=[8]",
    "mlff.default_dtype=float64",
    "mlff.batch_size=4",
    "md.temperature_K=600",
    "al.num_trajectories=2",
    "al.skip_step_mlff=5",
    "al.threshold_warmup=2",
    "al.c_x=-0.3",
    "al.desired_acc=0.001",
    "al.max_train_set_size=14",
    "al.max_MD_steps=3000",
    "al.epochs_per_worker=2",
    "al.convergence_patience=2",
    "al.max_convergence_epochs=4",
    "al.idg.skip_step_initial=10",
    "al.idg.n_points_per_sampling_step=2",
    "al.idg.max_initial_set_size=4",
    "al.idg.min_initial_set_size=2",
    "al.idg.intermediate_epochs=2",
    "cluster.max_workers=1",
    "run.torch_threads=1",
    "wandb.mode=offline",
]


def pax_command(run_dir: Path, *overrides: str, entry: str = "main") -> list[str]:
    """The command line of a pax run in run_dir with the tiny settings (overridable)."""
    base = TINY
    for group in ("cluster", "dft", "system"):
        if any(o.startswith(f"{group}=") for o in overrides):  # another preset
            base = [o for o in base if not o.startswith(f"{group}.")]
    merged = {o.split("=", 1)[0]: o for o in (*base, *overrides)}
    return [
        sys.executable,
        "-c",
        f"from pax.cli import {entry}; {entry}()",
        *merged.values(),
        f"hydra.run.dir={run_dir}",
    ]


def run_pax(run_dir: Path, *overrides: str, timeout: float = 600, entry: str = "main"):
    """Run pax to the end; return the CompletedProcess."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        pax_command(run_dir, *overrides, entry=entry),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def n_labels(run_dir: Path) -> int:
    """Labels back in the run's ledger (done events, failed ones included)."""
    path = run_dir / "ledger.jsonl"
    if not path.exists():
        return 0
    return path.read_text().count('"event": "done"')


def events(run_dir: Path, kind: str | None = None) -> list[dict]:
    """Records of metrics.jsonl (of one kind), skipping a torn last line."""
    return [r for r in read_metrics(run_dir) if kind is None or r.get("kind") == kind]


def start_pax(run_dir: Path, *overrides: str) -> subprocess.Popen:
    """Start pax in the background, in a process group of its own, output dropped."""
    return subprocess.Popen(
        pax_command(run_dir, *overrides),
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kill_when(run_dir: Path, predicate, timeout: float = 300, *overrides: str) -> bool:
    """Start pax, SIGKILL it once predicate(run_dir) holds; True if it was killed."""
    proc = start_pax(run_dir, *overrides)
    deadline = time.time() + timeout
    try:
        while time.time() < deadline and proc.poll() is None:
            if predicate(run_dir):
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
                return True
            time.sleep(0.05)
        return False
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
