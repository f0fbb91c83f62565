"""Arms added to an earlier label-efficiency run keep its arms and scores."""

import json

import arms
import label_efficiency
import numpy as np
from ase import Atoms
from ase.io import read, write


def test_no_builtin_arms_runs_only_the_ablations():
    args = label_efficiency.parse_args(
        ["--quick", "--arms", "--ablation", "diverse=al.selection=diverse"]
    )
    assert args.arms == []
    assert arms.pax_variants(args.arms, args.ablation) == {
        "ablation_diverse": ["al.selection=diverse"]
    }


def test_earlier_scores_are_kept_only_for_the_same_protocol(tmp_path):
    args = label_efficiency.parse_args(["--quick", "--out", str(tmp_path)])
    s = label_efficiency.setting(args)
    row = {"n": 8, "test_K": 500.0, "f_mae": 0.1}
    scored = {"uniform": {"0": {"rows": [row, {**row, "n": 1000}]}}}
    (tmp_path / "result.json").write_text(json.dumps({"setting": s, "scored": scored}))
    kept = {"uniform": {"0": {"rows": [row]}}}  # N=1000 is not in the setting
    assert label_efficiency.earlier_scores(tmp_path, s) == kept
    assert label_efficiency.earlier_scores(tmp_path, {**s, "ns": [4, 8]}) == kept
    longer = {**s, "epochs": s["epochs"] + 1}
    assert label_efficiency.earlier_scores(tmp_path, longer) == {}
    assert label_efficiency.earlier_scores(tmp_path / "none", s) == {}


def labelled(n: int, shift: float = 0.0) -> list:
    """n labelled H2 frames, bond lengths 0.70, 0.71, ... (+ shift)."""
    frames = []
    for k in range(n):
        a = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.7 + 0.01 * k + shift]])
        a.info["REF_energy"] = -1.0 - 0.01 * k
        a.arrays["REF_forces"] = np.full((2, 3), 0.1 * k)
        frames.append(a)
    return frames


def test_scores_saved_midway_are_taken_up_by_the_next_scoring(tmp_path):
    args = label_efficiency.parse_args(["--quick", "--out", str(tmp_path)])
    s = label_efficiency.setting(args)
    row = {"n": 8, "test_K": 500.0, "f_mae": 0.1, "frames_digest": "ab"}
    scored = {"pax": {"0": {"rows": [row], "stability": None}}}
    label_efficiency.save_scores_so_far(tmp_path, s, scored)
    assert label_efficiency.earlier_scores(tmp_path, s) == scored
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_only_missing_label_counts_are_scored_and_merged_in_order(tmp_path):
    path = tmp_path / "s0.extxyz"
    write(str(path), labelled(16))
    s = {"ns": [4, 8, 16]}
    rows = [{"n": n, "test_K": t} for n in (8, 16) for t in (300.0, 500.0)]
    earlier = {"rows": rows, "train_wall_s": 10.0, "stability": {"steps": 5}}
    task = {"frames": path, "ns": [4, 8, 16], "stability_steps": 5}
    assert label_efficiency.still_to_score(task, earlier, s)
    assert task["ns"] == [4] and task["stability_steps"] == 0  # stability kept
    assert not label_efficiency.still_to_score(
        {"frames": path, "ns": [8, 16]}, earlier, s
    )
    fresh = {"frames": path, "ns": [4, 8, 16], "stability_steps": 5}
    assert label_efficiency.still_to_score(fresh, None, s) and fresh["ns"] == [4, 8, 16]

    new = {
        "rows": [{"n": 4, "test_K": t} for t in (500.0, 300.0)],
        "train_wall_s": 2.0,
        "pretrain_wall_s": 0.0,
        "stability": None,
    }
    out = label_efficiency.merged(earlier, new)
    assert [(r["n"], r["test_K"]) for r in out["rows"]] == [
        (4, 300.0),
        (4, 500.0),
        (8, 300.0),
        (8, 500.0),
        (16, 300.0),
        (16, 500.0),
    ]
    assert out["train_wall_s"] == 12.0 and out["stability"] == {"steps": 5}


def test_rows_of_frames_that_changed_are_scored_again(tmp_path):
    from scoring import frames_digest

    old, path = labelled(16), tmp_path / "s0.extxyz"
    write(str(path), old)
    digest = {n: frames_digest(read(str(path), f":{n}")) for n in (4, 8, 16)}
    rows = [{"n": n, "test_K": 500.0, "frames_digest": digest[n]} for n in (4, 8, 16)]
    earlier = {"rows": rows, "stability": {"steps": 5}}
    task = {"frames": path, "ns": [4, 8, 16], "stability_steps": 5}
    assert not label_efficiency.still_to_score(task, earlier, {"ns": [4, 8, 16]})

    # the arm was run again: its first 8 frames are the same, the rest differ
    write(str(path), old[:8] + labelled(8, shift=0.3))
    task = {"frames": path, "ns": [4, 8, 16], "stability_steps": 5}
    assert label_efficiency.still_to_score(task, earlier, {"ns": [4, 8, 16]})
    assert task["ns"] == [16] and task["stability_steps"] == 5
    assert [row["n"] for row in earlier["rows"]] == [4, 8]


def test_cheap_frames_are_the_runs_own_or_those_named_in_the_cost(tmp_path):
    own = tmp_path / "runs" / "ablation_pretrain_s1" / "pretrain" / "frames.extxyz"
    own.parent.mkdir(parents=True)
    own.write_text("")
    assert label_efficiency.cheap_frames(tmp_path, "ablation_pretrain", 1, {}) == own
    like = {"cheap_from": "ablation_pretrain"}
    assert label_efficiency.cheap_frames(tmp_path, "uniform_pretrained", 1, like) == own
    assert label_efficiency.cheap_frames(tmp_path, "pax", 1, {}) is None
    assert label_efficiency.cheap_frames(tmp_path, "ablation_pretrain", 0, {}) is None


def test_uniform_pretrained_copies_uniform_and_names_its_cheap_source(tmp_path):
    import pytest

    s = {"seeds": 1, "first_seed": 0}
    costs = {"uniform": {"0": {"labels": 2, "reference_calls": 80}}}
    with pytest.raises(SystemExit, match="seed 0 needs"):
        label_efficiency.add_uniform_pretrained(tmp_path, "ablation_pre", s, costs)
    frames = [Atoms("H2", positions=[[0, 0, 0], [0, 0, d]]) for d in (0.7, 0.8)]
    (tmp_path / "arms" / "uniform").mkdir(parents=True)
    write(str(tmp_path / "arms" / "uniform" / "s0.extxyz"), frames)
    cheap = tmp_path / "runs" / "ablation_pre_s0" / "pretrain" / "frames.extxyz"
    cheap.parent.mkdir(parents=True)
    write(str(cheap), frames * 3)
    label_efficiency.add_uniform_pretrained(tmp_path, "ablation_pre", s, costs)
    copied = read(str(tmp_path / "arms" / "uniform_pretrained" / "s0.extxyz"), ":")
    assert [a.positions[1, 2] for a in copied] == [0.7, 0.8]
    assert costs["uniform_pretrained"]["0"] == {
        "labels": 2,
        "reference_calls": 86,  # 80 reference MD steps + 6 cheap labels
        "pretrain_labels": 6,
        "cheap_from": "ablation_pre",
    }
    on_disk = json.loads((tmp_path / "arms" / "costs.json").read_text())
    assert on_disk == costs  # written with each arm, not at the end of the phase


def test_each_pax_run_is_bounded_by_the_modes_timeout_unless_given():
    def timeout(*argv):
        return label_efficiency.setting(label_efficiency.parse_args(list(argv)))[
            "timeout_s"
        ]

    assert timeout("--quick") == 3600
    assert timeout("--system", "aspirin") == 12 * 3600  # a 128-label arm takes ~2 h
    assert timeout("--quick", "--timeout-s", "90") == 90


def test_holdout_draws_every_arm_and_test_set_from_seeds_no_default_run_uses(
    tmp_path, monkeypatch
):
    import make_test_set

    from tests.conftest import ROOT

    def parsed(*extra):
        args = label_efficiency.parse_args(["--quick", "--out", str(tmp_path), *extra])
        return args, label_efficiency.setting(args)

    args, default = parsed()
    hargs, held = parsed("--holdout")
    assert set(label_efficiency.replicates(default)).isdisjoint(
        label_efficiency.replicates(held)
    )
    assert list(label_efficiency.replicates(held)) == [50, 51, 52]
    paths = label_efficiency.test_set_paths(args, default)
    held_paths = label_efficiency.test_set_paths(hargs, held)
    assert set(paths.values()).isdisjoint(held_paths.values())

    def test_seeds(s):  # the seeds make_test_set gives its reference MD
        drawn = []

        def reference_md(start, temperature_K, seed, *rest):
            drawn.append(seed)
            return [], None

        monkeypatch.setattr(make_test_set, "reference_md", reference_md)
        for t in label_efficiency.TEST_TEMPERATURES_K:
            make_test_set.make_test_set(
                ROOT / "data/systems/ethanol.xyz", t, **s["test"]
            )
        return set(drawn)

    assert test_seeds(default).isdisjoint(test_seeds(held))
    # scores made on the default test sets are not taken for held-out ones
    (tmp_path / "result.json").write_text(
        json.dumps({"setting": default, "scored": {"uniform": {"0": {"rows": []}}}})
    )
    assert label_efficiency.earlier_scores(tmp_path, held) == {}
