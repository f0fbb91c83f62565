"""The IDG sampler drives MD with a MACE model file through the element-wise product."""

import numpy as np
import pytest
import torch
from ase import units

from pax.al.sampler import Sampler, make_calculator
from tests.unit.md.helpers import molecule, tiny_mace


def test_mace_file_sampler_matches_stock_mace(pax_config, tmp_path):
    from mace.calculators import MACECalculator

    path = tmp_path / "foundation.model"
    model = tiny_mace(0, dtype=torch.float32)
    torch.save(model, path)
    cfg = pax_config(
        [
            "system=ethanol",
            "al.idg.sampler=foundation",
            f"al.idg.foundation_model={path}",
        ]
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
    cfg = pax_config(["system=ethanol", "al=aims_pax", "al.idg.skip_step_initial=20"])
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


def test_sampler_equilibrates_then_spaces_frames_in_fs(pax_config, tmp_path):
    """5 fs (10 steps) of equilibration, then frames 9.8 fs or more (20 steps) apart."""
    cfg = pax_config(
        [
            "system=ethanol",
            "al.idg.sampler=xtb",
            "al.idg.equilibration_fs=5",
            "al.idg.sample_interval_fs=9.8",
            "al.num_trajectories=2",
        ]
    )
    sampler = Sampler(cfg, [molecule("ethanol")], tmp_path)
    frames = [sampler.next_frame()[1] for _ in range(3)]
    assert sampler.steps == [10 + 3 * 20]
    late = sampler.state_dict()["late"][0]  # the last two frames, newest last
    assert len(late) == 2
    np.testing.assert_array_equal(late[-1], frames[-1].positions)
    np.testing.assert_array_equal(late[0], frames[1].positions)
    again = Sampler(cfg, [molecule("ethanol")], tmp_path)
    again.load_state_dict(sampler.state_dict())
    np.testing.assert_array_equal(again.late[0][0], late[0])


def test_sampler_friction_defaults_to_the_md_one(pax_config, tmp_path):
    base = ["system=ethanol", "al=aims_pax", "md.friction_per_fs=0.002"]
    for extra, friction in (([], 0.002), (["al.idg.friction_per_fs=0.01"], 0.01)):
        sampler = Sampler(pax_config(base + extra), [molecule("ethanol")], tmp_path)
        dynamics = sampler._dynamics(0, seed=0)
        assert dynamics.fr == pytest.approx(friction / units.fs)
        assert sampler.sampler_steps == [(0, 25)]
