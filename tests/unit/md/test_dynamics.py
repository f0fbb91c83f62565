"""Integrators: ASE's velocity Verlet to 1e-6 Å, exact save/restore, NPT response."""

import numpy as np
import pytest
import torch
from ase import units
from ase.io import read
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from ase.md.verlet import VelocityVerlet

from pax.errors import ConfigError
from pax.md import BatchedMD
from pax.md.config import DrivingForce, Integrator, MDConfig
from tests.conftest import ROOT
from tests.unit.md.helpers import molecule, tiny_mace


@pytest.fixture(scope="module")
def members():
    return [tiny_mace(seed) for seed in range(2)]


def test_velocity_verlet_matches_ase_over_100_steps(members):
    from mace.calculators import MACECalculator

    atoms = molecule("ethanol")
    MaxwellBoltzmannDistribution(atoms, temperature_K=500, rng=np.random.default_rng(0))
    Stationary(atoms)
    md = BatchedMD(
        MDConfig(integrator=Integrator.nve, timestep_fs=0.5, min_distance_A=0.05),
        members,
        [atoms.copy()],
    )
    ref = atoms.copy()
    ref.calc = MACECalculator(models=members, device="cpu", default_dtype="float64")
    VelocityVerlet(ref, timestep=0.5 * units.fs).run(100)
    md.advance(100)
    moved = np.abs(ref.positions - atoms.positions).max()
    assert moved > 0.05  # the comparison is not trivial
    assert np.abs(md.atoms(0).positions - ref.positions).max() < 1e-6
    assert np.abs(md.atoms(0).get_velocities() - ref.get_velocities()).max() < 1e-6


@pytest.mark.parametrize("driving", [DrivingForce.mean, DrivingForce.member])
def test_state_dict_continues_bit_identically(members, driving):
    # untrained test models may pull atoms together: the collapse guard is off here
    cfg = MDConfig(
        friction_per_fs=0.02,
        driving_force=driving,
        neighbor_skin_A=0.3,
        min_distance_A=0.05,
    )
    systems = [molecule("ethanol"), molecule("water"), molecule("ethanol")]
    first = BatchedMD(cfg, members, systems, seeds=[3, 4, 5])
    first.advance(15)
    first.pause(1)
    first.advance(5)
    saved = first.state_dict()
    first.advance(20)
    second = BatchedMD(cfg, members, [molecule("water")] * 3, seeds=[0, 0, 0])
    second.load_state_dict(saved)
    second.advance(20)
    assert torch.equal(first.state.positions_A, second.state.positions_A)
    assert torch.equal(first.state.velocities, second.state.velocities)
    np.testing.assert_array_equal(first.steps, second.steps)
    np.testing.assert_array_equal(first.steps, [40, 15, 40])
    assert (
        first.uncertainty()["max_atomic_sd"][0]
        == second.uncertainty()["max_atomic_sd"][0]
    )


def test_seeds_make_trajectories_reproducible_and_distinct(members):
    cfg = MDConfig(friction_per_fs=0.05)
    a = BatchedMD(cfg, members, [molecule("water")] * 2, seeds=[7, 8])
    b = BatchedMD(cfg, members, [molecule("water")], seeds=[7])
    a.advance(10)
    b.advance(10)
    pa, pb = a.state.positions_A, b.state.positions_A
    torch.testing.assert_close(pa[:3], pb, rtol=0, atol=1e-12)
    assert not torch.allclose(pa[:3], pa[3:])


def test_initial_velocities_have_zero_momentum_and_target_temperature(members):
    md = BatchedMD(MDConfig(temperature_K=500), members, [molecule("aspirin")] * 64)
    masses_amu = md.state.layout.masses_amu[:, None]
    p = (md.state.velocities * masses_amu).reshape(64, 21, 3).sum(1)
    assert p.abs().max() < 1e-12
    assert md.temperatures_K().mean() == pytest.approx(500, rel=0.05)


def test_npt_cell_follows_the_target_pressure():
    cu = [tiny_mace(seed, atomic_numbers=[29]) for seed in range(2)]
    atoms = read(ROOT / "data" / "systems" / "copper.extxyz")
    hi = MDConfig(
        integrator=Integrator.npt,
        pressure_GPa=20.0,
        barostat_time_fs=20.0,
        temperature_K=300.0,
        timestep_fs=1.0,
    )
    lo = MDConfig(
        integrator=Integrator.npt,
        pressure_GPa=-20.0,
        barostat_time_fs=20.0,
        temperature_K=300.0,
        timestep_fs=1.0,
    )
    md = BatchedMD(hi, cu, [atoms, atoms], per_system=[hi, lo])
    v0 = atoms.get_volume()
    md.advance(10)
    v_hi, v_lo = (md.atoms(i).get_volume() for i in range(2))
    assert v_hi < v0 < v_lo
    assert md.running.all()


def test_foundation_driver_propagates_and_the_members_judge(members):
    """md.driving_force=foundation: ASE's velocity Verlet on the driver's forces."""
    from ase.calculators.emt import EMT

    atoms = molecule("ethanol")
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(1))
    Stationary(atoms)
    cfg = MDConfig(
        integrator=Integrator.nve,
        timestep_fs=0.5,
        min_distance_A=0.05,
        driving_force=DrivingForce.foundation,
    )
    md = BatchedMD(cfg, members, [atoms.copy()], driver=EMT())
    ref = atoms.copy()
    ref.calc = EMT()
    VelocityVerlet(ref, timestep=0.5 * units.fs).run(40)
    md.advance(40)
    assert np.abs(ref.positions - atoms.positions).max() > 0.01
    assert np.abs(md.atoms(0).positions - ref.positions).max() < 1e-6
    spread = md.uncertainty()["max_atomic_sd"][0]  # the members, not the driver
    assert np.isfinite(spread) and spread > 0
    with pytest.raises(ConfigError, match="md.driving_force"):
        BatchedMD(cfg, members, [atoms.copy()])
    with pytest.raises(ConfigError, match="md.driving_force.*NPT"):
        MDConfig(integrator=Integrator.npt, driving_force=DrivingForce.foundation)


def test_intermolecular_uncertainty_of_a_dimer_survives_a_restore(members):
    water = molecule("water")
    other = water.copy()
    other.translate([3.0, 0.0, 0.0])
    cfg = MDConfig(min_distance_A=0.05)
    md = BatchedMD(cfg, members, [water + other, water.copy()])
    unc = md.uncertainty()
    assert unc["intermol_force_sd"][0] > 1e-6  # two molecules
    assert unc["intermol_torque_sd"][0] > 1e-6
    assert unc["intermol_force_sd"][1] < 1e-9  # one: its total force is zero
    again = BatchedMD(cfg, members, [water.copy(), water.copy()])
    again.load_state_dict(md.state_dict())
    np.testing.assert_allclose(
        again.uncertainty()["intermol_force_sd"], unc["intermol_force_sd"]
    )
    md.reset(1, water + other)  # another system in slot 1: its molecules too
    assert md.uncertainty()["intermol_force_sd"][1] > 1e-6


@pytest.mark.parametrize("kind", ["isomtk", "mtk"])
def test_mtk_follows_ase_step_by_step(kind):
    """md.integrator=isomtk|mtk against ASE's IsotropicMTKNPT and MTKNPT."""
    from ase.md import nose_hoover_chain as nhc
    from mace.calculators import MACECalculator

    cu = [tiny_mace(seed, atomic_numbers=[29]) for seed in range(2)]
    atoms = read(ROOT / "data" / "systems" / "copper.extxyz")
    MaxwellBoltzmannDistribution(atoms, temperature_K=600, rng=np.random.default_rng(3))
    cfg = MDConfig(
        integrator=Integrator(kind),
        temperature_K=400.0,
        pressure_GPa=2.0,
        timestep_fs=1.0,
        thermostat_time_fs=25.0,
        barostat_time_fs=100.0,
        fix_com=False,
        min_distance_A=0.05,
    )
    md = BatchedMD(cfg, cu, [atoms.copy()])
    ref = atoms.copy()
    ref.calc = MACECalculator(models=cu, device="cpu", default_dtype="float64")
    ase_class = nhc.IsotropicMTKNPT if kind == "isomtk" else nhc.MTKNPT
    dyn = ase_class(
        ref,
        timestep=1.0 * units.fs,
        temperature_K=400.0,
        pressure_au=2.0 * units.GPa,
        tdamp=25.0 * units.fs,
        pdamp=100.0 * units.fs,
    )
    for _ in range(4):
        dyn.run(10)
        md.advance(10)
        ours = md.atoms(0)
        assert abs(ours.get_volume() / ref.get_volume() - 1) < 1e-9
        np.testing.assert_allclose(ours.cell.array, ref.cell.array, atol=1e-8)
        frac = ours.get_scaled_positions() - ref.get_scaled_positions()
        frac -= np.round(frac)  # pax wraps positions into the cell, ASE does not
        np.testing.assert_allclose(frac @ ref.cell.array, 0.0, atol=1e-7)
        np.testing.assert_allclose(
            ours.get_velocities(), ref.get_velocities(), atol=1e-8
        )
    assert abs(ref.get_volume() / atoms.get_volume() - 1) > 1e-4  # the cell moved


def test_isotropic_mtk_state_continues_bit_identically():
    cu = [tiny_mace(seed, atomic_numbers=[29]) for seed in range(2)]
    atoms = read(ROOT / "data" / "systems" / "copper.extxyz")
    mtk = MDConfig(
        integrator=Integrator.isomtk, pressure_GPa=5.0, barostat_time_fs=50.0
    )
    nvt = MDConfig(min_distance_A=0.05)
    md = BatchedMD(mtk, cu, [atoms, atoms], per_system=[mtk, nvt])
    md.advance(5)
    saved = md.state_dict()
    md.advance(5)
    again = BatchedMD(mtk, cu, [atoms, atoms], per_system=[mtk, nvt])
    again.load_state_dict(saved)
    again.advance(5)
    for i in range(2):
        assert np.array_equal(again.atoms(i).positions, md.atoms(i).positions)
        assert np.array_equal(again.atoms(i).cell.array, md.atoms(i).cell.array)
    assert md.atoms(1).get_volume() == pytest.approx(atoms.get_volume())  # NVT
    assert md.atoms(0).get_volume() != pytest.approx(atoms.get_volume())
