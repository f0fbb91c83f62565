"""The stop replay fires where validation and the window's prospective MAE pass."""

import json

import stop_replay


def _run(tmp_path, prospective, valid=0.08, n_valid=3):
    (tmp_path / "config.yaml").write_text(
        "# pax 0\nal:\n  desired_acc: 0.1\n  min_valid_size: 3\n  desired_acc_energy: 0.0\n"
    )
    rows = [{"kind": "train", "phase": "idg", "member": "mean", "valid_f_mae": 0.05}]
    rows.append(
        {
            "kind": "train",
            "phase": "al",
            "member": "mean",
            "valid_f_mae": valid,
            "n_valid": n_valid,
            "time_s": 1.0,
        }
    )
    for i, p in enumerate(prospective):
        t = 10.0 * (i + 1)
        rows.append({"kind": "sampling", "phase": "al", "split": "train", "time_s": t})
        rows.append(
            {"kind": "calibration", "phase": "al", "prospective_f_mae": p, "time_s": t}
        )
        rows.append(
            {"kind": "test", "n_labels": i + 1, "test_f_mae": p / 2, "time_s": t}
        )
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return tmp_path


def test_a_shorter_window_fires_on_the_first_good_labels(tmp_path):
    run = _run(tmp_path, [0.3, 0.2, 0.09, 0.08, 0.07])
    short = stop_replay.replay(run, 3)
    assert short["al_labels"] == 5 and short["time_s"] == 50.0
    assert abs(short["prospective"] - 0.08) < 1e-12
    assert short["test_f_mae"] == 0.035 and short["test_labels"] == 5
    assert stop_replay.replay(run, 5) is None  # mean of the last 5 never < 0.1


def test_no_stop_without_enough_or_good_validation(tmp_path):
    good = [0.05] * 4
    assert stop_replay.replay(_run(tmp_path, good, n_valid=2), 3) is None
    assert stop_replay.replay(_run(tmp_path, good, valid=0.12), 3) is None
    assert stop_replay.replay(_run(tmp_path, good), 3)["al_labels"] == 3
