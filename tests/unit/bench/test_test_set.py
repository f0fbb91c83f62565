"""Test sets: independent trajectories, seeds no arm uses, frames 50 fs apart."""

import numpy as np
import pytest
import seeds
from ase.io import read
from make_test_set import ensure_test_set, make_test_set

from tests.conftest import ROOT

pytestmark = pytest.mark.timeout(120)
WATER = ROOT / "data" / "systems" / "water.xyz"


def test_seed_blocks_are_disjoint():
    blocks = [seeds.block(r) for r in seeds.ROLES]
    for i, a in enumerate(blocks):
        for b in blocks[i + 1 :]:
            assert a.stop <= b.start or b.stop <= a.start
    assert seeds.role_of(seeds.seed("pax", 3, seeds.MLFF_OFFSET + 3)) == "pax"
    with pytest.raises(ValueError):
        seeds.seed("uniform", 0, seeds.REPLICATE_BLOCK)  # would spill into the next
    with pytest.raises(KeyError):
        seeds.seed("nope")


@pytest.fixture(scope="module")
def water_set():
    # real GFN2-xTB on water: 5 trajectories, 3 frames each, 50 fs apart
    return make_test_set(
        WATER, 500.0, trajectories=5, frames_per_trajectory=3, equilibrate_fs=10.0
    )


def test_test_set_seeds_are_in_the_test_block_only(water_set):
    used = {f.info["seed"] for f in water_set}
    assert len(used) == 5  # one seed per independent trajectory
    assert {seeds.role_of(s) for s in used} == {"test"}


def test_test_set_frames_are_spaced_and_labelled(water_set):
    for k in range(5):
        times = [f.info["time_fs"] for f in water_set if f.info["traj"] == k]
        assert len(times) == 3 and np.diff(times).min() >= 50.0
        assert times[0] >= 10.0 + 50.0  # after the equilibration
    assert all(np.isfinite(f.arrays["REF_forces"]).all() for f in water_set)
    first = [f.positions for f in water_set if f.info["md_step"] == 120]
    assert len(first) == 5 and not np.allclose(first[0], first[1])  # independent


def test_ensure_test_set_writes_once(tmp_path):
    path = tmp_path / "deep" / "water.extxyz"
    kw = dict(trajectories=5, frames_per_trajectory=1, equilibrate_fs=0.0)
    ensure_test_set(path, WATER, 300.0, **kw)
    stamp = path.stat().st_mtime_ns
    ensure_test_set(path, WATER, 300.0, **kw)
    assert path.stat().st_mtime_ns == stamp and len(read(path, ":")) == 5


def test_test_set_labels_are_the_reference_forces(water_set):
    # the stored forces are the reference's, not those FixCom's constraint adjusts
    # (on water its adjustment is ~1 eV/Å although the total force is zero)
    import reference

    for frame in water_set[::5]:
        assert reference.agrees(frame)
        assert np.abs(frame.arrays["REF_forces"].sum(axis=0)).max() < 1e-6


def test_ensure_test_set_remakes_a_set_with_foreign_labels(tmp_path):
    from ase.io import write

    path = tmp_path / "water.extxyz"
    kw = dict(trajectories=5, frames_per_trajectory=1, equilibrate_fs=0.0)
    ensure_test_set(path, WATER, 300.0, **kw)
    frames = read(path, ":")
    frames[0].arrays["REF_forces"] += 0.3
    write(path, frames)
    ensure_test_set(path, WATER, 300.0, **kw)
    assert np.abs(read(path, 0).arrays["REF_forces"].sum(axis=0)).max() < 1e-6
