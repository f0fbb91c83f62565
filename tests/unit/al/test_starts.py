"""Where AL trajectories start (al.start_from) and their temperatures (K)."""

import logging

import numpy as np
import pytest

from pax.al.context import Context
from pax.al.starts import al_starts, start_geometries, trajectory_configs
from pax.md import BatchedMD
from pax.md.config import MDConfig
from tests.unit.md.helpers import molecule, tiny_mace


def _frames(atoms, count):
    """count distinct positions (n, 3) Å of atoms, the k-th shifted by k Å."""
    return [atoms.positions + k for k in range(count)]


def test_geometry_starts_are_copies_of_the_systems_in_turn():
    water, ethanol = molecule("water"), molecule("ethanol")
    starts = start_geometries([water, ethanol], 5)
    assert [len(a) for a in starts] == [3, 9, 3, 9, 3]
    for atoms in starts:
        ref = water if len(atoms) == 3 else ethanol
        np.testing.assert_array_equal(atoms.positions, ref.positions)
    starts[0].positions += 1.0
    np.testing.assert_array_equal(starts[2].positions, water.positions)


def test_idg_end_starts_take_distinct_late_frames_newest_first():
    water, ethanol = molecule("water"), molecule("ethanol")
    water.set_momenta(np.ones((3, 3)))
    late = [_frames(water, 3), _frames(ethanol, 2)]
    starts = start_geometries([water, ethanol], 8, late)
    shifts = [
        float(a.positions[0, 0] - s.positions[0, 0])
        for a, s in zip(starts, [water, ethanol] * 4, strict=True)
    ]
    # water: newest (2), then 1, 0, cycling; ethanol: 1, 0, 1, 0
    assert shifts == pytest.approx([2, 1, 1, 0, 0, 1, 2, 0])
    assert not any(a.has("momenta") for a in starts)  # MD draws fresh velocities
    assert water.has("momenta")


def test_a_system_without_frames_starts_at_its_geometry():
    water, ethanol = molecule("water"), molecule("ethanol")
    starts = start_geometries([water, ethanol], 4, [_frames(water, 2), []])
    np.testing.assert_array_equal(starts[1].positions, ethanol.positions)
    np.testing.assert_array_equal(starts[3].positions, ethanol.positions)
    np.testing.assert_array_equal(starts[0].positions, water.positions + 1)


def _context(pax_config, tmp_path, start_from):
    cfg = pax_config(
        ["system=ethanol", f"al.start_from={start_from}", "al.num_trajectories=3"]
    )
    systems = [molecule("ethanol")]
    return Context(cfg, tmp_path, systems, None, None, None, None)


def test_idg_end_reads_the_saved_sampler_state_so_a_resume_gets_the_same(
    pax_config, tmp_path
):
    ctx = _context(pax_config, tmp_path, "idg_end")
    late = [_frames(ctx.systems[0], 2)]
    ctx.save("idg", {"sampler": {"late": late}})
    first = al_starts(ctx)
    again = al_starts(_context(pax_config, tmp_path, "idg_end"))
    for a, b, k in zip(first, again, [1, 0, 1], strict=True):
        np.testing.assert_array_equal(a.positions, b.positions)
        np.testing.assert_array_equal(a.positions, ctx.systems[0].positions + k)
    geometry = al_starts(_context(pax_config, tmp_path, "geometry"))
    np.testing.assert_array_equal(geometry[0].positions, ctx.systems[0].positions)


def test_idg_end_without_an_idg_falls_back_to_the_geometry(
    pax_config, tmp_path, caplog
):
    ctx = _context(pax_config, tmp_path, "idg_end")  # seed_from_files: no idg.pt
    with caplog.at_level(logging.INFO, logger="pax.al.starts"):
        starts = al_starts(ctx)
    assert "start at the geometry" in caplog.text
    for atoms in starts:
        np.testing.assert_array_equal(atoms.positions, ctx.systems[0].positions)


def test_temperature_list_cycles_over_the_trajectories():
    md = MDConfig(temperature_K=500.0, friction_per_fs=0.01)
    assert trajectory_configs([md], [], 3) == [md] * 3
    configs = trajectory_configs([md], [300, 900], 3)
    assert [c.temperature_K for c in configs] == [300.0, 900.0, 300.0]
    assert all(c.friction_per_fs == 0.01 for c in configs)


def test_each_trajectory_draws_and_keeps_its_own_temperature():
    md = MDConfig(temperature_K=500.0)
    n = 64
    aspirin = molecule("aspirin")
    run = BatchedMD(
        md,
        [tiny_mace(0), tiny_mace(1)],
        [aspirin] * n,
        per_system=trajectory_configs([md], [300, 900], n),
    )
    np.testing.assert_allclose(
        run.state.layout.temperature_K.numpy()[:4], [300, 900] * 2
    )
    t = run.temperatures_K()
    assert t[0::2].mean() == pytest.approx(300, rel=0.1)
    assert t[1::2].mean() == pytest.approx(900, rel=0.1)
    for i in range(n):  # the quiet-period restart draws at the trajectory's own
        run.reset(i, aspirin.copy())
    t = run.temperatures_K()
    assert t[1::2].mean() / t[0::2].mean() == pytest.approx(3, rel=0.15)
