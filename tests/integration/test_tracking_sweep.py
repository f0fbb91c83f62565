"""A `pax -m` sweep of two tiny runs: two W&B runs in one group, then pax-compare."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.helpers.wandb_reader import history_values, read_wandb_run
from tests.integration.workflow_helpers import TINY

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    sweep_dir = tmp_path_factory.mktemp("sweeps") / "c_x_sweep"
    overrides = [o for o in TINY if not o.startswith("al.c_x=")]
    cmd = [
        sys.executable,
        "-c",
        "from pax.cli import main; main()",
        "-m",
        *overrides,
        "al.max_train_set_size=8",
        "al.c_x=-0.3,-0.2",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    proc = subprocess.run(
        cmd,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=840,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    runs = sorted(p for p in sweep_dir.iterdir() if (p / "metrics.jsonl").exists())
    return sweep_dir, runs, proc


def test_sweep_finishes(sweep):
    _, runs, proc = sweep
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(runs) == 2


def test_two_wandb_runs_in_the_sweep_group(sweep):
    sweep_dir, runs, _ = sweep
    wandb_runs = [read_wandb_run(r) for r in runs]
    assert len({w["run_id"] for w in wandb_runs}) == 2
    assert {w["group"] for w in wandb_runs} == {sweep_dir.name}
    assert {w["job_type"] for w in wandb_runs} == {"all"}
    assert [w["name"] for w in wandb_runs] == [r.name for r in runs]
    assert sorted(w["config"]["al"]["c_x"] for w in wandb_runs) == [-0.3, -0.2]
    for w in wandb_runs:
        assert history_values(w, "train/mean/valid_f_mae")
        assert history_values(w, "sampling/label_wall_s")


def test_finished_runs_have_summary_and_plots(sweep):
    _, runs, proc = sweep
    assert proc.returncode == 0
    for run_dir in runs:
        summary = read_wandb_run(run_dir)["summary"]
        assert summary["final_valid_f_mae"] > 0 and summary["labels_total"] >= 4
        assert summary["stop_reason"]
        assert (run_dir / "plots" / "learning_curves.png").stat().st_size > 1000


def test_pax_compare_on_the_sweep(sweep, tmp_path):
    sweep_dir, _, _ = sweep
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from pax.cli import main_compare; main_compare()",
            str(sweep_dir),
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[0].split()[:2] == ["run", "al.c_x"]
    assert (tmp_path / "compare.png").stat().st_size > 10_000
