"""Energies as good as forces: no constant offset left after IDG-like training (xTB)."""

import numpy as np
import pytest

from pax.mlff.ensemble import Ensemble
from tests.unit.mlff.frames import tiny_cfg, xtb_frames  # noqa: F401


def _reference_e0s(tmp_path):
    """GFN2-xTB isolated-atom energies of H, C, O, as a default run uses them."""
    from pax.dft.e0s import isolated_atom_energies
    from pax.dft.xtb import XTBConfig

    return isolated_atom_energies([1, 6, 8], XTBConfig(), tmp_path)


def _offset_fit_alone(pred, ref, counts, pred_new, counts_new):
    """Predictions on new frames after a per-element least-squares offset fit.

    Args:
        pred: (N,) model energies on the training frames, eV.
        ref: (N,) reference energies there, eV.
        counts: (N, n_elements) composition of the training frames.
        pred_new: (M,) model energies on the new frames, eV.
        counts_new: (M, n_elements) their composition.
    """
    c, *_ = np.linalg.lstsq(counts, ref - pred, rcond=None)
    return pred_new + counts_new @ c


def test_no_constant_energy_offset_after_growing_training(xtb_frames, tmp_path):  # noqa: F811
    """IDG+AL-like: data grows in chunks, then the convergence phase.

    Two interactions as in mace_small: the learned per-element constant then
    drifts by hundreds of meV/atom unless the offsets are re-fit (issue 16).
    """
    train, valid, test = xtb_frames[:36], xtb_frames[36:40], xtb_frames[40:]
    cfg = tiny_cfg(num_interactions=2)
    ens = Ensemble.build(cfg, train[:6], _reference_e0s(tmp_path))
    for n in range(6, 37, 6):
        ens.train(train[:n], valid, epochs=2, phase="idg")
    ens.converge(train, valid, patience=2, margin=0.0, max_epochs=4, members="all")

    n_atoms = len(test[0])
    ref_train = np.array([a.info["REF_energy"] for a in train])
    ref_test = np.array([a.info["REF_energy"] for a in test])
    pred_train = ens.predict(train)["energies"]  # (K, 36) eV
    pred_test = ens.predict(test)["energies"]  # (K, 10) eV
    counts = np.full((len(train), 1), n_atoms)  # one composition: one column
    counts_test = np.full((len(test), 1), n_atoms)
    fitted = np.array(
        [
            _offset_fit_alone(p, ref_train, counts, q, counts_test)
            for p, q in zip(pred_train, pred_test)
        ]
    )

    def mae(pred):  # meV/atom
        return 1e3 * float(np.mean(np.abs(pred - ref_test))) / n_atoms

    ensemble_mae, offset_fit_mae = mae(pred_test.mean(0)), mae(fitted.mean(0))
    members = [mae(p) for p in pred_test]
    constant = mae(np.full(len(test), ref_train.mean()))  # predict the mean energy
    msg = (
        f"ensemble {ensemble_mae:.2f}, offset fit alone {offset_fit_mae:.2f}, "
        f"members {members}, mean-energy predictor {constant:.2f} meV/atom"
    )
    assert ensemble_mae <= 3 * offset_fit_mae, msg  # no constant offset left
    assert max(members) <= 2 * min(members), msg  # members agree on energies
    assert ensemble_mae < constant, msg  # beats predicting the mean energy


def test_refit_changes_energies_not_forces(xtb_frames, tmp_path):  # noqa: F811
    """The re-fit moves energies by counts @ delta, forces not at all."""
    from pax.mlff.metrics import energy_spread_per_atom
    from pax.mlff.offsets import composition

    train, test = xtb_frames[:20], xtb_frames[40:]
    ens = Ensemble.build(tiny_cfg(), train, _reference_e0s(tmp_path))
    ens.train(train, test[:4], epochs=2)
    ens.offsets_fit_on = [None] * 2
    shift = [0.3, -0.2, 0.1]  # eV per H, C, O: a drift the re-fit must undo
    for m in ens.members:
        for model in (m.model, m.eval_model):
            model.atomic_energies_fn.atomic_energies.add_(
                model.atomic_energies_fn.atomic_energies.new_tensor(shift)
            )
    before = ens.predict(test)
    deltas = ens.refit_offsets(train)
    after = ens.predict(test)
    assert len(deltas) == 4  # 2 members x (training and evaluation weights)
    assert np.abs(after["forces"] - before["forces"]).max() <= 1e-10
    counts = composition(test, ens.atomic_numbers)
    for k in range(2):
        expected = before["energies"][k] + counts @ deltas[2 * k + 1]
        np.testing.assert_allclose(after["energies"][k], expected, atol=1e-8)
    ref = np.array([a.info["REF_energy"] for a in train])
    residual = ref[None] - ens.predict(train)["energies"]  # (K, 20) eV
    assert np.abs(residual.mean(1)).max() < 1e-8  # least squares: no mean offset
    again = ens.refit_offsets(train)
    assert max(np.abs(d).max() for d in again) < 1e-8  # idempotent
    loaded = Ensemble.load(ens.save(tmp_path / "ens.pt"))
    np.testing.assert_allclose(
        loaded.predict(test)["energies"], after["energies"], atol=1e-10
    )
    assert loaded.offsets_fit_on == ens.offsets_fit_on
    atoms = test[0].copy()
    atoms.calc = loaded.calculator()
    atoms.get_potential_energy()
    spread = energy_spread_per_atom(after["energies"][:, :1], np.array([len(atoms)]))
    assert atoms.calc.results["energy_sd_per_atom"] == pytest.approx(spread[0])


@pytest.mark.parametrize("weights", [(0.0, 1.0), (1.0, 0.0)])
def test_stage_two_weights_reach_the_loss(weights):
    """The convergence phase's loss takes mlff.stage_two_*_weight."""
    import torch

    from pax.mlff.train import Losses

    cfg = tiny_cfg(
        stage_two_energy_weight=weights[0], stage_two_forces_weight=weights[1]
    )
    losses = Losses(cfg, torch.device("cpu"), torch.float64, stage_two=True)
    assert float(losses.plain.energy_weight) == weights[0]
    assert float(losses.plain.forces_weight) == weights[1]
    assert float(
        Losses(cfg, torch.device("cpu"), torch.float64).plain.forces_weight
    ) == (cfg.forces_weight)


@pytest.mark.slow
def test_idg_and_al_run_leaves_no_energy_offset(xtb_frames, tmp_path):  # noqa: F811
    """A real pax run (IDG + AL, xTB, ethanol): the exported models' energies."""
    import json

    import ase.io

    from pax.mlff.predict import ModelFiles
    from tests.integration.workflow_helpers import run_pax

    run_dir = tmp_path / "run"
    done = run_pax(
        run_dir,
        "system=ethanol",
        "md.temperature_K=500",
        "mlff.num_interactions=2",
        "mlff.max_L=1",
        "al.idg.min_initial_set_size=16",
        "al.idg.max_initial_set_size=16",
        "al.max_train_set_size=18",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = run_dir / "results"
    models = ModelFiles(sorted((results / "models").glob("*.model")), "cpu")
    train = ase.io.read(results / "train.extxyz", ":")
    held = xtb_frames  # an independent 500 K GFN2-xTB trajectory
    n_atoms = len(held[0])
    ref_train = np.array([a.info["REF_energy"] for a in train])
    ref_held = np.array([a.info["REF_energy"] for a in held])
    pred_train = models.predict(train)["energies"]  # (K, N) eV
    pred_held = models.predict(held)["energies"]
    offsets = (ref_train[None] - pred_train).mean(1)  # one composition
    maes = 1e3 * np.mean(np.abs(pred_held - ref_held), 1) / n_atoms  # meV/atom
    fitted = 1e3 * np.mean(np.abs(pred_held + offsets[:, None] - ref_held), 1) / n_atoms
    ensemble = 1e3 * np.mean(np.abs(pred_held.mean(0) - ref_held)) / n_atoms
    ensemble_fitted = (
        1e3
        * np.mean(np.abs((pred_held + offsets[:, None]).mean(0) - ref_held))
        / n_atoms
    )
    msg = f"ensemble {ensemble:.2f} (fit {ensemble_fitted:.2f}), members {maes} ({fitted})"
    assert ensemble <= 3 * ensemble_fitted, msg
    assert maes.max() <= 2 * maes.min(), msg
    summary = json.loads((results / "summary.json").read_text())
    energy = summary["energy"]
    assert len(energy["valid_member_e_mae_meV_per_atom"]) == 2
    assert energy["valid_e_spread_meV_per_atom"] >= 0
    assert "energy_warning" in summary
