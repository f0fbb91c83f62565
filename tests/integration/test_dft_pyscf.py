"""Real PySCF labels on tiny molecules: gradients, spin, failures, a real kill."""

import numpy as np
import pytest
from ase.build import molecule
from ase.io import read

from pax.dft import label
from pax.dft.pyscf import PySCFConfig
from pax.paths import resolve_path
from tests.integration.test_dft_fd import fd_forces

# small basis, loose grid, tight SCF: quick and still an exact gradient
TINY = {
    "basis": "6-31g",
    "grid_level": 1,
    "conv_tol": 1e-11,
    "charge": 0,
    "multiplicity": 1,
}


@pytest.fixture
def water():
    atoms = molecule("H2O")
    atoms.positions[0] += [0.05, -0.03, 0.02]
    return atoms


@pytest.mark.slow
def test_forces_match_finite_differences(water):
    cfg = PySCFConfig(**TINY)
    result = label(water, cfg, ".")
    assert result.ok and result.info["scf_cycles"] > 1
    fd = fd_forces(lambda a: label(a, cfg, ".").energy, water)
    assert np.abs(result.forces).max() > 0.1
    assert np.abs(fd - result.forces).max() < 1e-3


def test_threads_follow_the_worker_environment(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert label(molecule("H2"), PySCFConfig(**TINY), ".").info["threads"] == 2
    cfg = PySCFConfig(**{**TINY, "threads": 1})
    assert label(molecule("H2"), cfg, ".").info["threads"] == 1
    assert label(molecule("H2"), PySCFConfig(**TINY), ".").info["threads"] == 2


def test_open_shell_radical_uses_uks():
    hydroxyl = molecule("OH")
    result = label(hydroxyl, PySCFConfig(**{**TINY, "multiplicity": 2}), ".")
    assert result.ok and result.forces.shape == (2, 3)
    inconsistent = label(hydroxyl, PySCFConfig(**TINY), ".")  # 9 electrons, singlet
    assert not inconsistent.ok and "spin" in inconsistent.reason


def test_scf_ladder_converges_the_hydroxyl_radical_and_records_attempts():
    result = label(molecule("OH"), PySCFConfig(**{**TINY, "multiplicity": 2}), ".")
    attempts = result.info["scf_attempts"]
    assert result.ok and attempts[-1]["converged"]
    assert result.info["scf_strategy"] == attempts[-1]["strategy"]
    assert [a["strategy"] for a in attempts] == [
        "diis",
        "level_shift",
        "newton",
        "atom_guess",
    ][: len(attempts)]


@pytest.fixture
def stretched_water():
    """Water with one O-H bond at 2.5 Å: plain DIIS does not converge in 50 cycles."""
    atoms = molecule("H2O")
    bond = atoms.positions[1] - atoms.positions[0]
    atoms.positions[1] = atoms.positions[0] + 2.5 * bond / np.linalg.norm(bond)
    return atoms


def test_scf_ladder_converges_a_stretched_bond_that_plain_scf_fails(stretched_water):
    stretched = {**TINY, "conv_tol": 1e-9, "max_cycle": 50}
    plain = label(stretched_water, PySCFConfig(**stretched, scf_ladder=["diis"]), ".")
    assert not plain.ok and "scf_ladder=[diis]" in plain.reason
    assert [a["converged"] for a in plain.info["scf_attempts"]] == [False]
    cfg = PySCFConfig(**stretched, scf_ladder=["diis", "newton"])
    result = label(stretched_water, cfg, ".")
    assert result.ok and result.info["scf_strategy"] == "newton"
    assert [a["converged"] for a in result.info["scf_attempts"]] == [False, True]
    assert result.energy < plain.info["scf_attempts"][0]["energy_eV"]
    assert np.abs(result.forces).max() > 0.1


def test_impossible_scf_is_failed(water):
    result = label(water, PySCFConfig(**{**TINY, "max_cycle": 1}), ".")
    assert result.status == "failed"
    assert "SCF not converged" in result.reason and "dft.max_cycle=1" in result.reason
    assert len(result.info["scf_attempts"]) == 4


def test_timeout_kills_a_running_scf():
    ethanol = read(resolve_path("data/systems/ethanol.xyz"))
    cfg = PySCFConfig(basis="def2-svp", charge=0, multiplicity=1, timeout_s=1.0)
    label(molecule("H2"), cfg, ".")  # warm child with PySCF imported
    result = label(ethanol, cfg, ".")
    assert not result.ok and "timeout" in result.reason
    assert result.wall_s < 15


def test_killed_scf_is_failed():
    import os
    import signal
    import threading
    import time

    from pax.dft import isolation

    ethanol = read(resolve_path("data/systems/ethanol.xyz"))
    cfg = PySCFConfig(basis="def2-svp", charge=0, multiplicity=1)
    label(molecule("H2"), cfg, ".")
    box = {}
    worker = threading.Thread(
        target=lambda: box.setdefault("r", label(ethanol, cfg, "."))
    )
    worker.start()
    deadline = time.monotonic() + 10
    while not isolation.busy_pids() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # inside the SCF
    os.kill(isolation.busy_pids()[0], signal.SIGKILL)
    worker.join(timeout=30)
    assert box["r"].status == "failed" and "SIGKILL" in box["r"].reason


def test_e0s_use_the_ground_state_spin(tmp_path):
    from pax.dft.e0s import isolated_atom_energies

    cfg = PySCFConfig(**{**TINY, "conv_tol": 1e-9})  # 1e-11 is below an atom's noise
    e0s = isolated_atom_energies([1, 8], cfg, tmp_path)
    assert e0s[1] == pytest.approx(-13.6, abs=0.2)  # PBE hydrogen atom, ~-0.5 Ha
    from ase import Atoms

    triplet_o = label(
        Atoms("O"), PySCFConfig(**{**TINY, "conv_tol": 1e-9, "multiplicity": 3}), "."
    )
    assert e0s[8] == pytest.approx(triplet_o.energy, abs=1e-6)
