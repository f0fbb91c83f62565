"""Energy pieces: offset least squares, committee energy spread, end-of-run warning."""

import numpy as np
import pytest
from ase import Atoms

from pax.al.finalize import energy_figures, energy_warning
from pax.mlff.config import MLFFConfig
from pax.mlff.metrics import energy_spread_per_atom
from pax.mlff.offsets import composition, lstsq_offsets, set_fingerprint


def test_lstsq_offsets_recover_per_element_energies():
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 6, size=(12, 3)).astype(float)  # (N, H C O)
    true = np.array([-0.4, 1.2, 0.05])  # eV per element
    noise = rng.normal(0, 1e-3, size=12)
    c = lstsq_offsets(counts, counts @ true + noise)
    np.testing.assert_allclose(c, true, atol=2e-3)


def test_lstsq_offsets_one_composition_fits_exactly():
    counts = np.tile([6.0, 2.0, 1.0], (5, 1))  # ethanol only: rank one
    residual = np.array([1.0, 1.2, 0.8, 1.1, 0.9])
    c = lstsq_offsets(counts, residual)
    assert counts[0] @ c == pytest.approx(residual.mean())  # the mean offset
    np.testing.assert_allclose(c, counts[0] * residual.mean() / 41.0)  # min norm


def test_composition_and_fingerprint():
    water = Atoms("H2O", positions=[[0, 0, 0], [0, 0, 1], [0, 1, 0]])
    methane = Atoms("CH4", positions=np.eye(5, 3))
    np.testing.assert_array_equal(
        composition([water, methane], [1, 6, 8]), [[2, 0, 1], [4, 1, 0]]
    )
    assert set_fingerprint([water, methane]) != set_fingerprint([methane, water])
    labelled = water.copy()
    labelled.info["REF_energy"] = -1.0
    assert set_fingerprint([water]) != set_fingerprint([labelled])


def test_energy_spread_per_atom_is_sd_over_members():
    energies = np.array([[1.0, 10.0], [3.0, 10.0], [2.0, 13.0]])  # (K=3, N=2) eV
    spread = energy_spread_per_atom(energies, np.array([2, 3]))
    np.testing.assert_allclose(
        spread, [np.std([0.5, 1.5, 1.0]), np.std([10, 10, 13]) / 3]
    )


def _metrics(maes, spread):
    members = [{"e_mae_per_atom": m} for m in maes]
    return {"mean": {"e_spread_per_atom": spread}, "members": members}


@pytest.mark.parametrize(
    ("maes", "spread", "says"),
    [
        ([0.002, 0.003], 0.001, None),
        ([0.042, 0.043, 0.152, 0.387], 0.001, "warn_energy_mae_ratio=2x"),
        ([0.004, 0.005], 0.02, "warn_energy_spread=5 meV/atom"),
    ],
)
def test_energy_warning(maes, spread, says):
    warning = energy_warning(_metrics(maes, spread), MLFFConfig())
    if says is None:
        assert warning is None
    else:
        assert says in warning


def test_energy_figures_in_mev():
    mean = {
        "e_mae_per_atom": 0.002,
        "e_rmse_per_atom": 0.003,
        "e_mae": 0.04,
        "e_rmse": 0.05,
        "e_spread_per_atom": 0.001,
    }
    block = {"mean": mean, "members": [{"e_mae_per_atom": 0.001}]}
    out = energy_figures({"final_validation": block, "test": block})
    assert out["valid_e_mae_meV_per_atom"] == pytest.approx(2.0)
    assert out["test_e_rmse_meV"] == pytest.approx(50.0)
    assert out["test_member_e_mae_meV_per_atom"] == [pytest.approx(1.0)]
