"""A small MACE model saved by the test labels geometries by path."""

import numpy as np
import pytest
from ase.build import molecule

from pax.dft import label
from pax.dft.e0s import isolated_atom_energies
from pax.dft.teacher import TeacherConfig

E0S = {1: -13.6, 6: -1029.0, 8: -2041.0}  # eV, stored in the model


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A random-weight MACE (8 channels, L=0, 1 interaction), float64, saved whole."""
    import torch
    from e3nn import o3
    from mace import modules

    torch.manual_seed(0)
    torch.set_default_dtype(torch.float64)
    try:
        model = modules.MACE(
            r_max=4.0,
            num_bessel=4,
            num_polynomial_cutoff=5,
            max_ell=1,
            interaction_cls=modules.interaction_classes[
                "RealAgnosticResidualInteractionBlock"
            ],
            interaction_cls_first=modules.interaction_classes[
                "RealAgnosticInteractionBlock"
            ],
            num_interactions=1,
            num_elements=3,
            hidden_irreps=o3.Irreps("8x0e"),
            MLP_irreps=o3.Irreps("4x0e"),
            atomic_energies=np.array(list(E0S.values())),
            avg_num_neighbors=3.0,
            atomic_numbers=list(E0S),
            correlation=2,
            gate=torch.nn.functional.silu,
        )
    finally:
        torch.set_default_dtype(torch.float32)
    path = tmp_path_factory.mktemp("teacher") / "tiny.model"
    torch.save(model, path)
    return path


def test_teacher_labels_by_path(tiny_model, tmp_path):
    from mace.calculators import MACECalculator

    cfg = TeacherConfig(model=str(tiny_model), charge=0, multiplicity=1)
    atoms = molecule("CH3CH2OH")
    result = label(atoms, cfg, str(tmp_path))
    assert result.ok, result.reason
    direct = atoms.copy()
    direct.calc = MACECalculator(
        model_paths=str(tiny_model), device="cpu", default_dtype="float64"
    )
    assert result.energy == pytest.approx(direct.get_potential_energy(), abs=1e-9)
    np.testing.assert_allclose(result.forces, direct.get_forces(), atol=1e-9)
    assert np.abs(result.forces).max() > 0  # a real, non-trivial prediction
    again = label(atoms, cfg, str(tmp_path))  # the child keeps the loaded model
    assert again.energy == result.energy and again.wall_s < result.wall_s


def test_teacher_e0s_are_the_models_atomic_energies(tiny_model, tmp_path):
    cfg = TeacherConfig(model=str(tiny_model), charge=0, multiplicity=1)
    e0s = isolated_atom_energies([1, 6, 8], cfg, tmp_path)
    assert e0s == pytest.approx(E0S, abs=1e-6)
