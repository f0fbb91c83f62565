"""Members fine-tuned from a MACE file this test trains (mlff.init=finetune)."""

# ruff: noqa: F811

import numpy as np
import pytest
import torch
from ase import Atoms

from pax.errors import ConfigError
from pax.mlff.ensemble import Ensemble
from pax.mlff.foundation import foundation_stats
from tests.unit.mlff.frames import tiny_cfg, xtb_frames  # noqa: F401

FOUNDATION_FRAMES = slice(0, 30)
FEW = slice(30, 36)  # the "expensive" labels fine-tuning sees
HELD_OUT = slice(40, 50)


@pytest.fixture(scope="module")
def foundation(tmp_path_factory, xtb_frames):
    """A MACE file trained on 30 frames: the stand-in for a foundation model."""
    frames = xtb_frames[FOUNDATION_FRAMES]
    ens = Ensemble.build(tiny_cfg(r_max=3.5, num_channels=16), frames, e0s=None)
    ens.train(frames, frames[:5], epochs=25)
    out = tmp_path_factory.mktemp("foundation")
    return ens.export(out)[0]


def finetune_cfg(path, **finetune):
    return tiny_cfg(init="finetune", foundation_model=str(path), finetune=finetune)


def f_mae(ens, frames) -> float:
    return float(ens.evaluate(frames)["mean"]["f_mae"])


def test_finetuning_keeps_what_the_foundation_learned(foundation, xtb_frames):
    few, held_out = xtb_frames[FEW], xtb_frames[HELD_OUT]
    tuned = Ensemble.build(finetune_cfg(foundation), few, e0s=None)
    scratch = Ensemble.build(tiny_cfg(r_max=3.5, num_channels=16), few, e0s=None)
    for ens in (tuned, scratch):
        ens.train(few, few[:2], epochs=5)
    assert tuned.r_max == 3.5  # the foundation's cutoff, not tiny_cfg's 4.0
    assert f_mae(tuned, held_out) < 0.7 * f_mae(scratch, held_out)


def test_naive_members_differ_only_in_their_readouts(foundation, xtb_frames):
    ens = Ensemble.build(finetune_cfg(foundation), xtb_frames[FEW], e0s=None)
    base = dict(torch.load(foundation, weights_only=False).named_parameters())
    a, b = (dict(m.model.named_parameters()) for m in ens.members)
    for key, value in base.items():
        if value.numel() == 0:
            continue
        same = torch.allclose(a[key].double(), value.double())
        assert same != key.startswith("readouts."), key
    assert not torch.allclose(
        a["readouts.0.linear.weight"], b["readouts.0.linear.weight"]
    )
    spread = ens.predict(xtb_frames[HELD_OUT])["forces_var"]
    assert spread.max() > 0


def test_freeze_keeps_the_named_blocks(foundation, xtb_frames):
    few = xtb_frames[FEW]
    ens = Ensemble.build(
        finetune_cfg(foundation, method="freeze", freeze=["node_embedding"]),
        few,
        e0s=None,
    )
    before = {k: v.clone() for k, v in ens.members[0].model.state_dict().items()}
    ens.train(few, few[:2], epochs=2)
    after = ens.members[0].model.state_dict()
    assert torch.equal(
        before["node_embedding.linear.weight"], after["node_embedding.linear.weight"]
    )
    assert not torch.equal(
        before["readouts.0.linear.weight"], after["readouts.0.linear.weight"]
    )


def test_default_freeze_list_builds(foundation, xtb_frames):
    ens = Ensemble.build(
        finetune_cfg(foundation, method="freeze"), xtb_frames[FEW], None
    )
    frozen = [
        n for n, p in ens.members[0].model.named_parameters() if not p.requires_grad
    ]
    assert frozen and all(n.startswith("node_embedding.") for n in frozen)


def test_freeze_of_an_unknown_block_names_the_key(foundation, xtb_frames):
    cfg = finetune_cfg(foundation, method="freeze", freeze=["embeddings"])
    with pytest.raises(ConfigError, match="mlff.finetune.freeze.*node_embedding"):
        Ensemble.build(cfg, xtb_frames[FEW], e0s=None)


def test_lora_trains_adapters_and_exports_plain_models(
    foundation, xtb_frames, tmp_path
):
    from mace.calculators import MACECalculator

    few = xtb_frames[FEW]
    ens = Ensemble.build(
        finetune_cfg(foundation, method="lora", lora_rank=2), few, e0s=None
    )
    model = ens.members[0].model
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trained and all("lora_" in n for n in trained)
    base = {n: p.clone() for n, p in model.named_parameters() if not p.requires_grad}
    ens.train(few, few[:2], epochs=3)
    assert all(
        torch.equal(p, base[n]) for n, p in model.named_parameters() if n in base
    )
    held_out = xtb_frames[HELD_OUT]
    predicted = ens.predict(held_out)["forces"][0]
    path = ens.export(tmp_path)[0]
    exported = torch.load(path, weights_only=False)
    assert not any("LoRA" in type(m).__name__ for m in exported.modules())
    calc = MACECalculator(
        model_paths=[str(path)], device="cpu", default_dtype="float64"
    )
    forces = []
    for atoms in held_out:
        atoms = atoms.copy()
        atoms.calc = calc
        forces.append(atoms.get_forces())
    np.testing.assert_allclose(np.concatenate(forces), predicted, atol=1e-6)


def test_checkpoint_round_trip(foundation, xtb_frames, tmp_path):
    few = xtb_frames[FEW]
    ens = Ensemble.build(finetune_cfg(foundation, method="lora"), few, e0s=None)
    ens.train(few, few[:2], epochs=1)
    ens.save(tmp_path / "ens.pt")
    back = Ensemble.load(tmp_path / "ens.pt")
    np.testing.assert_allclose(
        back.predict(few)["forces"], ens.predict(few)["forces"], atol=1e-10
    )


def test_elements_the_foundation_lacks_name_the_key(foundation):
    with pytest.raises(ConfigError, match="mlff.foundation_model.*not \\[7\\]"):
        foundation_stats(finetune_cfg(foundation), [1, 7], None)


def test_e0s_from_the_reference_or_the_foundation(foundation):
    own = foundation_stats(finetune_cfg(foundation), [1], None).e0s
    ref = {1: -10.0, 6: -1000.0, 8: -2000.0}
    assert foundation_stats(finetune_cfg(foundation), [1], ref).e0s == ref
    kept = tiny_cfg(init="finetune", foundation_model=str(foundation), e0s="foundation")
    assert foundation_stats(kept, [1], ref).e0s == own


def test_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="mlff.foundation_model"):
        tiny_cfg(init="finetune")
    with pytest.raises(ConfigError, match="mlff.e0s.*init=finetune"):
        tiny_cfg(e0s="foundation")
    with pytest.raises(ConfigError, match="mlff.finetune.method"):
        tiny_cfg(init="finetune", foundation_model="x", finetune={"method": "full"})
    not_a_model = tmp_path / "x.model"
    torch.save({"weights": 1}, not_a_model)
    with pytest.raises(ConfigError, match="not a MACE model file"):
        Ensemble.build(finetune_cfg(not_a_model), [Atoms("H")], e0s=None)
