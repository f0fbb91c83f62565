"""Arms added to an earlier label-efficiency run keep its arms and scores."""

import json

import arms
import label_efficiency


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
    scored = {"uniform": {"0": {"rows": []}}}
    (tmp_path / "result.json").write_text(json.dumps({"setting": s, "scored": scored}))
    assert label_efficiency.earlier_scores(tmp_path, s) == scored
    longer = {**s, "epochs": s["epochs"] + 1}
    assert label_efficiency.earlier_scores(tmp_path, longer) == {}
    assert label_efficiency.earlier_scores(tmp_path / "none", s) == {}
