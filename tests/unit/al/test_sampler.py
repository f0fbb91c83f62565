"""The IDG sampler drives MD with a MACE model file through the element-wise product."""

import numpy as np
import pytest
import torch
from ase import units

from pax.al.sampler import BatchedSampler, Sampler, make_calculator, make_sampler
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


def mace_file(tmp_path, seed: int = 0):
    """A random MACE, weak enough for a few cold MD steps (no bonds to keep)."""
    path = tmp_path / f"sampler_{seed}.model"
    torch.save(tiny_mace(seed, dtype=torch.float64, scale=0.01), path)
    return path


def test_batched_sampler_follows_the_ase_sampler_in_nve(pax_config, tmp_path):
    """One trajectory, same model and start: pax's velocity Verlet = ASE's."""
    cfg = pax_config(
        [
            "system=ethanol",
            "al.idg.sampler=foundation",
            f"al.idg.foundation_model={mace_file(tmp_path)}",
            "md.integrator=nve",
            "md.temperature_K=100",
            "al.idg.equilibration_fs=0",
            "al.idg.sample_interval_fs=0",
            "al.idg.skip_step_initial=10",
        ]
    )
    batched = make_sampler(cfg, [molecule("ethanol")], tmp_path)
    one = Sampler(cfg, [molecule("ethanol")], tmp_path)
    assert isinstance(batched, BatchedSampler) and not isinstance(one, BatchedSampler)
    for _ in range(3):
        (i, ours), (j, ase_frame) = batched.next_frame(), one.next_frame()
        assert i == j == 0
        np.testing.assert_allclose(ours.positions, ase_frame.positions, atol=1e-6)
    assert batched.steps == one.steps == [30]
    assert batched.temperature_K(0) == pytest.approx(one.temperature_K(0), rel=1e-4)


def test_batched_sampler_hands_out_frames_in_turn_and_resumes(pax_config, tmp_path):
    cfg = pax_config(
        [
            "system=ethanol",
            "al.idg.sampler=foundation",
            f"al.idg.foundation_model={mace_file(tmp_path)}",
            "al.idg.trajectories_per_system=3",
            "md.temperature_K=100",
            "al.idg.equilibration_fs=5",
            "al.idg.sample_interval_fs=5",
            "al.num_trajectories=2",
        ]
    )
    sampler = make_sampler(cfg, [molecule("ethanol")], tmp_path)
    got = [sampler.next_frame() for _ in range(4)]
    assert [i for i, _ in got] == [0, 1, 2, 0]
    assert sampler.steps == [30, 20, 20]  # 10 steps equilibration, frames 10 apart
    first = [f.positions for _, f in got[:3]]
    assert not np.allclose(first[0], first[1]) and not np.allclose(first[1], first[2])
    late = sampler.late[0]  # one system: its last two frames, newest last
    assert len(late) == 2
    np.testing.assert_array_equal(late[-1], got[-1][1].positions)
    saved = sampler.state_dict()
    ahead = [sampler.next_frame()[1].positions for _ in range(3)]
    again = make_sampler(cfg, [molecule("ethanol")], tmp_path)
    again.load_state_dict(saved)
    for expected in ahead:
        np.testing.assert_array_equal(again.next_frame()[1].positions, expected)


def test_ase_samplers_take_turns_over_several_trajectories(pax_config, tmp_path):
    cfg = pax_config(
        [
            "system=ethanol",
            "al.idg.sampler=xtb",
            "al.idg.trajectories_per_system=2",
            "al.idg.equilibration_fs=0",
            "al.idg.sample_interval_fs=0",
            "al.idg.skip_step_initial=5",
        ]
    )
    sampler = make_sampler(cfg, [molecule("ethanol")], tmp_path)
    assert not isinstance(sampler, BatchedSampler)
    frames = [sampler.next_frame() for _ in range(3)]
    assert [i for i, _ in frames] == [0, 1, 0] and sampler.steps == [10, 5]
    assert not np.allclose(frames[0][1].positions, frames[1][1].positions)


def test_dispersion_keeps_the_ase_sampler(pax_config, tmp_path):
    cfg = pax_config(
        [
            "system=ethanol",
            "al.idg.sampler=foundation",
            f"al.idg.foundation_model={mace_file(tmp_path)}",
            "al.idg.dispersion=true",
        ]
    )
    assert not isinstance(
        make_sampler(cfg, [molecule("ethanol")], tmp_path), BatchedSampler
    )
