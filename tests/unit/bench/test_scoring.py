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


def same_interactions(a, b) -> bool:
    """Whether the first members' interaction weights are equal."""
    pa = a.members[0].model.interactions.parameters()
    pb = b.members[0].model.interactions.parameters()
    return all(torch.equal(x, y) for x, y in zip(pa, pb))


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)
