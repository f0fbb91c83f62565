"""Time to accuracy over seeds: hand-made runs with known times to target."""

import math

import pytest
import time_to_accuracy as tta

pytestmark = pytest.mark.timeout(60)


def _run(seed, hit_s, before_s=None, eval_s=2.0, n_labels=40):
    hit = hit_s and {
        "time_s": hit_s + eval_s,
        "test_eval_s": eval_s,
        "n_labels": n_labels,
        "test_f_mae": 0.09,
    }
    before = before_s and {"time_s": before_s, "test_eval_s": 0.0}
    return {
        "seed": seed,
        "hit": hit,
        "before_hit": before,
        "wall_s": 500.0,
        "labels_idg": 28,
        "labels_al": 12,
        "ended": "stopped at target" if hit else "given up",
        "summary": {},
    }


def test_time_to_target_leaves_the_test_evaluations_out_and_inf_when_missed():
    secs, labels = tta.to_target([_run(0, 100.0), _run(1, None)])
    assert secs == [100.0, math.inf] and labels == [40, math.inf]


def test_an_arm_that_missed_in_one_seed_says_so():
    row = tta.over_seeds("pax", [_run(0, 100.0), _run(1, None)])
    assert row[1] == "1 / 2" and row[2] == "not reached in every seed"


def test_ratio_of_means_over_seeds():
    results = {
        "pax": [_run(0, 100.0), _run(1, 200.0)],
        "aims-PAX mode": [_run(0, 450.0), _run(1, 450.0)],
    }
    (line,) = tta.ratio_lines(results)
    assert line.startswith("aims-PAX mode / pax") and "time 3.00 [" in line
    assert "labels 1.00 [1.00, 1.00]" in line


def test_a_run_row_brackets_the_crossing():
    row, budget = tta.row("pax", _run(2, 177.0, before_s=124.0))
    assert row[0] == "pax, seed 2" and row[1] == "124 – 177"
    assert row[5] == "stopped at target" and budget == ["pax, seed 2", "–"]


def _metrics(run_dir, records):
    import json

    run_dir.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r) for r in records]
    (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n")


def test_the_final_model_counts_as_a_test_at_the_end_of_its_training(tmp_path):
    from common import final_test_record, first_below, test_curve

    records = [
        {
            "kind": "test",
            "time_s": 300.0,
            "n_labels": 125,
            "test_eval_s": 30.0,
            "test_f_mae": 0.111,
        },
        {"kind": "phase", "time_s": 400.0, "phase": "al", "event": "end"},
        {"kind": "phase", "time_s": 475.0, "phase": "converge", "event": "end"},
        {
            "kind": "summary",
            "time_s": 487.0,
            "labels_total": 127,
            "test": {"mean": {"f_mae": 0.091}},
        },
    ]
    _metrics(tmp_path / "done", records)
    final = final_test_record(tmp_path / "done")
    assert final["time_s"] == 475.0 and final["test_eval_s"] == 30.0
    assert final["n_labels"] == 127 and final["test_f_mae"] == 0.091
    hit = first_below(test_curve(tmp_path / "done") + [final], 0.1)
    assert hit is final and tta.net_time(hit) == 445.0
    _metrics(tmp_path / "given_up", records[:2])
    assert final_test_record(tmp_path / "given_up") is None
