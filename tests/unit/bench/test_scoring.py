"""Scoring from a pretrained ensemble: made once, loaded for every N, E0s replaced."""

import numpy as np
import pytest
import scoring
import torch

from tests.unit.mlff.frames import tiny_cfg, xtb_frames  # noqa: F401

PRE = {"valid_ratio": 0.2, "epochs": 1}


def test_pretrained_base_is_made_once_and_every_model_starts_from_it(
    tmp_path,
    xtb_frames,  # noqa: F811
    monkeypatch,
):
    from ase.io import write

    from pax.al.idg_config import PretrainConfig
    from pax.mlff import Ensemble

    cheap = tmp_path / "cheap.extxyz"
    write(str(cheap), xtb_frames[:10])
    path = tmp_path / "models" / "base.pt"
    cfg, pre = tiny_cfg(), PretrainConfig(**PRE)
    e0s_cheap = {1: -10.0, 6: -40.0, 8: -100.0}
    assert scoring.pretrained_base(cheap, cfg, e0s_cheap, pre, 0, path) == path
    made = path.stat().st_mtime_ns
    scoring.pretrained_base(cheap, cfg, e0s_cheap, pre, 0, path)
    assert path.stat().st_mtime_ns == made  # not pretrained again

    base = Ensemble.load(path)
    trained = []
    monkeypatch.setattr(Ensemble, "train", lambda self, *a, **k: trained.append(a))
    e0s = {1: -11.0, 6: -45.0, 8: -110.0}
    ens = scoring.train_fresh(
        xtb_frames[10:20], cfg, e0s, {"epochs": 3, "min_grad_steps": 1}, 0.1, 0, path
    )
    assert len(trained) == 1 and trained[0][2] == 3  # epochs of the protocol
    assert same_interactions(ens, base)  # loaded, not built anew
    energies = ens.models[0].atomic_energies_fn.atomic_energies.detach().numpy()
    assert np.allclose(np.sort(energies.ravel()), sorted(e0s.values()))
    fresh = scoring.train_fresh(
        xtb_frames[10:20], cfg, e0s, {"epochs": 3, "min_grad_steps": 1}, 0.1, 0
    )
    assert not same_interactions(fresh, base)


def test_a_pretrained_arm_also_scores_the_pretrained_ensemble_alone(
    tmp_path,
    xtb_frames,  # noqa: F811
):
    from ase.io import write

    from pax.al.idg_config import PretrainConfig

    for name, frames in (("cheap", xtb_frames[:10]), ("arm", xtb_frames[10:18])):
        write(str(tmp_path / f"{name}.extxyz"), frames)
    write(str(tmp_path / "test.extxyz"), xtb_frames[40:])
    task = {
        "frames": tmp_path / "arm.extxyz",
        "tests": {500.0: tmp_path / "test.extxyz"},
        "ns": [4],
        "mlff_cfg": tiny_cfg(),
        "e0s": {1: -11.0, 6: -45.0, 8: -110.0},
        "protocol": {"epochs": 1, "min_grad_steps": 1},
        "valid_ratio": 0.1,
        "replicate": 0,
        "stability_steps": 0,
        "cheap": tmp_path / "cheap.extxyz",
        "cheap_e0s": {1: -10.0, 6: -40.0, 8: -100.0},
        "pretrain": PretrainConfig(**PRE),
        "pretrained": tmp_path / "base.pt",
    }
    res = scoring.score_task(task)
    assert [r["n"] for r in res["rows"]] == [4]
    (alone,) = res["pretrained_only"]
    assert alone["n"] == 0 and alone["test_K"] == 500.0
    assert alone["f_mae"] != res["rows"][0]["f_mae"]
    plain = scoring.score_task({**task, "cheap": None})
    assert plain["pretrained_only"] is None


def same_interactions(a, b) -> bool:
    """Whether the first members' interaction weights are equal."""
    pa = a.members[0].model.interactions.parameters()
    pb = b.members[0].model.interactions.parameters()
    return all(torch.equal(x, y) for x, y in zip(pa, pb))


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)
