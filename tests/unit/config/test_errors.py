"""Each bad setting exits non-zero with one line naming the key and value."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

CASES = [
    (["al.cx=1"], "al.cx"),
    (["al.c_x=abc"], "al.c_x='abc'"),
    (["al.c_x=-1"], "al.c_x=-1.0"),
    (["md.temperature_K=-5"], "md.temperature_K=-5.0"),
    (["md.timestep_fs=0"], "md.timestep_fs=0.0"),
    (["mlff.ensemble_size=1"], "mlff.ensemble_size=1"),
    (["al.valid_ratio=1.5"], "al.valid_ratio=1.5"),
    (["al.valid_ratio=0"], "al.valid_ratio=0.0"),
    (["al.desired_acc=0"], "al.desired_acc=0.0"),
    (["run.test_every_labels=-1"], "run.test_every_labels=-1"),
    (["al.idg.trajectories_per_system=0"], "al.idg.trajectories_per_system=0"),
    (
        ["cluster=slurm", "cluster.min_blocks=3", "cluster.max_blocks=1"],
        "cluster.max_blocks=1",
    ),
    (["system.geometry=/no/such/file.xyz"], "system.geometry='/no/such/file.xyz'"),
    (["dft=nope"], "dft/nope"),
    (["dft=pyscf", "system=copper"], "refuses periodic"),
]


def run_pax(args, **env):
    full_env = {**os.environ, **env}
    full_env.pop("HYDRA_FULL_ERROR", None) if "HYDRA_FULL_ERROR" not in env else None
    return subprocess.run(
        [sys.executable, "-c", "from pax.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=full_env,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("overrides", "needle"), CASES, ids=[" ".join(c[0]) for c in CASES]
)
def test_bad_setting_is_one_line(overrides, needle, tmp_path):
    proc = run_pax([*overrides, "run.dry=true", f"hydra.run.dir={tmp_path}"])
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("pax: error: ")
    assert needle in lines[0]
    assert "Traceback" not in proc.stderr


def test_full_error_shows_traceback(tmp_path):
    proc = run_pax(
        ["al.c_x=-1", "run.dry=true", f"hydra.run.dir={tmp_path}"], HYDRA_FULL_ERROR="1"
    )
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("empty.xyz", "", "cannot read"),
        ("garbage.xyz", "not a geometry\n", "cannot read"),
        ("overlap.xyz", "2\n\nH 0 0 0\nH 0 0 0.1\n", "overlap"),
    ],
)
def test_bad_geometry_names_the_file(tmp_path, name, content, needle):
    geo = tmp_path / name
    geo.write_text(content)
    proc = run_pax(
        [f"system.geometry={geo}", "run.dry=true", f"hydra.run.dir={tmp_path / 'run'}"]
    )
    assert proc.returncode == 2
    assert str(geo) in proc.stderr and needle in proc.stderr


def test_empty_folder_of_geometries(tmp_path):
    proc = run_pax(
        [
            f"system.geometry={tmp_path}",
            "run.dry=true",
            f"hydra.run.dir={tmp_path / 'r'}",
        ]
    )
    assert proc.returncode == 2
    assert "no geometry files" in proc.stderr
