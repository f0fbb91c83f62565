import csv

import pytest

from pax.errors import PaxError
from pax.tracking import Tracker, compare
from tests.unit.tracking.synthetic import feed


def make_sweep(root, cfg, values=(0.0, 0.2)):
    """A sweep folder of synthetic runs that differ in al.c_x."""
    for i, c_x in enumerate(values):
        run_dir = root / f"al.c_x={c_x}"
        with Tracker(run_dir, cfg=cfg) as tracker:
            feed(tracker, seed=i, final_mae=0.05 + c_x, al_labels=3 + i)
        (run_dir / "config.yaml").write_text(
            f"al:\n  c_x: {c_x}\n  desired_acc: 0.1\nrun:\n  name: sweep{i}\n"
            "wandb:\n  mode: disabled\n"
        )
    return root


def test_compare_table_csv_and_figure(tmp_path, files_only_cfg, capsys):
    sweep = make_sweep(tmp_path / "sweep", files_only_cfg)
    out = tmp_path / "cmp"
    assert compare.main([str(sweep), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    header = text.splitlines()[0].split()
    assert header[:3] == ["run", "al.c_x", "final_valid_f_mae"]
    with open(out / "compare.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["al.c_x"] for r in rows] == ["0.0", "0.2"]
    assert [float(r["final_valid_f_mae"]) for r in rows] == pytest.approx([0.05, 0.25])
    assert [int(r["labels_total"]) for r in rows] == [18, 19]
    assert all(float(r["wall_time_s"]) > 0 for r in rows)
    png = (out / "compare.png").read_bytes()
    assert png[:4] == b"\x89PNG" and len(png) > 10_000


def test_compare_run_dirs_given_one_by_one(tmp_path, files_only_cfg):
    sweep = make_sweep(tmp_path / "s", files_only_cfg)
    runs = sorted(sweep.iterdir())
    keys, rows = compare.compare(runs)
    assert keys == ["al.c_x"]
    assert [r["run"] for r in rows] == [r.name for r in runs]
    assert all(len(r["curve"]) > 3 for r in rows)


def test_unfinished_run_is_computed_from_records(tmp_path, files_only_cfg):
    with Tracker(tmp_path / "r", cfg=files_only_cfg) as tracker:
        tracker.log(
            "train",
            {
                "phase": "idg",
                "epoch": 0,
                "member": "mean",
                "valid_f_mae": 0.4,
                "valid_e_mae_per_atom": 0.0125,
                "n_train": 3,
            },
        )
        tracker.log("sampling", {"phase": "idg", "status": "ok"})
    figures = compare.run_figures(tmp_path / "r")
    assert figures["final_valid_f_mae"] == 0.4
    assert figures["final_valid_e_mae_mev_per_atom"] == pytest.approx(12.5)
    assert figures["labels_total"] == 1
    assert figures["stop_reason"] == "unfinished"


def test_swept_keys_from_directory_names_without_config(tmp_path, files_only_cfg):
    for name in ("al.c_x=0.1,md.temperature_K=300", "al.c_x=0.1,md.temperature_K=600"):
        with Tracker(tmp_path / name, cfg=files_only_cfg) as tracker:
            tracker.log("md", {"md_steps": 1})
    keys, _ = compare.compare([tmp_path])
    assert keys == ["md.temperature_K"]


def test_no_runs_is_a_one_line_error(tmp_path):
    with pytest.raises(PaxError, match="no metrics.jsonl"):
        compare.main([str(tmp_path)])


def test_learning_curve_takes_sizes_from_earlier_records():
    """Converge records and runs of older pax have no n_train on train records."""
    rows = [
        {"kind": "sampling", "n_train": 3},
        {"kind": "train", "member": 0, "valid_f_mae": 9.0},
        {"kind": "train", "member": "mean", "valid_f_mae": 0.5},
        {"kind": "train", "member": "mean", "valid_f_mae": 0.4, "n_train": 4},
        {"kind": "sampling", "n_train": None},
        {"kind": "train", "phase": "converge", "member": "mean", "valid_f_mae": 0.3},
    ]
    assert compare.learning_curve(rows) == [(3, 0.5), (4, 0.4), (4, 0.3)]
