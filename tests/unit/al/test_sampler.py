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


def test_sampler_langevin_keeps_centre_of_mass_at_rest(pax_config, tmp_path):
    """md.fix_com: ASE's FixCom holds the centre of mass (Langevin's fixcm is off)."""
    cfg = pax_config(
        ["system=ethanol", "al.idg.sampler=xtb", "al.idg.skip_step_initial=20"]
    )
    start = molecule("ethanol")
    sampler = Sampler(cfg, [start], tmp_path)
    for _ in range(3):
        sampler.next_frame()
    traj = sampler.trajs[0]
    np.testing.assert_allclose(traj.get_momenta().sum(0), 0.0, atol=1e-10)
    np.testing.assert_allclose(
        traj.get_center_of_mass(), start.get_center_of_mass(), atol=1e-8
    )
    assert sampler.steps[0] == 60


def test_sampler_without_fix_com_lets_the_centre_of_mass_drift(pax_config, tmp_path):
    cfg = pax_config(["system=ethanol", "al.idg.sampler=xtb", "md.fix_com=false"])
    sampler = Sampler(cfg, [molecule("ethanol")], tmp_path)
    sampler.next_frame()
    assert not sampler.trajs[0].constraints
    assert np.abs(sampler.trajs[0].get_momenta().sum(0)).max() > 1e-6
