"""Every preset in conf/ composes and builds into validated dataclasses."""

from pathlib import Path

import pytest

from tests.conftest import ROOT, build

PRESETS = sorted(
    (p.parent.name, p.stem)
    for p in (ROOT / "conf").glob("*/*.yaml")
    if p.parent.name in {"system", "dft", "mlff", "md", "cluster", "al"}
)

# Presets that need a user-supplied value to be complete, and what the test gives.
NEEDS = {
    ("dft", "teacher"): lambda tmp: [f"dft.model={tmp / 'teacher.model'}"],
    ("dft", "aims"): lambda tmp: [f"dft.species_dir={tmp}"],
    ("dft", "pyscf"): lambda tmp: [],
}
PERIODIC_ONLY = {("system", "copper"), ("md", "npt")}


def _extra(group, name, tmp):
    extra = NEEDS.get((group, name), lambda _: [])(tmp)
    if (group, name) in PERIODIC_ONLY:
        extra += ["system=copper", "dft=emt"]
    return extra


def test_presets_found():
    groups = {g for g, _ in PRESETS}
    assert groups == {"system", "dft", "mlff", "md", "cluster", "al"}


@pytest.mark.parametrize(
    ("group", "name"), PRESETS, ids=[f"{g}={n}" for g, n in PRESETS]
)
def test_preset_builds(group, name, tmp_path: Path, request):
    (tmp_path / "teacher.model").write_bytes(b"")
    overrides = [f"{group}={name}", *_extra(group, name, tmp_path)]
    cfg = build(overrides)
    node = getattr(cfg, group)
    assert type(node).__module__.startswith(f"pax.{group}.")


def test_defaults_are_the_documented_ones():
    cfg = build()
    assert cfg.system.name == "aspirin"
    assert cfg.dft.kind == "xtb"
    assert cfg.cluster.kind == "local"
    assert cfg.mlff.num_channels == 32 and cfg.mlff.radial_MLP == [16, 16, 16]
    assert cfg.md.integrator.value == "langevin"
    assert cfg.al.c_x == 0.0 and cfg.al.skip_step_mlff == 25
    assert cfg.mlff.ensemble_size == 4
    assert cfg.al.idg.desired_acc_scale_idg == 10
    # system charge and multiplicity flow into the reference
    assert cfg.dft.charge == 0 and cfg.dft.multiplicity == 1


def test_overrides_reach_the_dataclasses():
    cfg = build(["al.c_x=-0.2", "md.temperature_K=600", "mlff.ensemble_size=3"])
    assert cfg.al.c_x == -0.2
    assert cfg.md.temperature_K == 600.0
    assert cfg.mlff.ensemble_size == 3
