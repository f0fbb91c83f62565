"""Small pieces of pax.mlff: config checks, graphs, metrics, sets, stress losses."""

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from pax.errors import ConfigError, PaxError
from pax.mlff.config import Dtype, MLFFConfig, PeriodicLoss
from pax.mlff.ensemble import Ensemble, split_sets
from pax.mlff.graphs import consecutive_chunks, geometry_key
from pax.mlff.metrics import error_metrics, per_element_force_errors
from tests.unit.mlff.frames import tiny_cfg


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"ensemble_size": 1}, "mlff.ensemble_size"),
        ({"lr": 0.0}, "mlff.lr"),
        ({"max_ell": 0}, "mlff.max_ell"),
        ({"radial_MLP": [16, 0]}, "mlff.radial_MLP"),
        ({"clip_grad": -1.0}, "mlff.clip_grad"),
        ({"default_dtype": "float16"}, "mlff.default_dtype"),
        ({"ema_decay": 1.0}, "mlff.ema_decay"),
        ({"stage_two_energy_weight": -1.0}, "mlff.stage_two_energy_weight"),
        ({"stage_two_forces_weight": -1.0}, "mlff.stage_two_forces_weight"),
        ({"warn_energy_spread": -0.1}, "mlff.warn_energy_spread"),
        ({"warn_energy_mae_ratio": 0.5}, "mlff.warn_energy_mae_ratio"),
    ],
)
def test_config_errors_name_the_key(kwargs, key):
    with pytest.raises(ConfigError) as err:
        MLFFConfig(**kwargs)
    assert err.value.key == key


def test_config_accepts_enum_strings():
    cfg = MLFFConfig(default_dtype="float64", periodic_loss="virials")
    assert (
        cfg.default_dtype is Dtype.float64 and cfg.periodic_loss is PeriodicLoss.virials
    )


def test_presets_compose(pax_config):
    small = pax_config(["mlff=mace_small"]).mlff
    medium = pax_config(["mlff=mace_medium"]).mlff
    assert (small.num_channels, small.max_L, small.r_max) == (32, 1, 5.0)
    assert small.radial_MLP == [16, 16, 16]
    assert medium.num_channels > small.num_channels


def test_metrics_equal_numpy():
    rng = np.random.default_rng(0)
    e_pred, e_ref, n = rng.normal(size=4), rng.normal(size=4), np.array([3, 2, 3, 1])
    f_pred, f_ref = rng.normal(size=(9, 3)), rng.normal(size=(9, 3))
    m = error_metrics(e_pred, e_ref, n, f_pred, f_ref)
    assert m["e_mae_per_atom"] == pytest.approx(np.abs((e_pred - e_ref) / n).mean())
    assert m["e_rmse"] == pytest.approx(np.sqrt(((e_pred - e_ref) ** 2).mean()))
    assert m["e_mae"] == pytest.approx(np.abs(e_pred - e_ref).mean())
    assert m["f_rmse"] == pytest.approx(np.sqrt(((f_pred - f_ref) ** 2).mean()))
    numbers = np.array([1, 1, 8, 1, 8, 6, 6, 1, 1])
    per = per_element_force_errors(numbers, f_pred, f_ref)
    assert set(per) == {"H", "C", "O"}
    sel = numbers == 8
    assert per["O"]["f_mae"] == pytest.approx(np.abs(f_pred[sel] - f_ref[sel]).mean())


def test_split_sets_shared_and_per_member():
    a = bulk("Cu")
    assert split_sets([a, a], 3) == [[a, a]] * 3
    assert split_sets([[a]], 2) == [[a], [a]]
    with pytest.raises(PaxError):
        split_sets([[a], [a]], 3)


def test_geometry_key_tracks_labels():
    a = bulk("Cu", cubic=True)
    a.info["REF_energy"] = 1.0
    b = a.copy()
    assert geometry_key(a) == geometry_key(b)
    b.info["REF_energy"] = 2.0
    assert geometry_key(a) != geometry_key(b)


def _copper(n=6):
    rng = np.random.default_rng(1)
    frames = []
    for i in range(n):
        atoms = bulk("Cu", cubic=True)
        atoms.rattle(0.05, seed=i)
        atoms.set_cell(atoms.cell * (1 + 0.01 * rng.normal()), scale_atoms=True)
        atoms.calc = EMT()
        atoms.info["REF_energy"] = atoms.get_potential_energy()
        atoms.info["REF_stress"] = atoms.get_stress()
        atoms.arrays["REF_forces"] = atoms.get_forces()
        atoms.calc = None
        frames.append(atoms)
    return frames


@pytest.mark.parametrize("kind", ["stress", "virials"])
def test_periodic_training_and_stress(kind):
    frames = _copper()
    ens = Ensemble.build(tiny_cfg(periodic_loss=kind), frames[:4], e0s={29: 0.0})
    recs = ens.train(frames[:4], frames[4:], epochs=2)
    assert all(np.isfinite(r["train_loss"]) for r in recs)
    out = ens.predict(frames[4:], compute_stress=True)
    assert out["stresses"].shape == (2, 2, 3, 3)
    calc = ens.calculator()
    atoms = frames[4].copy()
    atoms.calc = calc
    assert atoms.get_stress().shape == (6,)
    assert np.allclose(atoms.get_forces(), out["forces_comm"][:4])


def test_unknown_element_is_a_user_error():
    frames = _copper(2)
    ens = Ensemble.build(
        tiny_cfg(), frames, e0s={1: -13.6, 29: 0.0}, atomic_numbers=[1]
    )
    assert ens.atomic_numbers == [1, 29]
    with pytest.raises(PaxError, match="unknown to the models"):
        ens.predict([bulk("Ag")])


def test_consecutive_chunks_keep_order_and_the_atom_limit():
    frames = [bulk("Cu", cubic=True).repeat((1, 1, n)) for n in (1, 2, 1, 3, 1)]
    chunks = consecutive_chunks(frames, 8)  # 4, 8, 4, 12, 4 atoms
    assert [[len(a) for a in c] for c in chunks] == [[4], [8], [4], [12], [4]]
    assert [len(c) for c in consecutive_chunks(frames, 9)] == [1, 1, 1, 1, 1]
    assert [len(c) for c in consecutive_chunks(frames, 16)] == [3, 2]
    assert consecutive_chunks(frames, None) == [frames]


def test_chunked_prediction_equals_one_batch(monkeypatch):
    import pax.mlff.predict as predict

    frames = _copper()
    ens = Ensemble.build(tiny_cfg(), frames[:4], e0s={29: 0.0})
    whole = ens.predict(frames, compute_stress=True)
    monkeypatch.setattr(predict, "CPU_BATCH_ATOMS", 5)  # one 4-atom cell a chunk
    parts = ens.predict(frames, compute_stress=True)
    for key in ("energies", "forces", "forces_var", "stresses", "ptr"):
        assert parts[key].shape == whole[key].shape
        assert np.allclose(parts[key], whole[key], atol=1e-5), key
