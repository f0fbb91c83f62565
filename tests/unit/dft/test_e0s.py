"""Isolated-atom energies: right spin per element, computed once per method."""

import json

import pytest
from ase import Atoms

import pax.dft
from pax.dft.e0s import ground_state_multiplicity, isolated_atom_energies
from pax.dft.emt import EMTConfig
from pax.dft.xtb import XTBConfig


def test_ground_state_multiplicities():
    table = {
        1: 2,
        6: 3,
        7: 4,
        8: 3,
        9: 2,
        16: 3,
        17: 2,
        14: 3,
        29: 2,
        2: 1,
        26: 5,
        24: 7,
    }
    assert {z: ground_state_multiplicity(z) for z in table} == table


def test_emt_e0s_are_cached_per_settings(tmp_path, monkeypatch):
    e0s = isolated_atom_energies([29, 1, 29], EMTConfig(), tmp_path)
    assert set(e0s) == {1, 29}
    assert e0s[29] == pytest.approx(3.51, abs=1e-6)  # EMT's E0 for Cu
    (cache,) = tmp_path.glob("e0s_emt_*.json")
    assert json.loads(cache.read_text())["symbols"] == {"1": "H", "29": "Cu"}

    def boom(*args):
        raise AssertionError("computed again")

    monkeypatch.setattr(pax.dft, "label", boom)
    assert isolated_atom_energies([1], EMTConfig(timeout_s=5), tmp_path) == {1: e0s[1]}


def test_xtb_e0s_use_the_ground_state_spin(tmp_path):
    cfg = XTBConfig(charge=0, multiplicity=1)
    e0s = isolated_atom_energies([1, 8], cfg, tmp_path)
    for z, mult in [(1, 2), (8, 3)]:
        right = pax.dft.label(
            Atoms(numbers=[z]), XTBConfig(charge=0, multiplicity=mult), "."
        )
        assert e0s[z] == pytest.approx(right.energy, abs=1e-9)
    singlet_o = pax.dft.label(Atoms("O"), XTBConfig(charge=0, multiplicity=1), ".")
    assert abs(singlet_o.energy - e0s[8]) > 0.01  # the spin state matters (0.05 eV)
