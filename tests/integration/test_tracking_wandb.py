"""Real W&B offline runs, read back from their .wandb files (no network)."""

import pytest

from pax.tracking import Tracker, read_metrics
from pax.tracking.wandb_sink import RUN_ID_FILE
from tests.conftest import build
from tests.helpers.wandb_reader import history_values, read_wandb_run
from tests.unit.tracking.synthetic import feed

SECRET = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory):
    """A synthetic IDG + AL run tracked by a real offline W&B run."""
    tmp_path = tmp_path_factory.mktemp("offline")
    cfg = build(
        [
            "wandb.mode=offline",
            "wandb.tags=[smoke,ci]",
            "wandb.notes=hello",
            "wandb.log_model=true",
            "wandb.project=pax-tests",
        ]
    )
    run_dir = tmp_path / "al.c_x=0.1"
    model = tmp_path / "final.model"
    model.write_bytes(b"not really a model")
    resolved = {"al": {"c_x": 0.1, "desired_acc": 0.1}, "secret": f"key={SECRET}"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WANDB_API_KEY", SECRET)
        with Tracker(
            run_dir, cfg=cfg, job_type="al", group="sweep-a", resolved_config=resolved
        ) as tracker:
            assert tracker.wandb_active
            feed(tracker)
            tracker.log_model([model])
    return run_dir


def test_run_identity_and_config(offline_run):
    run = read_wandb_run(offline_run)
    assert run["run_id"] == (offline_run / RUN_ID_FILE).read_text().strip()
    assert run["name"] == "al.c_x=0.1"
    assert run["project"] == "pax-tests"
    assert run["group"] == "sweep-a" and run["job_type"] == "al"
    assert run["tags"] == ["smoke", "ci"] and run["notes"] == "hello"
    assert run["config"]["al"] == {"c_x": 0.1, "desired_acc": 0.1}
    assert run["config"]["secret"] == "key=***"
    assert run["exit_code"] == 0


def test_step_axes_are_defined(offline_run):
    metrics = {m["name"]: m for m in read_wandb_run(offline_run)["metrics"]}
    assert metrics["train/*"]["step_metric"] == "epoch"
    assert metrics["uncertainty/*"]["step_metric"] == "md_step"
    assert metrics["sampling/*"]["step_metric"] == "labels"
    assert metrics["calibration/*"]["step_metric"] == "labels"
    assert metrics["md/*"]["step_metric"] == "time_s"
    assert metrics["train/mean/valid_f_mae"]["summary"] == ["min", "last"]
    assert all(metrics[a]["hidden"] for a in ("epoch", "md_step", "labels", "time_s"))


def test_history_holds_every_panel(offline_run):
    run = read_wandb_run(offline_run)
    mae = history_values(run, "train/mean/valid_f_mae")
    assert len(mae) == 4 + 6 * 2 and mae[0] > 0.5 and mae[-1] == pytest.approx(0.08)
    for member in ("m0", "m1"):
        for field in (
            "train_loss",
            "valid_e_mae_per_atom",
            "valid_f_mae",
            "valid_f_rmse",
            "lr",
        ):
            assert len(history_values(run, f"train/{member}/{field}")) == 16
    epochs = [r["epoch"] for r in run["history"] if "train/mean/valid_f_mae" in r]
    assert epochs == sorted(epochs) and epochs[-1] == 4 + 11
    for traj in range(3):
        values = history_values(run, f"uncertainty/traj_{traj}")
        assert len(values) == 12 and all(0.1 <= v <= 0.15 for v in values)
    assert set(history_values(run, "uncertainty/threshold/aspirin")) == {0.13}
    assert set(history_values(run, "uncertainty/crossed")) <= {0, 1}
    assert history_values(run, "labels")[:3] == [1, 2, 3]
    assert sum(history_values(run, "sampling/failed")) == 1
    walls = history_values(run, "sampling/label_wall_s")
    assert len(walls) == 22 and all(0.5 <= w <= 1.5 for w in walls)
    for key in (
        "sampling/n_train",
        "sampling/n_valid",
        "sampling/in_flight",
        "sampling/utilisation",
        "sampling/md_step",
        "sampling/uncertainty",
        "sampling/threshold",
        "md/md_steps",
        "calibration/predicted_uncertainty",
        "calibration/force_error_max",
        "phase/idg/end",
        "phase/al/start",
    ):
        assert history_values(run, key), key


def test_calibration_and_sampling_tables(offline_run):
    run = read_wandb_run(offline_run)
    last = {}
    for row in run["history"]:
        last.update(row)
    assert last["calibration/table._type"] == "table-file"
    assert last["calibration/table.nrows"] == 5
    assert last["sampling/events.nrows"] == 22
    scatter = run["config"]["_wandb.visualize.calibration/scatter"]
    assert scatter["panel_config"]["fieldSettings"] == {
        "x": "predicted_uncertainty",
        "y": "force_error_max",
    }
    tables = [a for a in run["artifacts"] if a["type"] == "run_table"]
    assert tables


def test_summary_and_model_artifact(offline_run):
    run = read_wandb_run(offline_run)
    summary = run["summary"]
    assert summary["final_valid_f_mae"] == pytest.approx(0.08)
    assert summary["labels_idg"] == 16 and summary["labels_al"] == 5
    assert summary["labels_failed"] == 1 and summary["stop_reason"] == "desired_acc"
    assert 0 < summary["wall_time_s"] < 300
    best = summary["train/mean/valid_f_mae"]  # define_metric(summary="min,last")
    assert best["min"] == pytest.approx(0.08) and best["last"] == pytest.approx(0.08)
    models = [a for a in run["artifacts"] if a["type"] == "model"]
    assert models and models[0]["files"] == ["final.model"]


def test_files_and_plots_exist_next_to_wandb(offline_run):
    kinds = {r["kind"] for r in read_metrics(offline_run)}
    assert kinds == {
        "phase",
        "train",
        "sampling",
        "uncertainty",
        "md",
        "calibration",
        "summary",
        "model",
    }
    pngs = sorted(p.name for p in (offline_run / "plots").glob("*.png"))
    assert pngs == [
        "calibration.png",
        "dataset_growth.png",
        "learning_curves.png",
        "uncertainty_traces.png",
    ]


def test_api_key_is_written_nowhere(offline_run):
    for path in offline_run.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert SECRET.encode() not in path.read_bytes(), path


def test_resume_continues_the_same_wandb_run(tmp_path):
    cfg = build(["wandb.mode=offline"])
    run_dir = tmp_path / "run"
    with Tracker(run_dir, cfg=cfg, job_type="idg") as tracker:
        tracker.log(
            "train", {"phase": "idg", "epoch": 0, "member": "mean", "valid_f_mae": 0.5}
        )
    with Tracker(run_dir, cfg=cfg, job_type="idg") as tracker:
        tracker.log(
            "train", {"phase": "idg", "epoch": 1, "member": "mean", "valid_f_mae": 0.4}
        )
        tracker.summary({"stop_reason": "resumed"})
    run = read_wandb_run(run_dir)
    assert len(run["sessions"]) == 2
    assert {s["run_id"] for s in run["sessions"]} == {run["run_id"]}
    assert history_values(run, "train/mean/valid_f_mae") == [0.5, 0.4]
    assert history_values(run, "epoch") == [0, 1]
    assert run["summary"]["stop_reason"] == "resumed"
    assert len(read_metrics(run_dir)) == 3


def test_a_crash_marks_the_wandb_run_failed(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with Tracker(tmp_path, cfg=build(["wandb.mode=offline"])) as tracker:
            tracker.log("md", {"md_steps": 3})
            raise RuntimeError("boom")
    run = read_wandb_run(tmp_path)
    assert run["exit_code"] == 1
    assert history_values(run, "md/md_steps") == [3]


def test_disabled_wandb_writes_no_wandb_files(tmp_path):
    cfg = build(["wandb.mode=disabled"])
    with Tracker(tmp_path, cfg=cfg) as tracker:
        assert not tracker.wandb_active
        summary = feed(tracker, al_labels=2)
    assert not (tmp_path / "wandb").exists()
    assert summary["labels_total"] == 18
    assert (tmp_path / "plots" / "calibration.png").stat().st_size > 0


def test_unwritable_wandb_dir_still_finishes(tmp_path, caplog):
    (tmp_path / "wandb").write_text("a file where W&B wants its folder")
    with Tracker(tmp_path, cfg=build(["wandb.mode=offline"])) as tracker:
        assert not tracker.wandb_active
        summary = feed(tracker, al_labels=2)
        tracker.log_model([])
    assert summary["stop_reason"] == "desired_acc"
    assert read_metrics(tmp_path)[-1]["kind"] == "model"
    assert sorted(p.name for p in (tmp_path / "plots").glob("*.png"))
    assert any("W&B could not start" in r.getMessage() for r in caplog.records)
