import json
import logging

import pytest

from pax.tracking import Tracker, read_metrics
from pax.tracking.wandb_sink import WandbSink, scrub_api_key, wandb_row
from tests.unit.tracking.synthetic import feed


def kinds(rows, kind):
    return [r for r in rows if r["kind"] == kind]


def test_records_are_on_disk_at_once(tmp_path, files_only_cfg):
    tracker = Tracker(tmp_path, cfg=files_only_cfg)
    tracker.log("md", {"md_steps": 10, "running": 2, "in_flight": 1})
    # not closed: the line must already be in the file (crash safety)
    rows = read_metrics(tmp_path)
    assert rows == [
        {
            "kind": "md",
            "time_s": rows[0]["time_s"],
            "md_steps": 10,
            "running": 2,
            "in_flight": 1,
        }
    ]
    tracker.close()
    assert not tracker.wandb_active


def test_axes_added_to_records(synthetic_records):
    train = kinds(synthetic_records, "train")
    idg = [r for r in train if r["phase"] == "idg" and r["member"] == "mean"]
    al = [r for r in train if r["phase"] == "al" and r["member"] == "mean"]
    assert [r["epoch_total"] for r in idg] == [0, 1, 2, 3]
    # AL epochs restart at 0 but the run-wide count goes on after IDG
    assert al[0]["epoch"] == 0 and al[0]["epoch_total"] == 4
    assert al[-1]["epoch_total"] == 4 + al[-1]["epoch"]
    sampling = kinds(synthetic_records, "sampling")
    assert [r["labels"] for r in sampling] == list(range(1, len(sampling) + 1))
    calib = kinds(synthetic_records, "calibration")
    assert all(c["labels"] >= 17 for c in calib)
    times = [r["time_s"] for r in synthetic_records]
    assert times == sorted(times)


def test_summary_adds_counts_and_wall_time(synthetic_records):
    (summary,) = kinds(synthetic_records, "summary")
    assert summary["labels_idg"] == 16
    assert summary["labels_al"] == 5
    assert summary["labels_failed"] == 1
    assert summary["labels_total"] == 21
    assert summary["final_valid_f_mae"] == 0.08
    assert summary["stop_reason"] == "desired_acc"
    assert 0 < summary["wall_time_s"] < 120


def test_final_mae_is_taken_as_final_valid_f_mae(tmp_path, files_only_cfg):
    with Tracker(tmp_path, cfg=files_only_cfg) as tracker:
        tracker.log(
            "train", {"phase": "al", "epoch": 0, "member": "mean", "valid_f_mae": 0.3}
        )
        summary = tracker.summary(
            {"final_mae": 0.25, "final_validation": {"mean": {"valid_f_mae": 0.25}}}
        )
    assert summary["final_valid_f_mae"] == 0.25
    assert read_metrics(tmp_path)[-1]["final_validation"]["mean"]["valid_f_mae"] == 0.25


def test_resume_appends_and_continues_axes(tmp_path, files_only_cfg):
    with Tracker(tmp_path, cfg=files_only_cfg) as tracker:
        tracker.log(
            "train", {"phase": "al", "epoch": 0, "member": "mean", "valid_f_mae": 0.3}
        )
        tracker.log(
            "train", {"phase": "al", "epoch": 1, "member": "mean", "valid_f_mae": 0.2}
        )
        tracker.log("sampling", {"phase": "al", "status": "ok"})
    before = read_metrics(tmp_path)
    with Tracker(tmp_path, cfg=files_only_cfg) as tracker:
        tracker.log(
            "train", {"phase": "al", "epoch": 2, "member": "mean", "valid_f_mae": 0.1}
        )
        tracker.log("sampling", {"phase": "al", "status": "ok"})
        summary = tracker.summary({})
    rows = read_metrics(tmp_path)
    assert rows[: len(before)] == before
    assert kinds(rows, "train")[-1]["epoch_total"] == 2
    assert kinds(rows, "sampling")[-1]["labels"] == 2
    assert rows[-1]["time_s"] >= before[-1]["time_s"]
    assert summary["labels_al"] == 2 and summary["final_valid_f_mae"] == 0.1


def test_torn_last_line_is_skipped(tmp_path, files_only_cfg):
    with Tracker(tmp_path, cfg=files_only_cfg) as tracker:
        tracker.log("md", {"md_steps": 5})
    with open(tmp_path / "metrics.jsonl", "a") as handle:
        handle.write('{"kind": "md", "md_ste')  # a crash mid-write
    assert len(read_metrics(tmp_path)) == 1


def test_values_are_made_json_friendly(tmp_path, files_only_cfg):
    import numpy as np

    with Tracker(tmp_path, cfg=files_only_cfg) as tracker:
        tracker.log("md", {"md_steps": np.int64(7), "running": np.array([1, 2])})
    row = json.loads((tmp_path / "metrics.jsonl").read_text())
    assert row["md_steps"] == 7 and row["running"] == [1, 2]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            {
                "kind": "train",
                "time_s": 1.0,
                "phase": "idg",
                "epoch": 3,
                "epoch_total": 9,
                "member": 1,
                "valid_f_mae": 0.2,
            },
            {"time_s": 1.0, "epoch": 9, "train/m1/valid_f_mae": 0.2},
        ),
        (
            {"kind": "train", "time_s": 1.0, "epoch": 0, "member": "mean", "lr": 0.01},
            {"time_s": 1.0, "epoch": 0, "train/mean/lr": 0.01},
        ),
        (
            {
                "kind": "uncertainty",
                "time_s": 2.0,
                "traj": 4,
                "system": "aspirin",
                "md_step": 50,
                "uncertainty": 0.2,
                "threshold": 0.15,
                "crossed": True,
            },
            {
                "time_s": 2.0,
                "md_step": 50,
                "uncertainty/traj_4": 0.2,
                "uncertainty/threshold/aspirin": 0.15,
                "uncertainty/crossed": 1,
            },
        ),
        (
            {
                "kind": "sampling",
                "time_s": 3.0,
                "labels": 5,
                "status": "failed",
                "reason": "SCF",
                "system": "aspirin",
                "label_wall_s": 12.5,
            },
            {
                "time_s": 3.0,
                "labels": 5,
                "sampling/failed": 1,
                "sampling/label_wall_s": 12.5,
            },
        ),
        (
            {
                "kind": "phase",
                "time_s": 4.0,
                "phase": "al",
                "event": "end",
                "labels": 3,
            },
            {"time_s": 4.0, "phase/al/end": 4.0, "phase/al/labels": 3.0},
        ),
        (
            {
                "kind": "analysis",
                "time_s": 5.0,
                "traj": 1,
                "system": "aspirin",
                "md_step": 200,
                "uncertainty": 0.12,
                "f_mae": 0.08,
                "f_max_error": 0.4,
            },
            {
                "time_s": 5.0,
                "analysis/traj": 1.0,
                "analysis/md_step": 200.0,
                "analysis/uncertainty": 0.12,
                "analysis/f_mae": 0.08,
                "analysis/f_max_error": 0.4,
            },
        ),
    ],
)
def test_wandb_rows(row, expected):
    assert wandb_row(row) == expected


def test_init_failure_warns_once_and_keeps_files(tmp_path, caplog, monkeypatch):
    import wandb

    def broken_init(**_):
        raise RuntimeError("no service")

    monkeypatch.setattr(wandb, "init", broken_init)
    with caplog.at_level(logging.WARNING, logger="pax.tracking"):
        with Tracker(tmp_path) as tracker:
            feed(tracker, al_labels=2)
            tracker.log_model([])
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "no service" in warnings[0].getMessage()
    assert kinds(read_metrics(tmp_path), "summary")
    assert (tmp_path / "plots" / "learning_curves.png").stat().st_size > 0


def test_failure_mid_run_warns_once_and_stops_wandb(tmp_path, caplog, monkeypatch):
    class FailingRun:
        name = "x"
        summary: dict = {}
        calls = 0

        def log(self, _):
            FailingRun.calls += 1
            raise OSError("disk full")

        def finish(self, exit_code=0):
            raise AssertionError("finish must not be called on a dead W&B run")

    sink = WandbSink(FailingRun(), wandb=None)
    monkeypatch.setattr(WandbSink, "start", classmethod(lambda *a: sink))
    with caplog.at_level(logging.WARNING, logger="pax.tracking"):
        with Tracker(tmp_path) as tracker:
            assert tracker.wandb_active
            feed(tracker, al_labels=2)
            assert not tracker.wandb_active
    assert FailingRun.calls == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "disk full" in warnings[0].getMessage()
    assert len(kinds(read_metrics(tmp_path), "train")) > 10


def test_api_key_is_masked_in_the_config(monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    assert scrub_api_key({"a": {"b": "x" + "k" * 40}}) == {"a": {"b": "x***"}}
