"""End to end: IDG and AL with real xTB labels, real MACE, real Parsl workers."""

import json

import pytest
from ase.io import read

from tests.conftest import ROOT
from tests.integration.workflow_helpers import events, run_pax

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    proc = run_pax(run_dir, "md.save_every_steps=20")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run_dir, proc


def test_trajectories_on_disk(finished_run):
    # md.save_every_steps=20: the first frame in each 20-step block of every
    # trajectory; AL frames carry the uncertainty, all the temperature
    run_dir, _ = finished_run
    folder = run_dir / "trajectories"
    idg = read(folder / "idg_000.extxyz", index=":")
    steps = [a.info["md_step"] for a in idg]
    assert len(idg) >= 1 and all(b // 20 > a // 20 for a, b in zip(steps, steps[1:]))
    assert all(a.info["temperature_K"] > 0 for a in idg)
    al = read(folder / "al_000.extxyz", index=":")
    steps = [a.info["md_step"] for a in al]
    assert len(al) >= 2 and steps == sorted(steps)
    assert all(b // 20 > a // 20 for a, b in zip(steps, steps[1:]))
    assert all(a.info["uncertainty"] > 0 and a.info["temperature_K"] > 0 for a in al)
    assert len(al[0]) == 3  # water


def test_both_phases_complete(finished_run):
    run_dir, proc = finished_run
    phases = {(e["phase"], e["event"]) for e in events(run_dir, "phase")}
    assert {("idg", "start"), ("idg", "end"), ("al", "start"), ("al", "end")} <= phases
    assert "results in" in proc.stdout


def test_threshold_picked_points(finished_run):
    run_dir, _ = finished_run
    picked = [e for e in events(run_dir, "uncertainty") if e["crossed"]]
    assert picked, "AL never crossed the threshold"
    al_labels = [
        e
        for e in events(run_dir, "sampling")
        if e["phase"] == "al" and e.get("trigger") == "uncertainty"
    ]
    assert al_labels and all(e["uncertainty"] > e["threshold"] for e in al_labels)


def test_md_ran_while_labels_were_in_flight(tmp_path):
    # xTB on water answers in milliseconds, faster than one pass of the loop, so
    # a reference that takes 0.3 s per call (EMT with a delay) shows the overlap.
    run_dir = tmp_path / "slow"
    proc = run_pax(
        run_dir,
        "dft=emt",
        "dft.delay_s=0.3",
        "al.max_train_set_size=12",  # members share IDG's ~9 frames: AL adds some
        "al.num_trajectories=4",  # more than the 2 label slots: some keep running
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    overlapping = [e for e in events(run_dir, "md") if e["in_flight"] > 0]
    assert overlapping, "no MD advance happened while a label was in flight"
    assert all(e["running"] >= 1 for e in overlapping)


def test_results_complete(finished_run):
    run_dir, _ = finished_run
    results = run_dir / "results"
    summary = json.loads((results / "summary.json").read_text())
    for key in (
        "stop_reason",
        "final_mae",
        "idg_labels",
        "al_labels",
        "idg_wall_s",
        "al_wall_s",
        "prospective_f_mae",
    ):
        assert key in summary
    assert summary["final_mae"] > 0
    from importlib.metadata import version

    env = summary["environment"]
    for name in ("torch", "mace-torch", "e3nn", "ase", "parsl", "tblite"):
        assert env["packages"][name] == version(name)
    assert env["pax_commit"] and env["python"]
    header = (run_dir / "config.yaml").read_text().splitlines()[0]
    assert header.startswith("# pax ") and env["pax_commit"] in header
    models = sorted((results / "models").glob("*.model"))
    assert len(models) == 2
    train = read(results / "train.extxyz", index=":")
    valid = read(results / "valid.extxyz", index=":")
    assert len(train) >= 4 and len(valid) >= 1
    assert (results / "parity_valid.png").stat().st_size > 1000
    budget = summary["time_budget"]  # where the wall time went
    parts = budget["sections_s"]
    assert abs(sum(parts.values()) + budget["unaccounted_s"] - budget["wall_s"]) < 0.01
    assert budget["unaccounted_s"] < 0.05 * budget["wall_s"], budget
    for name in (
        "startup",
        "md",
        "training/idg",
        "training/al",
        "evaluation",
        "reference_wait",
        "checkpoints",
        "tracking",
    ):
        assert parts[name] > 0, name
    assert budget["reference_busy_s"] > 0


def test_exported_model_runs_in_mace_calculator(finished_run):
    from mace.calculators import MACECalculator

    run_dir, _ = finished_run
    model = sorted((run_dir / "results" / "models").glob("*.model"))[0]
    atoms = read(run_dir / "results" / "valid.extxyz", index=0)
    atoms.calc = MACECalculator(
        model_paths=[str(model)], device="cpu", default_dtype="float64"
    )
    assert atoms.get_forces().shape == (3, 3)


def test_finished_run_does_nothing_again(finished_run):
    run_dir, _ = finished_run
    proc = run_pax(run_dir, timeout=120)
    assert proc.returncode == 0
    assert "already finished" in proc.stdout


def test_changed_config_is_refused(finished_run):
    run_dir, _ = finished_run
    proc = run_pax(run_dir, "al.c_x=0.5", timeout=120)
    assert proc.returncode == 2
    assert "different config" in proc.stderr and "al.c_x" in proc.stderr


def test_periodic_copper_runs_both_phases_with_stress(tmp_path):
    run_dir = tmp_path / "cu"
    proc = run_pax(
        run_dir,
        "system=copper",
        "dft=emt",
        "al.idg.sampler=aimd",
        "md.temperature_K=800",
        "al.max_train_set_size=8",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    phases = {(e["phase"], e["event"]) for e in events(run_dir, "phase")}
    assert ("idg", "end") in phases and ("al", "end") in phases
    train = read(run_dir / "results" / "train.extxyz", index=":")
    assert all(frame.pbc.all() and "REF_stress" in frame.info for frame in train)
    losses = [e for e in events(run_dir, "train") if e.get("member") == "mean"]
    assert losses and all(e["train_loss"] > 0 for e in losses)


def test_pax_al_starts_from_given_data_and_models(finished_run, tmp_path):
    from ase.io import write

    run_dir, _ = finished_run
    given = tmp_path / "given.extxyz"
    write(given, read(run_dir / "results" / "train.extxyz", index=":"), format="extxyz")
    new_dir = tmp_path / "al_only"
    proc = run_pax(
        new_dir,
        f"run.initial_dataset={given}",
        f"run.initial_ensemble={run_dir / 'state' / 'ensemble.pt'}",
        "al.max_train_set_size=12",
        entry="main_al",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    phases = {(e["phase"], e["event"]) for e in events(new_dir, "phase")}
    assert ("al", "end") in phases and ("idg", "start") not in phases
    assert (new_dir / "results" / "summary.json").exists()


def test_pax_al_without_idg_or_data_is_refused(tmp_path):
    proc = run_pax(tmp_path / "empty", entry="main_al", timeout=120)
    assert proc.returncode == 2
    assert "run.initial_dataset" in proc.stderr


def test_exploration_settings_run_end_to_end(tmp_path):
    """Equilibrated IDG sampling, fs spacing, AL from IDG end states at two T."""
    run_dir = tmp_path / "explore"
    proc = run_pax(
        run_dir,
        "al.idg.equilibration_fs=5",  # 10 steps of 0.5 fs
        "al.idg.sample_interval_fs=4",  # 8 steps
        "al.idg.friction_per_fs=0.01",
        "al.start_from=idg_end",
        "al.temperatures_K=[300,900]",
        "al.max_train_set_size=8",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    idg_steps = {
        e["md_step"] for e in events(run_dir, "sampling") if e["phase"] == "idg"
    }
    assert idg_steps and all((s - 10) % 8 == 0 and s >= 18 for s in idg_steps)
    log = (
        proc.stdout
        + proc.stderr
        + "".join(p.read_text() for p in run_dir.glob("*.log"))
    )
    assert "trajectories start at late IDG frames" in log
    assert {(e["phase"], e["event"]) for e in events(run_dir, "phase")} >= {
        ("al", "end")
    }


def test_batched_mace_sampler_runs_end_to_end(tmp_path):
    """IDG sampled by two trajectories on a MACE file, propagated together."""
    import torch

    from tests.unit.md.helpers import tiny_mace

    model = tmp_path / "sampler.model"
    torch.save(tiny_mace(0, dtype=torch.float64, scale=0.01), model)
    run_dir = tmp_path / "batched"
    proc = run_pax(
        run_dir,
        "al.idg.sampler=foundation",
        f"al.idg.foundation_model={model}",
        "al.idg.trajectories_per_system=2",
        "al.idg.equilibration_fs=0",
        "al.idg.sample_interval_fs=0",
        "md.temperature_K=100",
        "al.max_train_set_size=8",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    idg = [e for e in events(run_dir, "sampling") if e["phase"] == "idg"]
    assert {e["traj"] for e in idg} == {0, 1}
    assert {(e["phase"], e["event"]) for e in events(run_dir, "phase")} >= {
        ("al", "end")
    }


def test_hash_validation_sanity_gate_and_pause_run_end_to_end(tmp_path):
    """Validation by ticket hash, the sanity gate and pausing trajectories for a
    free slot: the run ends and validation holds exactly the labels whose ticket
    hash chose them. At valid_ratio 0.1 the first 8 tickets (two IDG rounds, the
    tiny IDG's whole training budget) all hash to training: IDG must sample on
    until a validation frame arrives (it used to stop with none and fail)."""
    from pax.al.decisions import valid_by_hash

    run_dir = tmp_path / "policy"
    proc = run_pax(
        run_dir,
        "al.validation_split=hash",
        "al.valid_ratio=0.1",
        "al.sanity.enabled=true",
        "al.full_queue=pause",
        "al.max_train_set_size=8",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    labels = [e for e in events(run_dir, "sampling") if e["status"] == "ok"]
    assert not any(valid_by_hash(f"{i:06d}", 0.1) for i in range(8))
    assert labels and any(e["split"] == "valid" for e in labels)
    for e in labels:
        assert (e["split"] == "valid") == valid_by_hash(e["ticket"], 0.1)
    assert {(e["phase"], e["event"]) for e in events(run_dir, "phase")} >= {
        ("al", "end")
    }


def test_runaway_geometries_never_reach_the_data_and_the_run_stops_on_accuracy(
    tmp_path,
):
    """Issue 18's outlier run: one of two trajectories runs at 3000 K and breaks
    water's O-H bonds (a runaway like the one whose 27.7 eV/Å geometry once sat in
    the default experiment's validation set). The sanity gate refuses those
    geometries, nothing unphysical is labelled into training or validation, and
    the run still ends on its accuracy stop, not on a size or step limit."""
    from pax.al.config import SanityConfig
    from pax.al.sanity import unphysical
    from pax.data import DatasetStore

    run_dir = tmp_path / "runaway"
    proc = run_pax(
        run_dir,
        "al.temperatures_K=[600,3000]",
        "al.desired_acc=0.4",
        "al.valid_ratio=0.3",
        "al.prospective_window=3",
        "al.max_train_set_size=60",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    refused = events(run_dir, "rejected")
    assert any(r["traj"] == 1 and "bond graph" in r["reason"] for r in refused)
    water = read(ROOT / "data" / "systems" / "water.xyz")
    store = DatasetStore(run_dir / "data")
    stored = {split: store.get(split) for split in ("train", "valid")}
    assert stored["valid"], "no validation frame"
    gate = SanityConfig(enabled=True)
    for split, frames in stored.items():
        reasons = [unphysical(a, water, gate) for a in frames]
        assert not any(reasons), (split, [r for r in reasons if r])
    (summary,) = events(run_dir, "summary")
    assert summary["stop_reason"].startswith("validation force MAE")
    assert "prospective force MAE" in summary["stop_reason"]


def test_diverse_selection_runs_end_to_end(tmp_path):
    """al.selection=diverse: descriptors of the live ensemble pick AL labels."""
    run_dir = tmp_path / "diverse"
    proc = run_pax(
        run_dir,
        "al.selection=diverse",
        "al.diverse_random_share=0.2",
        "al.max_train_set_size=14",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    al_labels = [e for e in events(run_dir, "sampling") if e["phase"] == "al"]
    assert al_labels and all(e["trigger"] == "uncertainty" for e in al_labels)


def test_analysis_mode_records_true_errors_and_keeps_them_out_of_the_data(tmp_path):
    """al.analysis_every_steps: labelled geometries along the MD, never trained on."""
    from pax.data import DatasetStore

    run_dir = tmp_path / "analysis"
    proc = run_pax(run_dir, "al.analysis_every_steps=10", "al.max_train_set_size=10")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = events(run_dir, "analysis")
    assert rows and all(r["f_mae"] > 0 and r["uncertainty"] > 0 for r in rows)
    ledger = [json.loads(line) for line in (run_dir / "ledger.jsonl").open()]
    analysed = {
        r["ticket"] for r in ledger if r.get("tag", {}).get("phase") == "analysis"
    }
    assert analysed
    store = DatasetStore(run_dir / "data")
    stored = {a.info.get("label_id") for s in ("train", "valid") for a in store.get(s)}
    assert stored and not analysed & stored
    assert (run_dir / "plots" / "analysis.png").stat().st_size > 0


def test_pax_al_extends_an_earlier_runs_datasets(finished_run, tmp_path):
    """run.initial_dataset=<run dir> (aims-PAX's extend_existing_final_ds)."""
    from pax.data import DatasetStore

    run_dir, _ = finished_run
    old = DatasetStore(run_dir / "data")
    new_dir = tmp_path / "extended"
    proc = run_pax(
        new_dir,
        f"run.initial_dataset={run_dir}",
        "al.max_train_set_size=16",
        entry="main_al",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    new = DatasetStore(new_dir / "data")
    given_valid = [a for a in new.get("valid") if a.info.get("phase") == "given"]
    assert len(given_valid) == old.size("valid")
    assert new.size("train") > sum(old.size(s) for s in old.splits if s != "valid")
    assert any(e["phase"] == "al" for e in events(new_dir, "sampling"))


def test_random_subset_replay_and_validation_run_end_to_end(tmp_path):
    """al.replay=random_subset with al.valid_subset_size (aims-PAX's replay)."""
    run_dir = tmp_path / "replay"
    proc = run_pax(
        run_dir,
        "al.replay=random_subset",
        "al.train_subset_size=4",
        "al.valid_subset_size=1",
        "al.valid_ratio=0.3",
        "al.max_train_set_size=10",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {(e["phase"], e["event"]) for e in events(run_dir, "phase")} >= {
        ("al", "end")
    }
    summary = json.loads((run_dir / "results" / "summary.json").read_text())
    assert summary["n_valid"] >= 2  # validated on a subset of a larger set
