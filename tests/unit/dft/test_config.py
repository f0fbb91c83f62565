"""Schema checks of the dft group: messages name the key and say what to do."""

import importlib.util
from pathlib import Path

import pytest

from pax.dft.aims_io import AimsConfig
from pax.dft.pyscf import Dispersion, PySCFConfig
from pax.dft.teacher import TeacherConfig
from pax.dft.xtb import XTBConfig
from pax.errors import ConfigError
from tests.conftest import build


@pytest.fixture
def empty_mace_cache(tmp_path, monkeypatch):
    """A HOME whose ~/.cache/mace holds nothing (mace resolves ~ at call time)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    return tmp_path / ".cache" / "mace"


def test_teacher_name_without_cached_weights_is_refused(empty_mace_cache):
    with pytest.raises(ConfigError) as err:
        TeacherConfig(model="mace-mp-medium")
    assert err.value.key == "dft.model"
    assert "dft.model=/path/to/file.model" in str(err.value)
    assert str(empty_mace_cache) in str(err.value)  # says where it looked


def test_teacher_missing_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="dft.model"):
        TeacherConfig(model=str(tmp_path / "nope.model"))


def test_teacher_name_resolves_to_the_cached_file(empty_mace_cache):
    from mace.calculators.foundations_models import mace_off_urls

    empty_mace_cache.mkdir(parents=True)
    cached = empty_mace_cache / Path(mace_off_urls["small"]).name.split("?")[0]
    cached.write_bytes(b"weights")
    assert TeacherConfig(model="mace-off-small").model == str(cached)


def test_teacher_dtype_checked(tmp_path):
    model = tmp_path / "m.model"
    model.write_bytes(b"")
    with pytest.raises(ConfigError, match="dft.default_dtype"):
        TeacherConfig(model=str(model), default_dtype="float16")


def test_aims_needs_a_species_dir(tmp_path):
    with pytest.raises(ConfigError, match="AIMS_SPECIES_DIR") as err:
        AimsConfig(species_dir="")
    assert err.value.key == "dft.species_dir"
    with pytest.raises(ConfigError, match="no such folder"):
        AimsConfig(species_dir=str(tmp_path / "missing"))


def test_aims_k_grid_checked(tmp_path):
    with pytest.raises(ConfigError, match="dft.k_grid"):
        AimsConfig(species_dir=str(tmp_path), k_grid=[2, 2])


@pytest.mark.skipif(
    importlib.util.find_spec("pyscf.dispersion") is not None,
    reason="pyscf-dispersion is installed",
)
def test_pyscf_dispersion_needs_its_package():
    with pytest.raises(ConfigError, match="pip install pyscf-dispersion"):
        PySCFConfig(dispersion=Dispersion.d3bj)


def test_xtb_ranges():
    with pytest.raises(ConfigError, match="dft.max_iterations"):
        XTBConfig(max_iterations=0)
    with pytest.raises(ConfigError, match="dft.timeout_s"):
        XTBConfig(timeout_s=0)


def test_pyscf_refuses_periodic_systems():
    with pytest.raises(ConfigError) as err:
        build(["dft=pyscf", "system=copper"])
    assert err.value.key == "dft"
    assert "periodic" in str(err.value)


def test_system_charge_and_spin_reach_the_method():
    cfg = build(["dft=pyscf", "system.charge=1", "system.multiplicity=2"])
    assert (cfg.dft.charge, cfg.dft.multiplicity) == (1, 2)
    cfg = build(["dft=pyscf", "system.charge=1", "dft.charge=-1"])
    assert cfg.dft.charge == -1


def test_resolve_model_names_the_callers_key(empty_mace_cache):
    from pax.dft.teacher import resolve_model

    with pytest.raises(ConfigError) as err:
        resolve_model("mace-off-small", key="al.idg.foundation_model")
    assert err.value.key == "al.idg.foundation_model"
    assert "al.idg.foundation_model=/path/to/file.model" in str(err.value)


def test_pyscf_scf_ladder_names_bad_attempts():
    assert build(["dft=pyscf", "dft.scf_ladder=[newton,damping]"]).dft.scf_ladder == [
        "newton",
        "damping",
    ]
    with pytest.raises(ConfigError, match="dft.scf_ladder"):
        PySCFConfig(scf_ladder=["diis", "magic"])
    with pytest.raises(ConfigError, match="dft.scf_ladder"):
        PySCFConfig(scf_ladder=[])
