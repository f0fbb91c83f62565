"""Each uncertainty measure equals a direct numpy computation on a hand-made committee."""

import numpy as np
import pytest
import torch

from pax.al.uncertainty import MEASURES, Committee, committee_uncertainty


@pytest.fixture
def committee():
    rng = np.random.default_rng(7)
    sizes = [5, 3, 9]  # atoms of three systems
    forces = rng.normal(size=(4, sum(sizes), 3))  # (K, A, 3) eV/Å
    energies = rng.normal(size=(4, 3)) * 10  # (K, B) eV
    batch = np.repeat(np.arange(3), sizes)
    c = Committee(
        torch.from_numpy(forces), torch.from_numpy(energies), torch.from_numpy(batch), 3
    )
    return c, forces, energies, batch, sizes


def _atomic_sd(forces):
    dev = forces - forces.mean(axis=0, keepdims=True)
    return np.sqrt((dev**2).mean(axis=(0, 2)))  # (A,)


def test_force_measures_match_numpy(committee):
    c, forces, _, batch, _ = committee
    atomic = _atomic_sd(forces)
    for b in range(3):
        mine = atomic[batch == b]
        assert MEASURES["max_atomic_sd"](c)[b].item() == pytest.approx(mine.max())
        assert MEASURES["mean_atomic_sd"](c)[b].item() == pytest.approx(mine.mean())


def test_energy_measure_is_per_atom(committee):
    c, _, energies, _, sizes = committee
    got = MEASURES["energy_sd_per_atom"](c).numpy()
    np.testing.assert_allclose(got, energies.std(axis=0) / np.array(sizes))


def test_atomic_sd_is_not_the_norm_of_the_variance(committee):
    # The definition pax uses everywhere: RMS over members and x, y, z, which is
    # 1/sqrt(3) of the norm of the per-component SD vector.
    c, forces, _, _, _ = committee
    norm = np.sqrt(forces.var(axis=0).sum(-1))
    np.testing.assert_allclose(c.atomic_sd.numpy() * np.sqrt(3), norm)


def test_all_measures_reported(committee):
    c, *_ = committee
    out = committee_uncertainty(c)
    assert set(MEASURES) | {"atomic_sd", "energy_sd"} == set(out)
    assert all(out[name].shape == (3,) for name in MEASURES)


def test_intermolecular_measure_matches_numpy(committee):
    """Each system split into molecules; the SD of each molecule's total force."""
    c, forces, _, batch, sizes = committee
    local = [np.array([0, 0, 1, 1, 1]), np.array([0, 1, 2]), np.repeat([0, 1, 2], 3)]
    offsets = np.cumsum([0] + [m.max() + 1 for m in local])
    molecule = np.concatenate([m + o for m, o in zip(local, offsets)])
    c.molecule = torch.from_numpy(molecule)
    got = MEASURES["intermol_force_sd"](c).numpy()
    for b in range(3):
        sds = []
        for m in np.unique(molecule[batch == b]):
            total = forces[:, molecule == m].sum(axis=1)  # (K, 3)
            dev = total - total.mean(axis=0)
            sds.append(np.sqrt((dev**2).mean()))
        assert got[b] == pytest.approx(max(sds))
    both = MEASURES["max_atomic_or_intermol_sd"](c).numpy()
    np.testing.assert_allclose(
        both, np.maximum(got, MEASURES["max_atomic_sd"](c).numpy())
    )


def test_one_molecule_has_no_intermolecular_spread():
    rng = np.random.default_rng(0)
    forces = rng.normal(size=(3, 6, 3))
    forces -= forces.mean(axis=1, keepdims=True)  # each member's total force is 0
    c = Committee(
        torch.from_numpy(forces),
        torch.zeros(3, 1, dtype=torch.float64),
        torch.zeros(6, dtype=torch.int64),
        1,
    )
    assert MEASURES["intermol_force_sd"](c).item() == pytest.approx(0.0, abs=1e-12)


def test_molecules_of_a_water_dimer():
    from ase.build import molecule

    from pax.md.molecules import molecule_ids

    one = molecule("H2O")
    other = one.copy()
    other.translate([3.0, 0, 0])
    np.testing.assert_array_equal(molecule_ids(one + other), [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(molecule_ids(molecule("CH3CH2OH")), [0] * 9)


def test_intermolecular_torque_matches_numpy():
    """Torques about each molecule's centre of mass, across a periodic boundary."""
    rng = np.random.default_rng(3)
    positions = rng.uniform(0, 2, size=(6, 3))
    positions[3:] += [5.0, 0, 0]
    masses = rng.uniform(1, 16, size=6)
    forces = rng.normal(size=(4, 6, 3))
    molecule = np.array([0, 0, 0, 1, 1, 1])
    c = Committee(
        torch.from_numpy(forces),
        torch.zeros(4, 1, dtype=torch.float64),
        torch.zeros(6, dtype=torch.int64),
        1,
        torch.from_numpy(molecule),
        torch.from_numpy(positions),
        torch.from_numpy(masses),
    )
    sds = []
    for m in (0, 1):
        sel = molecule == m
        com = (masses[sel, None] * positions[sel]).sum(0) / masses[sel].sum()
        tau = np.cross(positions[sel] - com, forces[:, sel]).sum(1)  # (K, 3) eV
        sds.append(np.sqrt(((tau - tau.mean(0)) ** 2).mean()))
    got = MEASURES["intermol_torque_sd"](c).item()
    assert got == pytest.approx(max(sds))
    # the same molecules wrapped through a periodic cell of 10 Å
    cell = np.eye(3) * 10.0
    wrapped = positions.copy()
    wrapped[4] -= [10.0, 0, 0]
    c.positions, c.cells = torch.from_numpy(wrapped), torch.from_numpy(cell[None])
    c.pbc = torch.ones(1, 3, dtype=torch.bool)
    assert MEASURES["intermol_torque_sd"](c).item() == pytest.approx(max(sds))


def test_given_molecules_cover_every_atom_once():
    from pax.errors import ConfigError
    from pax.system.geometry import molecule_partition

    np.testing.assert_array_equal(molecule_partition([[0, 2], [1, 3]], 4), [0, 1, 0, 1])
    for bad in ([[0, 1], [1, 2, 3]], [[0, 1, 2]], [[0, 1, 2, 9]]):
        with pytest.raises(ConfigError, match="system.molecules"):
            molecule_partition(bad, 4)


def test_system_molecules_reach_the_md():
    from pax.md.molecules import molecule_ids
    from pax.system.geometry import load_systems
    from tests.conftest import build

    cfg = build(["system=water", "system.molecules=[[0],[1,2]]"])
    (water,) = load_systems(cfg.system)
    np.testing.assert_array_equal(molecule_ids(water), [0, 1, 1])
