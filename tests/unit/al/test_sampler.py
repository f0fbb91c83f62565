"""The IDG sampler drives MD with a MACE model file through the element-wise product."""

import numpy as np
import torch

from pax.al.sampler import Sampler, make_calculator
from tests.unit.md.helpers import molecule, tiny_mace


def test_mace_file_sampler_matches_stock_mace(pax_config, tmp_path):
    from mace.calculators import MACECalculator

    path = tmp_path / "foundation.model"
    model = tiny_mace(0, dtype=torch.float32)
    torch.save(model, path)
    cfg = pax_config(
        ["system=ethanol", "al.idg.sampler=mace", f"al.idg.foundation_model={path}"]
    )
    calc = make_calculator(cfg, tmp_path)
    kinds = {type(m).__name__ for m in calc.models[0].modules()}
    assert "ElementContraction" in kinds and "Contraction" not in kinds
    atoms = molecule("ethanol")
    atoms.rattle(0.05, seed=0)
    atoms.calc = calc
    ours = atoms.get_forces()
    atoms.calc = MACECalculator(
        models=[tiny_mace(0, dtype=torch.float32)],
        device="cpu",
        default_dtype="float64",
    )
    np.testing.assert_allclose(ours, atoms.get_forces(), atol=1e-9)
    index, frame = Sampler(cfg, [molecule("ethanol")], tmp_path).next_frame()
    assert index == 0 and np.isfinite(frame.positions).all()
