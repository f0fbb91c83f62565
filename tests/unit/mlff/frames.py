"""xTB-labelled ethanol frames for the mlff tests (tblite GFN2, MD at 500 K)."""

from pathlib import Path

import ase.io
import numpy as np
import pytest

from tests.conftest import ROOT

N_FRAMES = 50


def make_frames(n_frames: int = N_FRAMES, stride: int = 5, seed: int = 0):
    """Short GFN2 Langevin run at 500 K; every `stride`-th step, with REF_ labels."""
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from tblite.ase import TBLite

    atoms = ase.io.read(ROOT / "data/systems/ethanol.xyz")
    atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=500, rng=rng)
    dyn = Langevin(
        atoms, 0.5 * units.fs, temperature_K=500, friction=0.02, rng=rng, fixcm=False
    )
    frames = []
    for _ in range(n_frames):
        dyn.run(stride)
        frame = atoms.copy()
        frame.info = {}
        frame.info["REF_energy"] = float(atoms.get_potential_energy())
        frame.arrays["REF_forces"] = atoms.get_forces().copy()
        frames.append(frame)
    return frames


def cached_frames(tmp_path_factory) -> list:
    """The frames, computed once per test session and kept in pytest's tmp dir."""
    path = Path(tmp_path_factory.getbasetemp()) / "mlff_ethanol_xtb.extxyz"
    if not path.exists():
        frames = make_frames()
        tmp = path.with_suffix(".tmp.extxyz")
        ase.io.write(tmp, frames, format="extxyz")
        tmp.replace(path)
    return ase.io.read(path, ":", format="extxyz")


@pytest.fixture(scope="session")
def xtb_frames(tmp_path_factory):
    """50 labelled ethanol frames (REF_energy eV, REF_forces eV/Å)."""
    return cached_frames(tmp_path_factory)


def tiny_cfg(**overrides):
    """A tiny MACE committee (8 channels, 1 interaction) for fast tests."""
    from pax.mlff.config import MLFFConfig

    values = dict(
        ensemble_size=2,
        num_channels=8,
        num_interactions=1,
        max_L=1,
        correlation=2,
        max_ell=2,
        radial_MLP=[8],
        num_radial_basis=6,
        r_max=4.0,
        default_dtype="float64",
        device="cpu",
        batch_size=5,
        valid_batch_size=10,
    )
    values.update(overrides)
    return MLFFConfig(**values)
