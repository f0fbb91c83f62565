"""al.idg.sampler=foundation with pretrained potentials that load offline."""

import numpy as np
import pytest
from ase.build import molecule

from pax.al.potentials import calculator
from pax.al.sampler import Sampler
from pax.errors import ConfigError
from tests.conftest import build


def not_a_calculator():
    return 42


def test_chgnet_from_its_wheel_samples_a_molecule_in_a_box(tmp_path):
    from chgnet.model.dynamics import CHGNetCalculator

    cfg = build(
        [
            "system=ethanol",
            "al.idg.sampler=foundation",
            "al.idg.foundation_model=chgnet",
        ]
    )
    index, frame = Sampler(cfg, [molecule("CH3CH2OH")], tmp_path).next_frame()
    assert index == 0 and np.isfinite(frame.positions).all()
    start = molecule("CH3CH2OH")
    start.calc = calculator("chgnet")
    forces = start.get_forces()
    boxed = start.copy()  # the same molecule in a box twice as large
    boxed.set_cell(np.ptp(start.positions, 0) + 40.0)
    boxed.pbc = True
    boxed.calc = CHGNetCalculator(use_device="cpu", verbose=False)
    np.testing.assert_allclose(forces, boxed.get_forces(), atol=1e-4)
    assert np.abs(forces.sum(0)).max() < 1e-3  # no force on the centre of mass


def test_any_function_returning_a_calculator(tmp_path):
    cfg = build(
        [
            "system=water",
            "al.idg.sampler=foundation",
            "al.idg.foundation_model=ase.calculators.emt:EMT",
        ]
    )
    sampler = Sampler(cfg, [molecule("H2O")], tmp_path)
    sampler.next_frame()
    assert type(sampler.calc).__name__ == "EMT"


@pytest.mark.parametrize(
    "name, match",
    [
        ("no_such_module_xyz:f", "cannot be imported"),
        ("ase.calculators.emt:NoSuchThing", "cannot be imported"),
        (f"{__name__}:not_a_calculator", "returned int, not an ASE calculator"),
        ("/no/such/file.model", "al.idg.foundation_model"),
    ],
)
def test_bad_names_say_which_key(name, match):
    with pytest.raises(ConfigError, match=match):
        calculator(name)


def test_ani1x_from_its_wheel_matches_its_own_ensemble(tmp_path):
    """torchani 2.2.4's weights, loaded offline; forces are -dE/dx."""
    cfg = build(
        [
            "system=ethanol",
            "al.idg.sampler=foundation",
            "al.idg.foundation_model=ani-1x",
        ]
    )
    index, frame = Sampler(cfg, [molecule("CH3CH2OH")], tmp_path).next_frame()
    assert index == 0 and np.isfinite(frame.positions).all()
    atoms = molecule("CH3CH2OH")
    atoms.calc = calculator("ani-1x")
    forces = atoms.get_forces()
    step, i = 1e-4, (2, 1)  # atom 2, y: central difference of the energy
    shifted = []
    for sign in (1, -1):
        moved = atoms.copy()
        moved.positions[i] += sign * step
        moved.calc = atoms.calc
        shifted.append(moved.get_potential_energy())
    assert forces[i] == pytest.approx(-(shifted[0] - shifted[1]) / (2 * step), abs=1e-4)
    assert np.abs(forces).max() < 5.0  # a relaxed molecule, in eV/Å


def test_d3_dispersion_is_added_to_the_sampler(tmp_path):
    from ase.calculators.emt import EMT
    from dftd3.ase import DFTD3

    from pax.al.sampler import make_calculator

    cfg = build(
        [
            "system=water",
            "al.idg.sampler=foundation",
            "al.idg.foundation_model=ase.calculators.emt:EMT",
            "al.idg.dispersion=true",
        ]
    )
    atoms = molecule("CH3CH2OH")
    atoms.calc = make_calculator(cfg, tmp_path)
    total = atoms.get_forces()
    parts = []
    for calc in (EMT(), DFTD3(method="pbe", damping="d3bj")):
        part = atoms.copy()
        part.calc = calc
        parts.append(part.get_forces())
    np.testing.assert_allclose(total, parts[0] + parts[1], atol=1e-10)
    assert np.abs(parts[1]).max() > 1e-4  # dispersion is there
    bad = build(
        [
            "system=water",
            "al.idg.sampler=foundation",
            "al.idg.foundation_model=ase.calculators.emt:EMT",
            "al.idg.dispersion=true",
            "al.idg.dispersion_xc=no-such-functional",
        ]
    )
    with pytest.raises(ConfigError, match="al.idg.dispersion_xc"):
        make_calculator(bad, tmp_path)
