"""The label-efficiency report's in-run learning curves, on hand-made metrics."""

import json
from types import SimpleNamespace

import report


def _run(folder, records):
    folder.mkdir(parents=True)
    (folder / "metrics.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records)
    )
    return folder


def _train(t, epoch, maes):
    return [
        {
            "kind": "train",
            "time_s": t,
            "epoch_total": epoch,
            "member": k,
            "valid_f_mae": m,
        }
        for k, m in enumerate(maes)
    ]


def _back(t, labels):
    return {"kind": "sampling", "time_s": t, "labels": labels}


def test_in_run_curve_takes_the_last_epoch_with_at_most_n_labels(tmp_path):
    run = _run(
        tmp_path / "pax_s0",
        [
            _back(1, 4),
            _back(2, 8),
            *_train(3, 1, [0.5, 0.3]),
            _back(4, 12),
            *_train(5, 2, [0.2, 0.2]),
            *_train(6, 3, [0.1, 0.3]),
            _back(7, 16),
            _back(8, 17),
            *_train(9, 4, [0.05, 0.05]),  # 17 < 32: no N=32
        ],
    )
    assert report.in_run_curve(run, [4, 8, 16, 32]) == {8: 0.4, 16: 0.2}


def test_in_run_summary_keeps_the_ns_every_seed_reached(tmp_path):
    for r, mae in enumerate([0.2, 0.4]):
        _run(tmp_path / "runs" / f"pax_s{r}", [_back(1, 8), *_train(2, 1, [mae])])
    _run(
        tmp_path / "runs" / "pax_s2",
        [_back(1, 8), *_train(2, 1, [0.3]), _back(3, 16), *_train(4, 2, [0.1])],
    )
    got = report.in_run_summary(tmp_path, ["pax", "uniform"], [8, 16])
    assert list(got) == ["pax"]  # uniform has no runs
    (point,) = got["pax"]
    assert point["n"] == 8 and abs(point["mean"] - 0.3) < 1e-12 and point["seeds"] == 3
    assert point["lo"] < 0.3 < point["hi"]


def test_pretrained_arms_report_their_pretrained_ensemble_alone():
    def score(f_maes, alone):
        rows = [
            {"n": n, "test_K": 500.0, "f_mae": f, "f_rmse": f, "f_p99": f}
            | {"e_mae_per_atom": 0.001}
            for n, f in zip((4, 8), f_maes)
        ]
        return {
            "rows": rows,
            "train_wall_s": 1.0,
            "stability": {"fraction_physical": 1.0, "steps": 10},
            "pretrained_only": alone and [{**rows[0], "n": 0, "f_mae": alone}],
        }

    scored = {
        "uniform": {"0": score((0.2, 0.1), None), "1": score((0.3, 0.1), None)},
        "ablation_pre": {
            "0": score((0.05, 0.04), 0.06),
            "1": score((0.05, 0.04), 0.08),
        },
    }
    scored["uniform_pretrained"] = scored["ablation_pre"]
    scored["ablation_other"] = scored["uniform"]
    out = report.summarise(scored, {}, 500.0, (0.1,))
    assert "pretrained_only" not in out["arms"]["uniform"]
    assert "uniform_pretrained/ablation_pre" in out["ratios"]
    assert "uniform_pretrained/ablation_other" not in out["ratios"]
    alone = out["arms"]["ablation_pre"]["pretrained_only"]["f_mae@500K"]
    assert alone["mean"] == 0.07


def test_projection_leaves_out_sampler_steps_and_cheap_pretraining_labels():
    cost = {"labels": 128, "reference_calls": 2728, "idg_sampler_steps": 2400}
    costs = {"0": {**cost, "pretrain_labels": 200}}
    out = report.cost_summary(costs, {"0": {"train_wall_s": 1.0}})
    assert out["pretrain_labels"] == 200
    assert out["projected_h_at_1min_per_call"] == 128 / 60


def test_a_report_without_stability_runs_keeps_every_score(tmp_path):
    rows = [
        {"n": n, "test_K": 500.0, "f_mae": f, "f_rmse": f, "f_p99": f}
        | {"e_mae_per_atom": 0.001}
        for n, f in ((4, 0.2), (8, 0.08))
    ]
    seed = {"rows": rows, "train_wall_s": 1.0, "stability": None}
    scored = {"uniform": {"0": seed, "1": seed}}
    costs = {"uniform": {r: {"labels": 8, "reference_calls": 100} for r in "01"}}
    setting = {"system": "water", "seeds": 2, "ns": [4, 8], "epochs": 1}
    setting |= {"min_grad_steps": 1, "score_members": 2}
    args = SimpleNamespace(mode="smoke", reference="emt", temperature_K=500.0)
    report.write(tmp_path, setting, args, costs, scored, (0.1,), 1.0)
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["scored"]["uniform"]["1"]["rows"][1]["f_mae"] == 0.08
    assert saved["summary"]["arms"]["uniform"]["stability"] is None
    assert "stay physical" not in (tmp_path / "result.md").read_text()
