"""Trajectories on disk: frames at multiples of md.save_every_steps, appended."""

import pytest
from ase.build import molecule
from ase.io import read

from pax.errors import ConfigError
from pax.md.config import MDConfig
from pax.md.trajectories import TrajectoryFiles


@pytest.mark.parametrize("fmt", ["extxyz", "traj"])
def test_frames_at_each_multiple_once_and_appended(tmp_path, fmt):
    files = TrajectoryFiles(tmp_path, every_steps=10, fmt=fmt)
    water = molecule("H2O")
    written = [
        files.offer("al", 1, water, step, uncertainty=0.1 * step)
        for step in (5, 10, 15, 20, 35, 40)
    ]
    assert written == [True, True, False, True, True, True]  # 5: the first of 0..9
    again = TrajectoryFiles(tmp_path, every_steps=10, fmt=fmt)  # a resumed run
    again.offer("al", 1, water, 50, uncertainty=5.0)
    frames = read(tmp_path / f"al_001.{fmt}", index=":")
    if fmt == "extxyz":
        assert [a.info["md_step"] for a in frames] == [5, 10, 20, 35, 40, 50]
        assert frames[-1].info["uncertainty"] == 5.0
    assert len(frames) == 6 and len(frames[0]) == 3


def test_off_by_default_and_bad_settings_name_their_key(tmp_path):
    files = TrajectoryFiles(tmp_path, every_steps=MDConfig().save_every_steps)
    assert not files.offer("idg", 0, molecule("H2O"), 100)
    assert not any(tmp_path.iterdir())
    with pytest.raises(ConfigError, match="md.save_every_steps"):
        MDConfig(save_every_steps=-1)
    with pytest.raises(ConfigError, match="md.trajectory_format"):
        MDConfig(trajectory_format="pdb")
