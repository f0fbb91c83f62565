"""pax-import-aimspax on aims-PAX's own example inputs (shared/aimspax-examples)."""

import shutil

import pytest
import torch
import yaml

from pax.aimspax_import import main
from pax.aimspax_translate import translate
from tests.conftest import ROOT
from tests.unit.md.helpers import tiny_mace

EXAMPLES = ROOT / "tests" / "fixtures" / "aimspax"  # aims-PAX's examples (MIT)


def load(name):
    return yaml.safe_load((EXAMPLES / name).read_text())


def test_aspirin_walkthrough_on_slurm_with_fhi_aims():
    t = translate(load("aimsPAX.yaml"), load("mace.yaml"))
    al, cluster, dft = t.presets["al"], t.presets["cluster"], t.presets["dft"]
    assert al["c_x"] == -0.1 and al["num_trajectories"] == 8
    assert al["idg"]["desired_acc_scale_idg"] == 3.0
    assert al["idg"]["sampler"] == "foundation"
    assert al["idg"]["foundation_model"] == "mace-mp-small"
    assert t.presets["md"]["timestep_fs"] == 1.0
    assert t.presets["md"]["friction_per_fs"] == 0.001
    assert (
        t.presets["mlff"]["num_channels"] == 32
        and t.presets["mlff"]["device"] == "cuda"
    )
    assert cluster["_base"] == "slurm" and cluster["partition"] == "cpu"
    assert cluster["walltime"] == "48:00:00" and cluster["max_blocks"] == 4
    assert cluster["scheduler_options"] == ["--ntasks-per-node=128"]
    assert "module load intel" in cluster["worker_init"]
    assert dft["_base"] == "aims" and dft["launch_str"].endswith("aims.out")
    assert t.presets["run"]["name"] == "test"
    skipped = "\n".join(t.skipped)
    assert "MISC.create_restart=True: pax runs are always resumable" in skipped
    assert "CLUSTER.parsl_options.label" in skipped


def test_local_example_with_the_teacher_reference():
    t = translate(load("local/aimsPAX.yaml"), load("local/model.yaml"))
    assert t.presets["dft"] == {"_base": "teacher", "model": "mace-mp-small"}
    assert t.presets["cluster"] == {"_base": "local", "max_workers": 1}
    assert t.presets["al"]["desired_acc"] == 0.125
    assert t.presets["md"]["seed"] == 42 and t.presets["md"]["save_every_steps"] == 5
    assert any(
        line.startswith("INITIAL_DATASET_GENERATION.desired_acc=0.1: pax has one")
        for line in t.skipped
    )


def test_written_presets_compose_into_a_valid_pax_config(tmp_path, capsys):
    from hydra import compose, initialize_config_dir

    from pax.cli import to_run_config
    from pax.config import register_configs

    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    args = [
        str(EXAMPLES / "local" / "aimsPAX.yaml"),
        str(EXAMPLES / "local" / "model.yaml"),
    ]
    assert main([*args, "--name", "imported", "--out", str(conf)]) == 0
    printed = capsys.readouterr().out
    assert "not carried over" in printed and "run: pax" in printed
    overrides = [f"{g}=imported" for g in ("al", "cluster", "dft", "md", "mlff")]
    model = tmp_path / "mace-mp-small.model"  # no MACE-MP weights here: a tiny MACE
    torch.save(tiny_mace(0), model)
    overrides.append(f"dft.model={model}")
    register_configs()
    with initialize_config_dir(version_base="1.3", config_dir=str(conf)):
        cfg = to_run_config(compose(config_name="config", overrides=overrides))
    assert cfg.al.c_x == -0.1 and cfg.al.desired_acc == 0.125
    assert cfg.al.validation_split.value == "arrival"  # al=aims_pax underneath
    assert cfg.md.timestep_fs == 1.0 and cfg.mlff.ensemble_size == 4
    assert cfg.dft.kind == "teacher" and cfg.al.idg.foundation_model == "mace-mp-small"
    assert cfg.cluster.max_workers == 1


def test_unreadable_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "aimsPAX.yaml"
    bad.write_text("ACTIVE_LEARNING: [unclosed")
    assert main([str(bad)]) == 2
    assert capsys.readouterr().err.startswith(f"pax-import-aimspax: error: {bad}")


@pytest.mark.parametrize("key", ["analysis_skip", "mol_idxs"])
def test_unknown_settings_are_listed_not_dropped(key):
    t = translate({"ACTIVE_LEARNING": {key: 1}})
    assert any(line.startswith(f"ACTIVE_LEARNING.{key}=1:") for line in t.skipped)


def test_control_in_and_geometry_paths():
    project = {
        "ACTIVE_LEARNING": {"species_dir": "/species"},
        "MISC": {"path_to_control": "my/control.in", "path_to_geometry": "mol.xyz"},
    }
    t = translate(project)
    assert t.presets["dft"]["control_in"] == "my/control.in"
    assert t.presets["system"] == {
        "_base": "system_schema",
        "geometry": "mol.xyz",
        "name": "mol",
    }


def test_foundation_dispersion():
    idg = {"foundational_model_settings": {"mace_model": "medium", "dispersion": True}}
    al = translate({"INITIAL_DATASET_GENERATION": idg}).presets["al"]["idg"]
    assert al["foundation_model"] == "mace-mp-medium" and al["dispersion"] is True
    assert al["dispersion_xc"] == "pbe" and al["dispersion_damping"] == "d3bj"


def test_mtk_npt_settings():
    md = {
        "stat_ensemble": "NPT",
        "barostat": "isomtk",
        "pressure": 1.0e9,  # Pa
        "tdamp": 50.0,
        "pdamp": 500.0,
        "temperature": 300,
    }
    t = translate({"MD": md})
    assert t.presets["md"] == {
        "integrator": "isomtk",
        "pressure_GPa": 1.0,
        "thermostat_time_fs": 50.0,
        "barostat_time_fs": 500.0,
        "temperature_K": 300,
    }
