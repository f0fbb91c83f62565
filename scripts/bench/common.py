"""Shared pieces of the proof-of-value benchmarks: run pax, read its records, report.

The benchmarks start pax as a subprocess (the same entry point as the `pax`
command), each run in its own directory, and read `metrics.jsonl` afterwards.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pax.tracking import read_metrics

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts" / "bench"))

# A small MACE committee for the --quick settings (2-core CPU): ethanol, 16 channels.
SMALL_MODEL = [
    "mlff.ensemble_size=2",
    "mlff.num_channels=16",
    "mlff.max_L=1",
    "mlff.correlation=2",
    "mlff.num_interactions=2",
    "mlff.radial_MLP=[16,16]",
    "mlff.batch_size=5",
]


def machine() -> str:
    """One line naming the machine: CPU model, cores, torch threads used."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()}"


def require_device(device: str) -> None:
    """Stop with the reason when a CUDA measurement is asked for on a CPU-only machine."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(
            f"--device {device}: this machine has no CUDA device; the GPU "
            "measurement is skipped (run it on a GPU node)"
        )


def ensure_frames(
    out: Path, system: Path, temperature_K: float, frames: int, every: int, seed: int
) -> Path:
    """Reference (GFN2-xTB) Langevin frames at `out`, made once by make_test_set."""
    out = out if out.is_absolute() else ROOT / out
    if out.exists():
        import reference
        from ase.io import read

        made = read(str(out), index=":")
        if len(made) >= frames and reference.agrees(made[0]):
            return out
    from ase.io import read, write
    from make_test_set import reference_md

    print(f"making {frames} reference frames at {temperature_K} K -> {out}", flush=True)
    made, _ = reference_md(
        read(ROOT / system), temperature_K, seed, frames, every, 1000
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    write(str(out), made, format="extxyz")
    return out


def run_pax(
    run_dir: Path,
    overrides: list[str],
    timeout_s: float,
    entry: str = "main",
    stop_when: Callable[[Path], bool] | None = None,
    resume: bool = False,
) -> float:
    """Run pax in run_dir with these overrides; return its wall time (s).

    run_dir is emptied first, unless resume is set and it holds a pax run
    (state/): then pax resumes that run (its restart: same config, or
    run.force=true among the overrides).

    stop_when(run_dir), polled every second, ends the run early with Ctrl-C
    (SIGINT, pax's clean stop) once it holds; such a run does not raise.

    The run's own output goes to run_dir/pax.log (appended to on resume); a
    failed run raises with its tail.
    pax runs in its own session; whatever is left in it afterwards (Parsl workers of
    a run that was stopped) is killed, so a timeout or Ctrl-C leaves nothing behind.
    """
    run_dir = run_dir if run_dir.is_absolute() else ROOT / run_dir
    resuming = resume and (run_dir / "state").is_dir()
    if not resuming:
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
    cmd = [
        sys.executable,
        "-c",
        f"from pax.cli import {entry}; {entry}()",
        *overrides,
        f"hydra.run.dir={run_dir}",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "WANDB_MODE": "disabled"}
    resumed = " (resumed)" if resuming else ""
    print(f"$ pax {' '.join(overrides)}  [{shown(run_dir)}]{resumed}", flush=True)
    t0 = time.time()
    with open(run_dir / "pax.log", "a" if resuming else "w") as logf:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdout=logf,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        stopped = False
        try:
            while proc.poll() is None:
                if time.time() - t0 > timeout_s:
                    raise subprocess.TimeoutExpired(cmd, timeout_s)
                if stop_when is not None and stop_when(run_dir):
                    stopped = True
                    wall = time.time() - t0
                    break
                time.sleep(1.0)
        finally:
            _end_session(proc)
    if not stopped:
        wall = time.time() - t0
    if proc.returncode != 0 and not stopped:
        tail = (run_dir / "pax.log").read_text()[-3000:]
        raise RuntimeError(f"pax failed (rc {proc.returncode}) in {run_dir}:\n{tail}")
    return wall


def shown(path: Path) -> str:
    """A path relative to the repository when inside it, else as given."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _end_session(proc: subprocess.Popen) -> None:
    """Stop pax (if still running) and every process left in its session (workers)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == proc.pid:  # session id: left over in pax's session
            try:
                os.kill(int(stat.parent.name), signal.SIGKILL)
            except OSError:
                pass


def events(run_dir: Path, kind: str | None = None) -> list[dict]:
    """Records of metrics.jsonl (of one kind), skipping a torn last line."""
    return [r for r in read_metrics(run_dir) if kind is None or r.get("kind") == kind]


def summary(run_dir: Path) -> dict:
    """results/summary.json of a finished run."""
    return json.loads((run_dir / "results" / "summary.json").read_text())


def test_curve(run_dir: Path) -> list[dict]:
    """Test records in time order: n_labels, time_s, test_f_mae and the epoch trained.

    `epoch` is the ensemble's epoch count at the test evaluation (last train record
    before it), the training budget the labels had.
    """
    epoch, out = 0, []
    for rec in events(run_dir):
        if rec.get("kind") == "train" and rec.get("epoch") is not None:
            epoch = max(epoch, int(rec["epoch"]))
        elif rec.get("kind") == "test":
            out.append({**rec, "epoch": epoch})
    return out


def final_test_record(run_dir: Path) -> dict | None:
    """The run's final model as a test record, or None if the run has none.

    Its clock is the end of the last phase that trained it (convergence, or AL
    when there is none), its test_eval_s the in-run test evaluations before it,
    its error the final test force MAE of results/summary.json.
    """
    recs = events(run_dir)
    ends = [r for r in recs if r.get("kind") == "phase" and r.get("event") == "end"]
    final = [r for r in recs if r.get("kind") == "summary"]
    f_mae = final[-1].get("test", {}).get("mean", {}).get("f_mae") if final else None
    if f_mae is None or not ends:
        return None
    tests = [r for r in recs if r.get("kind") == "test"]
    return {
        "kind": "test",
        "phase": "final",
        "time_s": ends[-1]["time_s"],
        "n_labels": final[-1]["labels_total"],
        "test_eval_s": tests[-1].get("test_eval_s", 0.0) if tests else 0.0,
        "test_f_mae": f_mae,
    }


def first_below(
    curve: list[dict], target: float, key: str = "test_f_mae"
) -> dict | None:
    """The first record whose `key` is at or below target, or None."""
    for rec in curve:
        if rec.get(key) is not None and rec[key] <= target:
            return rec
    return None


def fmt(value, spec: str = ".3f", missing: str = "not reached") -> str:
    """Format a number for a table, or say it is missing."""
    return missing if value is None else format(value, spec)


def table(header: list[str], rows: list[list]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
