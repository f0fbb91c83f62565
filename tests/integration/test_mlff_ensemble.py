"""MACE ensembles on xTB-labelled ethanol: training, predict, checkpoints, export, eval."""

import json

import ase.io
import numpy as np
import pytest
import torch

from pax.errors import PaxError
from pax.mlff.ensemble import Ensemble
from tests.unit.mlff.frames import tiny_cfg, xtb_frames  # noqa: F401


@pytest.fixture(scope="module")
def split(xtb_frames):  # noqa: F811
    return xtb_frames[:40], xtb_frames[40:]


@pytest.fixture(scope="module")
def trained(split):
    train, valid = split
    ens = Ensemble.build(tiny_cfg(lr=0.01), train, e0s=None)
    before = ens.evaluate(valid)
    records = ens.train(train, valid, epochs=25)
    return ens, before, records


def test_training_lowers_force_error_below_bound(trained, split):
    ens, before, records = trained
    _, valid = split
    # Bound: half the error of predicting zero forces (the mean |F| component).
    # A model that learned less than half the force signal has not trained.
    zero_baseline = np.mean(
        np.abs(np.concatenate([a.arrays["REF_forces"] for a in valid]))
    )
    after = ens.evaluate(valid)
    assert after["mean"]["f_mae"] < 0.5 * zero_baseline
    assert after["mean"]["f_mae"] < 0.5 * before["mean"]["f_mae"]
    last = [r for r in records if r["epoch"] == 25]
    assert [r["member"] for r in last] == [0, 1, "mean"]
    assert last[-1]["valid_f_mae"] == pytest.approx(after["mean"]["f_mae"])
    # AL takes its validation errors from this record instead of evaluating again
    e_mae = after["mean"]["e_mae_per_atom"]
    assert last[-1]["valid_e_mae_per_atom"] == pytest.approx(e_mae)
    for key in (
        "train_loss",
        "valid_e_mae_per_atom",
        "valid_f_mae",
        "valid_f_rmse",
        "lr",
    ):
        assert np.isfinite(last[0][key])


def test_members_differ(trained, split):
    ens, _, _ = trained
    out = ens.predict(split[1])
    assert not np.allclose(out["forces"][0], out["forces"][1], atol=1e-3)
    assert np.all(out["forces_var"] > 0)
    w0, w1 = (next(m.parameters()).detach() for m in ens.models)
    assert not np.allclose(w0.numpy(), w1.numpy())


def test_batched_predict_equals_single(trained, split):
    ens, _, _ = trained
    frames = split[1][:5]
    out = ens.predict(frames)
    ptr = out["ptr"]
    assert out["energies"].shape == (2, 5) and out["forces"].shape == (2, ptr[-1], 3)
    for i, atoms in enumerate(frames):
        one = ens.predict([atoms])
        np.testing.assert_allclose(
            one["energies"][:, 0], out["energies"][:, i], atol=1e-9
        )
        np.testing.assert_allclose(
            one["forces"], out["forces"][:, ptr[i] : ptr[i + 1]], atol=1e-9
        )


def test_checkpoint_resume_matches_uninterrupted(split, tmp_path):
    train, valid = split
    cfg = tiny_cfg()
    straight = Ensemble.build(cfg, train, e0s=None)
    straight.train(train, valid, epochs=4)
    first = Ensemble.build(cfg, train, e0s=None)
    first.train(train, valid, epochs=2)
    path = first.save(tmp_path / "ens.pt")
    resumed = Ensemble.load(path)
    assert resumed.epoch == 2
    resumed.train(train, valid, epochs=2)
    for a, b in zip(straight.members, resumed.members):
        for (name, pa), pb in zip(a.model.named_parameters(), b.model.parameters()):
            np.testing.assert_allclose(
                pa.detach().numpy(), pb.detach().numpy(), atol=1e-8, err_msg=name
            )
        for pa, pb in zip(a.eval_model.parameters(), b.eval_model.parameters()):
            np.testing.assert_allclose(pa.numpy(), pb.numpy(), atol=1e-8)
    assert not list(tmp_path.glob(".ens.pt.*"))  # no temp files left


def test_export_loads_in_macecalculator(trained, split, tmp_path):
    from mace.calculators import MACECalculator

    ens, _, _ = trained
    paths = ens.export(tmp_path)
    assert [p.name for p in paths] == ["member_0.model", "member_1.model"]
    for path in paths:  # plain mace-torch: loads where pax is not installed
        model = torch.load(path, weights_only=False)
        assert not [m for m in model.modules() if type(m).__module__.startswith("pax")]
    frames = split[1][:3]
    out = ens.predict(frames)
    calc = MACECalculator(model_paths=[str(p) for p in paths], device="cpu")
    ours = ens.calculator()
    for i, atoms in enumerate(frames):
        atoms = atoms.copy()
        atoms.calc = calc
        forces = atoms.get_forces()
        np.testing.assert_allclose(
            forces, out["forces_comm"][out["ptr"][i] : out["ptr"][i + 1]], atol=1e-5
        )
        assert atoms.get_potential_energy() == pytest.approx(out["energy"][i], abs=1e-5)
        atoms.calc = ours
        np.testing.assert_allclose(atoms.get_forces(), forces, atol=1e-5)
        dev = out["forces"][:, out["ptr"][i] : out["ptr"][i + 1]]
        dev = dev - dev.mean(0, keepdims=True)  # (K, n, 3) eV/Å
        atomic_sd = np.sqrt((dev**2).mean(axis=(0, 2)))
        assert ours.results["max_atomic_sd"] == pytest.approx(atomic_sd.max())
        assert ours.results["mean_atomic_sd"] == pytest.approx(atomic_sd.mean())


def test_per_member_sets_and_converge(split):
    train, valid = split
    ens = Ensemble.build(tiny_cfg(valid_skip=2), [train[:20], train[20:]], e0s=None)
    records = ens.train([train[:20], train[20:]], valid, epochs=3)
    assert {r["epoch"] for r in records} == {2}  # valid_skip=2
    result = ens.converge(
        train, valid, patience=2, margin=0.0, max_epochs=6, members="best"
    )
    (k,) = result["members"]
    assert result["epochs"] <= 6
    from pax.mlff.train import Losses, evaluate_member

    stage_two = Losses(ens.cfg, ens.device, ens.dtype, stage_two=True)
    loss = evaluate_member(ens.members[k], ens._batches(valid), stage_two)[0]
    assert loss == pytest.approx(result["best_valid_loss"][k], rel=1e-9)
    assert ens.best_member() in (0, 1)


def test_pax_eval_equals_numpy(trained, split, tmp_path):
    from mace.calculators import MACECalculator

    from pax.mlff.evaluate import main

    ens, _, _ = trained
    run_dir = tmp_path / "run"
    paths = ens.export(run_dir / "results" / "models")
    test = tmp_path / "test.extxyz"
    ase.io.write(test, split[1], format="extxyz")
    metrics = main(
        [str(run_dir), str(test), "--out", str(tmp_path / "ev"), "--device", "cpu"]
    )
    saved = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert saved["f_mae"] == pytest.approx(metrics["f_mae"])
    assert (tmp_path / "ev" / "forces_parity.png").stat().st_size > 1000
    calc = MACECalculator(model_paths=[str(p) for p in paths], device="cpu")
    de, df, numbers = [], [], []
    for atoms in split[1]:
        a = atoms.copy()
        a.calc = calc
        de.append((a.get_potential_energy() - atoms.info["REF_energy"]) / len(a))
        df.append(a.get_forces() - atoms.arrays["REF_forces"])
        numbers.append(a.numbers)
    de, df, numbers = np.array(de), np.concatenate(df), np.concatenate(numbers)
    assert saved["e_mae_per_atom"] == pytest.approx(np.abs(de).mean(), abs=1e-6)
    assert saved["f_mae"] == pytest.approx(np.abs(df).mean(), abs=1e-6)
    assert saved["f_rmse"] == pytest.approx(np.sqrt((df**2).mean()), abs=1e-6)
    assert saved["per_element"]["O"]["f_mae"] == pytest.approx(
        np.abs(df[numbers == 8]).mean(), abs=1e-6
    )
    # a checkpoint is accepted too, and a missing path is a one-line user error
    ckpt = ens.save(tmp_path / "ens.pt")
    again = main(
        [str(ckpt), str(test), "--out", str(tmp_path / "ev2"), "--device", "cpu"]
    )
    assert again["f_mae"] == pytest.approx(metrics["f_mae"], abs=1e-9)
    with pytest.raises(PaxError):
        main([str(tmp_path / "nope"), str(test)])


def test_descriptors_are_mace_calculators_averaged_per_structure(
    trained, split, tmp_path
):
    from mace.calculators import MACECalculator

    ens, _, _ = trained
    _, valid = split
    got = ens.descriptors(valid[:3])
    first = ens.export(tmp_path / "models")[0]
    dtype = str(ens.dtype).removeprefix("torch.")
    calc = MACECalculator(model_paths=str(first), device="cpu", default_dtype=dtype)
    for atoms, row in zip(valid[:3], got):
        want = calc.get_descriptors(atoms, invariants_only=True).mean(axis=0)
        np.testing.assert_allclose(row, want, rtol=1e-5, atol=1e-7)
    assert got.shape[0] == 3 and not np.allclose(got[0], got[1])
