"""Reliability: bad inputs that tests/unit/config/test_errors.py does not cover.

Each is refused with one 'pax: error:' line naming the key or file, exit code 2,
and no traceback.
"""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.timeout(300)


def pax(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.run(
        [sys.executable, "-c", "from pax.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("pax: error: "), proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("xyz", "overrides", "needle"),
    [
        (
            "3\n\nS 0 0 0\nH 0 0 1.34\nH 1.34 0 0\n",
            ["dft=emt"],
            "dft='emt': has no parameters for S",
        ),
        (
            "2\n\nU 0 0 0\nO 0 0 1.8\n",
            ["dft=pyscf"],
            "al.idg.sampler='xtb': has no parameters for U",
        ),
    ],
    ids=["emt-teacher", "xtb-sampler"],
)
def test_element_the_method_does_not_know(tmp_path, xyz, overrides, needle):
    geometry = tmp_path / "molecule.xyz"
    geometry.write_text(xyz)
    proc = pax(
        f"system.geometry={geometry}",
        *overrides,
        "run.dry=true",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert needle in one_error_line(proc)


def test_unwritable_output_directory(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    run_dir = blocker / "run"
    proc = pax("system=water", "dft=emt", f"hydra.run.dir={run_dir}")
    line = one_error_line(proc)
    assert str(run_dir) in line and "not writable" in line
    assert blocker.read_text() == "not a folder"


def test_broken_file_in_a_geometry_folder_is_named(tmp_path):
    geometry = tmp_path / "geometries"
    geometry.mkdir()
    (geometry / "broken.xyz").write_text("3\n\nO 0 0\n")
    proc = pax(
        f"system.geometry={geometry}", "run.dry=true", f"hydra.run.dir={tmp_path / 'r'}"
    )
    line = one_error_line(proc)
    assert str(geometry / "broken.xyz") in line
