"""The element-wise product basis gives mace-torch's numbers, and falls back safely."""

import logging

import numpy as np
import pytest
import torch
from ase.build import bulk

from pax.mlff import fast_product
from pax.mlff.fast_product import ElementContraction, for_inference
from tests.unit.md.helpers import molecule, tiny_mace


def _contractions(model, name):
    return [m for m in model.modules() if type(m).__name__ == name]


def _energy_forces_stress(model, atoms):
    from mace.calculators import MACECalculator

    atoms = atoms.copy()
    atoms.calc = MACECalculator(models=[model], device="cpu", default_dtype="float64")
    stress = atoms.get_stress() if atoms.pbc.all() else np.zeros(6)
    return atoms.get_potential_energy(), atoms.get_forces(), stress


@pytest.mark.parametrize(
    ("numbers", "max_L", "system"),
    [([1, 6, 8], 1, "aspirin"), ([1, 6, 8], 2, "ethanol"), ([29], 1, "cu")],
)
def test_same_energy_forces_stress_as_mace(numbers, max_L, system):
    model = tiny_mace(3, atomic_numbers=numbers, max_L=max_L)
    fast = for_inference(model)
    # layer 1 has one contraction per output irrep, the last layer only 0e
    assert len(_contractions(fast, "ElementContraction")) == max_L + 2
    assert not _contractions(fast, "Contraction")
    if system == "cu":
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
        atoms.rattle(0.05, seed=2)
    else:
        atoms = molecule(system)
        atoms.rattle(0.05, seed=2)
    e0, f0, s0 = _energy_forces_stress(model, atoms)
    e1, f1, s1 = _energy_forces_stress(fast, atoms)
    assert np.abs(f0).max() > 1e-3  # the comparison is not between zeros
    assert e1 == pytest.approx(e0, abs=1e-10)
    np.testing.assert_allclose(f1, f0, atol=1e-10)
    np.testing.assert_allclose(s1, s0, atol=1e-10)


def test_original_model_untouched():
    model = tiny_mace(0)
    for_inference(model)
    assert len(_contractions(model, "Contraction")) == 3
    assert all(p.requires_grad for p in model.parameters())


def test_any_element_attributes_not_only_one_hot():
    # the contraction is linear in y, so mixed attributes give mace-torch's answer too
    model = tiny_mace(1)
    old = _contractions(model, "Contraction")[0]
    new = ElementContraction(old)
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(
        7, old.weights_max.shape[-1], 16, generator=gen, dtype=torch.float64
    )
    y = torch.rand(7, 3, generator=gen, dtype=torch.float64)
    y[2] = 0.0  # a node with no element at all
    with torch.no_grad():
        np.testing.assert_allclose(new(x, y).numpy(), old(x, y).numpy(), atol=1e-12)


def test_disagreeing_swap_is_refused(monkeypatch, caplog):
    real_forward = ElementContraction.forward
    monkeypatch.setattr(
        ElementContraction, "forward", lambda self, x, y: 2 * real_forward(self, x, y)
    )
    with caplog.at_level(logging.WARNING, logger=fast_product.__name__):
        fast = for_inference(tiny_mace(0))
    assert len(_contractions(fast, "Contraction")) == 3
    assert "disagrees with mace-torch" in caplog.text


def test_training_model_keeps_state_dict_and_gradients():
    from pax.mlff.fast_product import use_element_contractions

    stock = tiny_mace(2)
    fast = use_element_contractions(tiny_mace(2))
    assert list(fast.state_dict()) == list(stock.state_dict())
    assert [n for n, _ in fast.named_parameters()] == [
        n for n, _ in stock.named_parameters()
    ]
    fast.load_state_dict(stock.state_dict())  # old checkpoints load
    atoms = molecule("ethanol")
    atoms.rattle(0.1, seed=4)
    grads = []
    for model in (stock, fast):
        from mace.tools import AtomicNumberTable

        from pax.mlff.graphs import GraphCache

        cache = GraphCache(AtomicNumberTable([1, 6, 8]), 5.0, torch.float64)
        batch = cache.batch([atoms], torch.device("cpu"))
        out = model(batch.to_dict(), training=True, compute_force=True)
        loss = out["energy"].sum() ** 2 + out["forces"].square().sum()
        model.zero_grad()
        loss.backward()  # through the forces: double backward
        grads.append([p.grad for p in model.parameters()])
    for g0, g1 in zip(*grads, strict=True):
        if g0 is None:
            assert g1 is None
            continue
        np.testing.assert_allclose(g1.numpy(), g0.numpy(), rtol=1e-8, atol=1e-12)


def test_cache_follows_weights_copied_through_data():
    # sync_eval_model and torch_ema copy weights with .data, which keeps _version
    a, b = tiny_mace(0), tiny_mace(1)
    fast = for_inference(a)
    atoms = molecule("water")
    atoms.rattle(0.05, seed=1)
    _, before, _ = _energy_forces_stress(fast, atoms)
    for dst, src in zip(fast.parameters(), b.parameters(), strict=True):
        dst.data.copy_(src.data)
    _, after, _ = _energy_forces_stress(fast, atoms)
    _, want, _ = _energy_forces_stress(b, atoms)
    assert np.abs(after - before).max() > 1e-6
    np.testing.assert_allclose(after, want, atol=1e-10)


def test_only_the_elements_present_are_formed():
    # a foundation model knows 89 elements; forming all of them would cost GBs
    fast = for_inference(tiny_mace(0, atomic_numbers=[1, 6, 7, 8]))
    atoms = molecule("water")
    _energy_forces_stress(fast, atoms)
    for module in _contractions(fast, "ElementContraction"):
        assert sorted(module._cache[1]) == [0, 3]  # H and O, not C and N
