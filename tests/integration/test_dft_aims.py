"""FHI-aims path end to end through the stand-in executable (a test double).

tests/fixtures/aims/fake_aims_stand_in.py reads the geometry.in/control.in pax
writes and prints an aims.out computed with EMT, so launch_str, calc_dir,
clean_dirs and failure handling run for real; only aims.x itself is replaced.
"""

import shlex
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk, molecule
from ase.calculators.emt import EMT

from pax.dft import label
from pax.dft.aims_io import AimsConfig

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "aims"
STAND_IN = FIXTURES / "fake_aims_stand_in.py"


def _config(options="", **kw):
    launch = f"{shlex.quote(sys.executable)} {shlex.quote(str(STAND_IN))} {options} > aims.out"
    base = {
        "species_dir": str(FIXTURES / "species_dir"),
        "launch_str": launch,
        "charge": 0,
        "multiplicity": 1,
        "timeout_s": 60,
    }
    return AimsConfig(**{**base, **kw})


def _emt(atoms):
    atoms = atoms.copy()
    atoms.calc = EMT()
    return atoms


@pytest.fixture
def water():
    atoms = molecule("H2O")
    atoms.rattle(0.02, seed=1)
    return atoms


def test_molecule_labelled_and_dir_cleaned(water, tmp_path):
    result = label(water, _config(), str(tmp_path))
    assert result.ok, result.reason
    reference = _emt(water)
    assert result.energy == pytest.approx(reference.get_potential_energy(), abs=1e-8)
    np.testing.assert_allclose(result.forces, reference.get_forces(), atol=1e-10)
    assert result.stress is None
    calc_dir = Path(result.info["calc_dir"])
    assert calc_dir.parent == tmp_path / "aims_calcs"
    assert not calc_dir.exists()  # clean_dirs=true


def test_periodic_cell_gets_stress_and_dir_kept(tmp_path):
    copper = bulk("Cu", cubic=True)
    copper.rattle(0.03, seed=2)
    cfg = _config(k_grid=[2, 2, 2], clean_dirs=False, calc_dir=str(tmp_path / "abs"))
    result = label(copper, cfg, str(tmp_path / "run"))
    assert result.ok, result.reason
    np.testing.assert_allclose(result.stress, _emt(copper).get_stress(), atol=1e-7)
    calc_dir = Path(result.info["calc_dir"])
    assert calc_dir.parent == tmp_path / "abs"  # an absolute calc_dir is used as is
    assert {"control.in", "geometry.in", "aims.out"} <= {
        p.name for p in calc_dir.iterdir()
    }
    assert "k_grid" in (calc_dir / "control.in").read_text()


def test_each_call_gets_its_own_folder(water, tmp_path):
    cfg = _config(clean_dirs=False)
    dirs = {label(water, cfg, str(tmp_path)).info["calc_dir"] for _ in range(2)}
    assert len(dirs) == 2


def test_nonzero_exit_is_failed_and_folder_kept(water, tmp_path):
    result = label(water, _config("--exit-code 3"), str(tmp_path))
    assert result.status == "failed"
    assert "exited with code 3" in result.reason and "MPI_Abort" in result.reason
    assert Path(result.info["calc_dir"]).is_dir()


def test_unconverged_scf_is_failed(water, tmp_path):
    result = label(water, _config("--no-converge"), str(tmp_path))
    assert not result.ok and "did not complete" in result.reason


def test_timeout_kills_the_launch(water, tmp_path):
    result = label(water, _config("--sleep 60", timeout_s=1.0), str(tmp_path))
    assert not result.ok and "timeout" in result.reason
    assert result.wall_s < 20


def test_missing_output_and_missing_species(tmp_path):
    no_redirect = _config(launch_str="true")
    result = label(molecule("H2O"), no_redirect, str(tmp_path))
    assert not result.ok and "no aims.out" in result.reason
    result = label(molecule("NH3"), _config(), str(tmp_path))
    assert not result.ok and "07_N_default" in result.reason
