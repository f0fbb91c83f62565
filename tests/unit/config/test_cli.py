"""The command line: help, --cfg job, dry runs and dry sweeps."""

import subprocess
import sys

import yaml

from tests.conftest import ROOT


def pax(*args, cwd=ROOT, entry="main"):
    return subprocess.run(
        [sys.executable, "-c", f"from pax.cli import {entry}; {entry}()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=180,
    )


def test_help_lists_groups():
    out = pax("--help").stdout
    for group in ("system:", "dft:", "mlff:", "md:", "cluster:", "al:"):
        assert group in out
    assert "aspirin" in out and "xtb" in out


def test_cfg_job_prints_composed_config():
    proc = pax("--cfg", "job", "al.c_x=0.3")
    cfg = yaml.safe_load(proc.stdout)
    assert cfg["al"]["c_x"] == 0.3
    assert cfg["dft"]["method"] == "GFN2"


def test_dry_run_prints_plan(tmp_path):
    proc = pax("run.dry=true", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    for section in (
        "systems:",
        "reference:",
        "cluster:",
        "ensemble:",
        "active learning:",
    ):
        assert section in proc.stdout
    assert "C9H8O4, 21 atoms" in proc.stdout
    assert (tmp_path / "plan.txt").exists()


def test_folder_of_geometries(tmp_path):
    folder = tmp_path / "geos"
    folder.mkdir()
    for name in ("water", "ethanol"):
        (folder / f"{name}.xyz").write_text(
            (ROOT / "data/systems" / f"{name}.xyz").read_text()
        )
    proc = pax(
        f"system.geometry={folder}", "run.dry=true", f"hydra.run.dir={tmp_path / 'run'}"
    )
    assert proc.returncode == 0, proc.stderr
    assert "ethanol: C2H6O" in proc.stdout and "water: H2O" in proc.stdout


def test_dry_sweep_gives_one_dir_and_config_per_job(tmp_path):
    proc = pax(
        "-m",
        "al.c_x=-0.2,0.0",
        "md.temperature_K=300,500",
        "run.dry=true",
        f"hydra.sweep.dir={tmp_path}",
    )
    assert proc.returncode == 0, proc.stderr
    jobs = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    assert [p.name for p in jobs] == [
        "al.c_x=-0.2,md.temperature_K=300",
        "al.c_x=-0.2,md.temperature_K=500",
        "al.c_x=0.0,md.temperature_K=300",
        "al.c_x=0.0,md.temperature_K=500",
    ]
    for job in jobs:
        cfg = yaml.safe_load((job / "config.yaml").read_text())
        c_x, temp = (float(kv.split("=")[1]) for kv in job.name.split(","))
        assert cfg["al"]["c_x"] == c_x and cfg["md"]["temperature_K"] == temp
        assert (job / "plan.txt").exists()


def test_plan_names_pretraining_and_fine_tuning():
    from pax.plan import build_plan
    from tests.conftest import build

    cfg = build(
        [
            "al.pretrain.enabled=true",
            "mlff.init=finetune",
            "mlff.foundation_model=my.model",
            "mlff.finetune.method=lora",
        ]
    )
    text = str(build_plan(cfg, "all"))
    assert "pretrain first on 200 sampler frames labelled by GFN1-xTB" in text
    assert "fine-tuned (lora) from my.model" in text
    assert "while no label runs here" in text
