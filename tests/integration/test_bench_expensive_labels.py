"""The expensive-labels benchmark end to end (--smoke): water, a tiny model, xTB."""

import json
import sys

import numpy as np
import pytest
from ase.io import read

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts" / "bench"))
import expensive_labels as el  # noqa: E402

pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]


def test_smoke_scores_every_way_and_keeps_cheap_labels_apart(tmp_path):
    out = tmp_path / "bench"
    el.main(["--smoke", "--out", str(out)])
    result = json.loads((out / "result.json").read_text())
    assert set(result["summary"]) == set(el.WAYS)
    rows = {(x["way"], x["replicate"]): x for x in result["results"]}
    assert len(rows) == 3 * 2
    for x in rows.values():
        assert [r["n"] for r in x["rows"]] == el.MODES["smoke"]["ns"]
        assert all(np.isfinite(r["f_mae"]) and r["f_mae"] > 0 for r in x["rows"])
    assert rows[("pretrain", 0)]["cheap_labels"] == 12
    assert rows[("scratch", 0)]["cheap_labels"] == 0
    # each seed pretrains on its own GFN1 frames; the expensive pool is GFN2
    a = read(out / "data" / "cheap_s0" / "pretrain" / "frames.extxyz", ":")
    b = read(out / "data" / "cheap_s1" / "pretrain" / "frames.extxyz", ":")
    assert not np.allclose(a[-1].positions, b[-1].positions)
    pool = read(out / "data" / "gfn2_pool.extxyz", ":")
    pool_keys = {p.positions.round(5).tobytes() for p in pool}
    assert not any(f.positions.round(5).tobytes() in pool_keys for f in a + b)
    assert (out / "models" / "foundation.model").is_file()
    assert (out / "mae_vs_expensive_labels.png").stat().st_size > 0
    assert "| pretrain |" in (out / "result.md").read_text()
