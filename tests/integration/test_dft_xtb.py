"""Real tblite xTB labels: forces are the gradient, failures contained, periodic stress."""

import numpy as np
import pytest
from ase.build import bulk
from ase.io import read

from pax.dft import label
from pax.dft.xtb import XTBConfig, XTBMethod
from pax.paths import resolve_path
from tests.integration.test_dft_fd import fd_forces


@pytest.fixture
def ethanol():
    atoms = read(resolve_path("data/systems/ethanol.xyz"))
    atoms.rattle(0.05, seed=3)  # off the minimum: forces are not ~0
    return atoms


TIGHT = {"accuracy": 0.01, "charge": 0, "multiplicity": 1}


@pytest.mark.parametrize("method", [XTBMethod.GFN2, XTBMethod.GFN1])
def test_forces_match_finite_differences(ethanol, method):
    cfg = XTBConfig(method=method, **TIGHT)
    result = label(ethanol, cfg, ".")
    assert result.ok and result.stress is None
    fd = fd_forces(lambda a: label(a, cfg, ".").energy, ethanol)
    assert np.abs(result.forces).max() > 0.1
    assert np.abs(fd - result.forces).max() < 1e-3


def test_impossible_scc_is_failed(ethanol):
    result = label(ethanol, XTBConfig(max_iterations=1, **TIGHT), ".")
    assert result.status == "failed"
    assert "not converged" in result.reason and "dft.max_iterations=1" in result.reason


def test_periodic_cell_gives_stress_that_matches_strain_derivative():
    silicon = bulk("Si", "diamond", a=5.6, cubic=True)  # 8 atoms, slightly expanded
    cfg = XTBConfig(method=XTBMethod.GFN1, **TIGHT)
    result = label(silicon, cfg, ".")
    assert result.ok and result.stress.shape == (6,)
    # sigma_xx = (1/V) dE/d(eps_xx): strain the cell along x, atoms scaled with it
    eps = 1e-4
    energies = []
    for sign in (1, -1):
        strained = silicon.copy()
        cell = strained.cell.array.copy()
        cell[:, 0] *= 1 + sign * eps
        strained.set_cell(cell, scale_atoms=True)
        energies.append(label(strained, cfg, ".").energy)
    sigma_xx = (energies[0] - energies[1]) / (2 * eps) / silicon.get_volume()
    assert abs(result.stress[0]) > 1e-3
    assert result.stress[0] == pytest.approx(sigma_xx, abs=1e-4)


def test_charge_and_spin_are_used(ethanol):
    neutral = label(ethanol, XTBConfig(**TIGHT), ".")
    cation = label(ethanol, XTBConfig(accuracy=0.01, charge=1, multiplicity=2), ".")
    assert cation.ok and cation.energy - neutral.energy > 5.0  # ionisation costs eV


@pytest.mark.parametrize("preset", ["xtb", "emt"])
def test_labels_ignore_constraints_on_the_geometry(ethanol, preset):
    # a geometry with FixCom (ASE's recipe for MD) or FixAtoms gets the
    # reference's own forces, not the constrained ones ASE's get_forces returns
    from ase.constraints import FixAtoms, FixCom

    from pax.dft.emt import EMTConfig

    cfg = XTBConfig(**TIGHT) if preset == "xtb" else EMTConfig()
    free = label(ethanol, cfg, ".")
    for constraint in (FixCom(), FixAtoms(indices=[0, 1])):
        held = ethanol.copy()
        held.set_constraint(constraint)
        np.testing.assert_allclose(label(held, cfg, ".").forces, free.forces, atol=1e-9)
