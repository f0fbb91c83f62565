"""Our batched graphs give mace-torch's own answers; the uncertainty is aims-PAX's."""

import numpy as np
import pytest
import torch
from ase.io import read

from pax.md import BatchedMD
from pax.md.config import DrivingForce, MDConfig
from tests.conftest import ROOT
from tests.unit.md.helpers import molecule, tiny_mace


@pytest.fixture(scope="module")
def members():
    return [tiny_mace(seed) for seed in range(3)]


def _calculator(models):
    from mace.calculators import MACECalculator

    return MACECalculator(models=models, device="cpu", default_dtype="float64")


def test_forces_energy_match_mace_calculator(members):
    systems = [molecule("aspirin"), molecule("water"), molecule("ethanol")]
    md = BatchedMD(MDConfig(), members, systems)
    md.advance(3)
    for i in range(3):
        atoms = md.atoms(i)
        atoms.calc = _calculator(members)
        s = md.state.layout.slice(i)
        forces = md.state.forces[s].numpy()
        np.testing.assert_allclose(forces, atoms.get_forces(), atol=1e-10)
        assert md.state.energy_eV[i].item() == pytest.approx(
            atoms.get_potential_energy(), abs=1e-9
        )


def test_periodic_forces_and_stress_match_mace_calculator():
    cu = [tiny_mace(seed, atomic_numbers=[29]) for seed in range(2)]
    atoms = read(ROOT / "data" / "systems" / "copper.extxyz")
    atoms.rattle(0.05, seed=3)
    md = BatchedMD(MDConfig(), cu, [atoms])
    md.advance(2)
    ref = md.atoms(0)
    ref.calc = _calculator(cu)
    np.testing.assert_allclose(md.state.forces.numpy(), ref.get_forces(), atol=1e-10)
    voigt = md.state.stress[0].numpy()[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
    np.testing.assert_allclose(voigt, ref.get_stress(), atol=1e-10)


def test_uncertainty_equals_direct_numpy(members):
    systems = [molecule("aspirin"), molecule("ethanol")]
    md = BatchedMD(MDConfig(), members, systems)
    md.advance(2)
    got = md.uncertainty()
    for i in range(2):
        atoms = md.atoms(i)
        atoms.calc = _calculator(members)
        atoms.get_forces()
        comm = atoms.calc.results["forces_comm"]  # (K, n, 3) eV/Å
        energies = atoms.calc.results["energy_comm"]  # (K,) eV
        dev = comm - comm.mean(axis=0, keepdims=True)
        atomic = np.sqrt((dev**2).mean(axis=(0, 2)))
        np.testing.assert_allclose(got["atomic_sd"][i], atomic, rtol=1e-9, atol=1e-12)
        assert got["max_atomic_sd"][i] == pytest.approx(atomic.max(), rel=1e-9)
        assert got["mean_atomic_sd"][i] == pytest.approx(atomic.mean(), rel=1e-9)
        assert got["energy_sd"][i] == pytest.approx(np.std(energies), rel=1e-9)
        assert got["energy_sd_per_atom"][i] == pytest.approx(
            np.std(energies) / len(atoms), rel=1e-9
        )
        assert got["max_atomic_sd"][i] > 0


def test_member_driven_uses_one_member_and_uncertainty_uses_all(members):
    cfg = MDConfig(driving_force=DrivingForce.member, driving_member=1)
    md = BatchedMD(cfg, members, [molecule("ethanol")])
    md.advance(2)
    atoms = md.atoms(0)
    atoms.calc = _calculator([members[1]])
    np.testing.assert_allclose(md.state.forces.numpy(), atoms.get_forces(), atol=1e-10)
    mean_driven = BatchedMD(MDConfig(), members, [md.atoms(0)])
    np.testing.assert_allclose(
        md.uncertainty()["max_atomic_sd"],
        mean_driven.uncertainty()["max_atomic_sd"],
        rtol=1e-9,
    )


def test_float32_models_evaluate_in_float32():
    models = [tiny_mace(seed, dtype=torch.float32) for seed in range(2)]
    md = BatchedMD(MDConfig(), models, [molecule("water")])
    md.advance(2)
    assert md.state.positions_A.dtype == torch.float64
    assert np.isfinite(md.uncertainty()["max_atomic_sd"]).all()


@pytest.mark.parametrize("element_contraction", [True, False])
def test_element_contraction_switch(members, element_contraction):
    md = BatchedMD(
        MDConfig(element_contraction=element_contraction),
        members,
        [molecule("aspirin"), molecule("water")],
    )
    kinds = {type(m).__name__ for model in md.models for m in model.modules()}
    assert ("ElementContraction" in kinds) == element_contraction
    assert ("Contraction" in kinds) != element_contraction
    md.advance(20)
    atoms = md.atoms(0)
    atoms.calc = _calculator(members)  # stock mace-torch either way
    np.testing.assert_allclose(
        md.state.forces[md.state.layout.slice(0)].numpy(),
        atoms.get_forces(),
        atol=1e-10,
    )


@pytest.mark.parametrize("max_atoms", [1, 12, 30])
def test_sub_batches_give_the_whole_batch_answer(members, max_atoms):
    from pax.md.forces import evaluate, split

    systems = [molecule(n) for n in ("water", "aspirin", "ethanol", "water", "ethanol")]
    md = BatchedMD(MDConfig(max_batch_atoms=None), members, systems)
    graph = md._graph(md._current_subset())
    parts = split(graph, max_atoms)
    sizes = [int(p.ptr[-1]) for p in parts]
    assert sum(sizes) == 45 and sum(p.ptr.numel() - 1 for p in parts) == 5
    assert all(s <= max_atoms or p.ptr.numel() == 2 for s, p in zip(sizes, parts))
    assert sum(p.edge_index.shape[1] for p in parts) == graph.edge_index.shape[1]
    whole = evaluate(members, graph, False)
    chunked = evaluate(members, graph, False, max_atoms=max_atoms)
    np.testing.assert_allclose(chunked.forces, whole.forces, atol=1e-12)
    np.testing.assert_allclose(chunked.energy_eV, whole.energy_eV, atol=1e-10)


def test_max_batch_atoms_default_on_cpu_and_validation(members):
    from pax.errors import ConfigError

    assert BatchedMD(MDConfig(), members, [molecule("water")]).max_batch_atoms == 256
    with pytest.raises(ConfigError, match="md.max_batch_atoms"):
        MDConfig(max_batch_atoms=0)
