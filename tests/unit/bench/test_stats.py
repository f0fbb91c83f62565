"""The benchmark's statistics on samples whose answers are known."""

import math

import numpy as np
import pytest
import stats

pytestmark = pytest.mark.timeout(60)


def test_t_interval_known_samples():
    # mean 2, sd 1, n 3: half width t(0.975, 2) * 1 / sqrt(3) = 4.3027 / 1.7321
    out = stats.t_interval([1.0, 2.0, 3.0])
    assert out["mean"] == pytest.approx(2.0)
    assert out["hi"] - out["mean"] == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)
    assert out["mean"] - out["lo"] == pytest.approx(out["hi"] - out["mean"])


def test_t_interval_single_sample_has_no_width():
    assert stats.t_interval([0.3]) == {"mean": 0.3, "lo": 0.3, "hi": 0.3, "seeds": 1}


def test_t_interval_covers_the_mean_95_percent():
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(2000):
        out = stats.t_interval(rng.normal(5.0, 2.0, size=4))
        hits += out["lo"] <= 5.0 <= out["hi"]
    assert 0.93 < hits / 2000 < 0.97


def test_labels_to_target_interpolates_a_power_law_exactly():
    n = np.array([8, 16, 32, 64, 128])
    err = 2.0 * n**-0.5  # 0.707, 0.5, 0.354, 0.25, 0.177
    assert stats.labels_to_target(n, err, 0.3) == pytest.approx((2.0 / 0.3) ** 2)
    assert stats.labels_to_target(n, err, 0.5) == pytest.approx(16.0)


def test_labels_to_target_edges():
    n, err = [8, 16, 32], [0.4, 0.3, 0.2]
    assert stats.labels_to_target(n, err, 0.5) == 8.0  # below target from the start
    assert stats.labels_to_target(n, err, 0.1) is None  # never reached: censored
    # a curve that goes up then down: the first crossing counts
    assert stats.labels_to_target(n, [0.3, 0.4, 0.25], 0.3) == 8.0
    with pytest.raises(ValueError):
        stats.labels_to_target([16, 8], [0.3, 0.2], 0.25)


def test_labels_interval_brackets_the_point():
    n = [8, 16, 32, 64, 128]
    rng = np.random.default_rng(0)
    curves = [2.0 * np.array(n) ** -0.5 * rng.uniform(0.9, 1.1) for _ in range(5)]
    out = stats.labels_interval(n, curves, 0.3, n_boot=500)
    assert out["lo"] <= out["labels"] <= out["hi"]
    assert out["reached"] == 1.0
    unreachable = stats.labels_interval(n, curves, 0.01, n_boot=100)
    assert unreachable["labels"] is None and unreachable["hi"] == math.inf


def test_ratio_interval_recovers_a_known_ratio():
    n = [8, 16, 32, 64, 128]
    pax = [2.0 * np.array(n) ** -0.5] * 3
    uniform = [2.0 * (np.array(n) / 4.0) ** -0.5] * 3  # needs 4x the labels
    out = stats.ratio_interval(n, uniform, pax, 0.5, n_boot=200)  # 64 vs 16
    assert out["ratio"] == pytest.approx(4.0)
    assert out["lo"] == pytest.approx(4.0) and out["hi"] == pytest.approx(4.0)


def test_ratio_interval_only_pax_reaches():
    n = [8, 16]
    out = stats.ratio_interval(n, [[1.0, 0.9]] * 3, [[0.5, 0.2]] * 3, 0.3, n_boot=50)
    assert out["ratio"] is None and out["lo"] == math.inf


def test_mean_ratio_interval_brackets_the_ratio_of_means():
    out = stats.mean_ratio_interval([300.0, 400.0, 500.0], [100.0, 150.0, 200.0])
    assert out["ratio"] == pytest.approx(400.0 / 150.0)
    assert 1.5 <= out["lo"] < out["ratio"] < out["hi"] <= 5.0  # 300/200, 500/100
    assert out["usable"] == 1.0


def test_mean_ratio_interval_a_seed_that_never_reached_is_inf():
    out = stats.mean_ratio_interval([math.inf, 400.0], [100.0, 100.0], n_boot=200)
    assert out["ratio"] == math.inf and out["hi"] == math.inf and out["lo"] >= 4.0


@pytest.mark.parametrize("total", [128, 100, 37])
def test_spread_order_prefixes_are_evenly_spaced(total):
    order = stats.spread_order(total)
    assert sorted(order) == list(range(total))
    for n in (4, 8, 16, 32):
        if n > total:
            continue
        chosen = sorted(order[:n])
        gaps = np.diff(chosen)
        assert gaps.min() >= math.floor(total / n) and gaps.max() <= math.ceil(
            total / n
        )
        assert chosen[0] == 0 and total - chosen[-1] <= math.ceil(total / n)


def test_quantile_abs():
    assert stats.quantile_abs(np.arange(-100, 101), 0.5) == pytest.approx(50.0, abs=1)


def test_training_length_is_epochs_with_a_floor_of_steps():
    from scoring import epochs_for

    assert epochs_for(115, 5, epochs=60, min_grad_steps=600) == 60  # 23 steps/epoch
    assert epochs_for(7, 5, epochs=60, min_grad_steps=600) == 300  # 2 steps/epoch
    assert epochs_for(10, 5, epochs=1, min_grad_steps=0) == 1


def test_bond_check_ignores_thermal_stretching_but_sees_breaks_and_new_bonds():
    from ase.io import read
    from scoring import bonds_changed

    from tests.conftest import ROOT

    start = read(ROOT / "data" / "systems" / "ethanol.xyz")
    o = [a.index for a in start if a.symbol == "O"][0]
    d = start.get_all_distances()[o]
    h = min((a.index for a in start if a.symbol == "H"), key=lambda i: d[i])  # O-H
    assert not bonds_changed(start, start.copy())

    def moved(dist):
        atoms = start.copy()
        v = atoms.positions[h] - atoms.positions[o]
        atoms.positions[h] = atoms.positions[o] + dist * v / np.linalg.norm(v)
        return atoms

    assert not bonds_changed(start, moved(1.2))  # O-H at 1.2 Å: hot, not broken
    assert bonds_changed(start, moved(2.0))  # broken
    fused = start.copy()
    c = [a.index for a in start if a.symbol == "C"][0]
    fused.positions[h] = fused.positions[c] + [0.0, 0.0, 0.7]  # a new C-H
    assert bonds_changed(start, fused)
