"""control.in / geometry.in as FHI-aims reads them, and a real aims.out parsed."""

from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk, molecule

from pax.dft.aims_io import AimsConfig, read_output, write_inputs

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "aims"
SPECIES = FIXTURES / "species_dir"


def _config(**kw):
    base = {"species_dir": str(SPECIES), "charge": 0, "multiplicity": 1}
    return AimsConfig(**{**base, **kw})


def _keywords(text):
    return [
        line.split() for line in text.splitlines() if line.strip() and line[0] != "#"
    ]


def test_molecule_inputs(tmp_path):
    cfg = _config(
        extra_control=["output mulliken", "output hirshfeld"],
        charge=1,
        multiplicity=2,
        dispersion="many_body_dispersion",
    )
    write_inputs(molecule("H2O"), cfg, tmp_path)
    control = (tmp_path / "control.in").read_text()
    words = _keywords(control)
    first = {w[0]: w[1:] for w in reversed(words)}
    assert first["xc"] == ["pbe"] and first["relativistic"] == ["atomic_zora", "scalar"]
    assert first["charge"] == ["1.0"]
    assert first["spin"] == ["collinear"] and first["fixed_spin_moment"] == ["1"]
    assert first["compute_forces"] == [".true."]
    assert "many_body_dispersion" in first
    assert "k_grid" not in first and "compute_analytical_stress" not in first
    # species blocks copied from species_dir, once per element, after the extra lines
    species = [w[1] for w in words if w[0] == "species"]
    assert sorted(species) == ["H", "O"]
    assert (SPECIES / "08_O_default").read_text() in control
    index = control.index
    assert index("output mulliken") < index("output hirshfeld") < index("  species")
    geometry = (tmp_path / "geometry.in").read_text()
    assert "lattice_vector" not in geometry
    atoms = [w for w in _keywords(geometry) if w[0] == "atom"]
    assert [w[-1] for w in atoms] == ["O", "H", "H"]


def test_periodic_inputs_have_k_grid_and_lattice(tmp_path):
    write_inputs(bulk("Cu", cubic=True), _config(k_grid=[3, 3, 3]), tmp_path)
    first = {w[0]: w[1:] for w in _keywords((tmp_path / "control.in").read_text())}
    assert first["k_grid"] == ["3", "3", "3"]
    assert first["compute_analytical_stress"] == [".true."]
    assert first["spin"] == ["none"]
    geometry = _keywords((tmp_path / "geometry.in").read_text())
    assert sum(w[0] == "lattice_vector" for w in geometry) == 3
    assert sum(w[0] == "atom_frac" for w in geometry) == 4


def test_periodic_without_k_grid_is_refused(tmp_path):
    with pytest.raises(ValueError, match="dft.k_grid"):
        write_inputs(bulk("Cu", cubic=True), _config(), tmp_path)


def test_missing_species_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="07_N_default"):
        write_inputs(molecule("NH3"), _config(), tmp_path)


def test_real_aims_output_is_parsed(tmp_path):
    (tmp_path / "aims.out").write_text(
        (FIXTURES / "h2o_singlepoint_real.aims.out").read_text()
    )
    results = read_output(tmp_path)
    assert results["energy"] == pytest.approx(-2063.02072676, abs=1e-6)
    assert results["forces"].shape == (3, 3)
    np.testing.assert_allclose(
        results["forces"][0], [-4.78299830661005, -6.16960341437854, 0.0], atol=1e-10
    )


def test_truncated_output_raises(tmp_path):
    text = (FIXTURES / "h2o_singlepoint_real.aims.out").read_text()
    (tmp_path / "aims.out").write_text(text[: text.index("Have a nice day")])
    with pytest.raises(Exception, match="did not complete"):
        read_output(tmp_path)


def test_users_control_in_replaces_pax_keywords(tmp_path):
    """dft.control_in: aims-PAX's example control.in, species still from species_dir."""
    users = Path(__file__).resolve().parents[2] / "fixtures" / "aimspax" / "control.in"
    cfg = _config(control_in=str(users), extra_control=["output hirshfeld"])
    write_inputs(molecule("H2O"), cfg, tmp_path)
    words = _keywords((tmp_path / "control.in").read_text())
    keys = [w[0] for w in words]
    for key in ("xc", "spin", "sc_iter_limit", "compute_forces"):
        assert keys.count(key) == 1, key
    value = {w[0]: w[1:] for w in words}
    assert value["sc_iter_limit"] == ["1000"]  # the user's, not pax's 200
    assert value["sc_accuracy_eev"] == ["1E-4"]
    assert "many_body_dispersion" in value and "final_forces_cleaned" in value
    assert value["compute_forces"] == [".true."]
    assert sorted(w[1] for w in words if w[0] == "species") == ["H", "O"]
    assert keys.index("output") < keys.index("species")


def test_missing_control_in_names_the_key(tmp_path):
    from pax.errors import ConfigError

    with pytest.raises(ConfigError, match="dft.control_in"):
        _config(control_in=str(tmp_path / "nope.in"))


def test_control_folder_gives_each_system_its_file(tmp_path):
    folder = tmp_path / "controls"
    folder.mkdir()
    (folder / "water.control.in").write_text("xc pbe0\n")
    (folder / "control.in").write_text("xc b3lyp\n")
    cfg = _config(control_in=str(folder))
    for system, xc in (("water", "pbe0"), ("ethanol", "b3lyp")):
        atoms = molecule("H2O")
        atoms.info["system"] = system
        (tmp_path / system).mkdir()
        write_inputs(atoms, cfg, tmp_path / system)
        words = _keywords((tmp_path / system / "control.in").read_text())
        assert {w[0]: w[1:] for w in words}["xc"] == [xc]
    (folder / "control.in").unlink()
    atoms = molecule("H2O")
    atoms.info["system"] = "ethanol"
    with pytest.raises(FileNotFoundError, match="ethanol.control.in"):
        write_inputs(atoms, cfg, tmp_path)
