"""Pausing, resetting, replacing and stopping single trajectories while others run."""

import numpy as np
import pytest
import torch
from ase.io import read

from pax.errors import ConfigError
from pax.md import BatchedMD
from pax.md.config import DrivingForce, Integrator, MDConfig
from tests.conftest import ROOT
from tests.unit.md.helpers import molecule, tiny_mace


@pytest.fixture(scope="module")
def members():
    return [tiny_mace(seed) for seed in range(2)]


def test_pause_resume_keeps_the_paused_trajectory_frozen(members):
    md = BatchedMD(MDConfig(), members, [molecule("water"), molecule("ethanol")])
    md.advance(3)
    before = md.uncertainty()["max_atomic_sd"]
    md.pause(0)
    after = md.uncertainty()["max_atomic_sd"]
    assert np.isnan(after[0]) and after[1] == pytest.approx(before[1], rel=1e-9)
    frozen = md.atoms(0)
    md.advance(5)
    np.testing.assert_array_equal(md.atoms(0).positions, frozen.positions)
    np.testing.assert_array_equal(md.steps, [3, 8])
    assert np.isnan(md.uncertainty()["max_atomic_sd"][0])
    md.resume(0)
    md.advance(2)
    np.testing.assert_array_equal(md.steps, [5, 10])
    assert md.running.all()


def test_reset_to_a_checkpoint_and_replace_by_another_system(members):
    md = BatchedMD(MDConfig(), members, [molecule("ethanol"), molecule("water")])
    checkpoint = md.atoms(0)
    md.advance(5)
    md.reset(0, checkpoint)
    np.testing.assert_array_equal(md.atoms(0).positions, checkpoint.positions)
    np.testing.assert_allclose(
        md.atoms(0).get_velocities(), checkpoint.get_velocities(), atol=1e-12
    )
    md.reset(1, molecule("aspirin"))  # a different system in the same slot
    assert len(md.atoms(1)) == 21 and len(md.atoms(0)) == 9
    assert md.temperatures_K()[1] > 0  # velocities drawn
    md.advance(3)
    u = md.uncertainty()
    assert u["atomic_sd"][1].shape == (21,) and np.isfinite(u["max_atomic_sd"]).all()


def test_broken_trajectories_stop_with_a_reason_and_the_rest_go_on(members):
    cfg = MDConfig(max_temperature_K=3000.0, max_bond_stretch_A=4.0, check_every=1)
    md = BatchedMD(cfg, members, [molecule("ethanol")] * 5)
    hot = molecule("ethanol")
    hot.set_velocities(np.random.default_rng(0).normal(0, 0.5, (9, 3)))  # ~1e5 K
    md.reset(0, hot)
    apart = molecule("ethanol")
    apart.positions[0] += [12.0, 0.0, 0.0]
    md.reset(1, apart)
    broken = molecule("ethanol")
    broken.positions[1] = broken.positions[2]  # two atoms on one spot: NaN forces
    md.reset(2, broken)
    fused = molecule("ethanol")
    fused.positions[1] = fused.positions[2] + [0.3, 0.0, 0.0]  # 0.3 Å < min_distance_A
    md.reset(4, fused)
    md.advance(3)
    assert [md.stop_reason(i) for i in range(5)] == [
        "runaway_temperature",
        "atoms_flew_apart",
        "nan_forces",
        None,
        "atoms_collided",
    ]
    np.testing.assert_array_equal(md.stopped, [True, True, True, False, True])
    assert md.steps[3] == 3
    md.reset(2, molecule("ethanol"))
    assert md.running[2] and md.stop_reason(2) is None


def test_set_models_swaps_members_and_keeps_trajectories(members):
    md = BatchedMD(MDConfig(), members, [molecule("water")])
    md.advance(2)
    before = md.uncertainty()["max_atomic_sd"][0]
    positions = md.state.positions_A.clone()
    md.set_models([tiny_mace(10), tiny_mace(11)])
    assert torch.equal(md.state.positions_A, positions)
    assert md.uncertainty()["max_atomic_sd"][0] != before
    md.advance(1)
    assert md.steps[0] == 3


def test_settings_the_integrators_cannot_honour_name_the_key(members):
    with pytest.raises(ConfigError, match="md.integrator"):
        BatchedMD(MDConfig(integrator=Integrator.npt), members, [molecule("water")])
    member = MDConfig(driving_force=DrivingForce.member, driving_member=5)
    with pytest.raises(ConfigError, match="md.driving_member"):
        BatchedMD(member, members, [molecule("water")])
    with pytest.raises(ConfigError, match="md.timestep_fs"):
        MDConfig(timestep_fs=0)
    copper = read(ROOT / "data" / "systems" / "copper.extxyz")
    with pytest.raises(ValueError, match="no elements"):
        BatchedMD(MDConfig(), members, [copper]).advance(1)
