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
