"""MD settings per system: <name>.md.yaml beside the geometry, md.per_system.<name>."""

import shutil

import pytest

from pax.al.sampler import Sampler
from pax.al.starts import trajectory_configs
from pax.errors import ConfigError
from pax.md.per_system import system_md
from pax.system.geometry import load_systems
from tests.conftest import ROOT, build


@pytest.fixture
def folder(tmp_path):
    """Two systems: water (with a water.md.yaml) and ethanol."""
    for name in ("water", "ethanol"):
        shutil.copy(ROOT / "data" / "systems" / f"{name}.xyz", tmp_path)
    (tmp_path / "water.md.yaml").write_text("temperature_K: 300\ntimestep_fs: 0.25\n")
    return tmp_path


def test_yaml_beside_the_geometry_then_overrides(folder):
    cfg = build(
        [
            f"system.geometry={folder}",
            "+md.per_system.ethanol.integrator=nve",
            "+md.per_system.water.temperature_K=250",
        ]
    )
    systems = load_systems(cfg.system)
    names = [a.info["system"] for a in systems]
    md = dict(zip(names, system_md(cfg.md, systems, cfg.system.geometry)))
    assert md["water"].temperature_K == 250  # the override wins over the file
    assert md["water"].timestep_fs == 0.25  # from water.md.yaml
    assert md["ethanol"].integrator.value == "nve"
    assert md["ethanol"].temperature_K == cfg.md.temperature_K
    runs = trajectory_configs(list(md.values()), [], 4)
    assert [c.temperature_K for c in runs] == [
        md[names[i % 2]].temperature_K for i in range(4)
    ]
    sampler = Sampler(cfg, systems, folder)
    water = names.index("water")
    assert sampler.md[water].temperature_K == 250
    assert sampler.sampler_steps[water] == cfg.al.idg.sampler_steps(0.25)


def test_batch_wide_keys_and_unknown_systems_are_refused(folder):
    cfg = build([f"system.geometry={folder}", "+md.per_system.water.seed=3"])
    systems = load_systems(cfg.system)
    with pytest.raises(ConfigError, match="md.per_system.water.seed"):
        system_md(cfg.md, systems, cfg.system.geometry)
    cfg = build([f"system.geometry={folder}", "+md.per_system.benzene.timestep_fs=1"])
    with pytest.raises(ConfigError, match="md.per_system.benzene.*systems"):
        system_md(cfg.md, systems, cfg.system.geometry)
    (folder / "water.md.yaml").write_text("timestep_fs: -1\n")
    cfg = build([f"system.geometry={folder}"])
    with pytest.raises(ConfigError, match="water.md.yaml.*md.timestep_fs"):
        system_md(cfg.md, systems, cfg.system.geometry)
