"""The label-efficiency benchmark end to end (--smoke), and test sets kept out of the arms.

Real pax runs (xTB, MACE, Parsl), real reference MD; water and a tiny model.
"""

import builtins
import io
import json
import os
import sys
from unittest import mock

import pytest
from ase.io import read

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts" / "bench"))
import label_efficiency as le  # noqa: E402

pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]


@pytest.fixture
def guard_open(monkeypatch):
    """Make every open() of a path under a folder raise, and record the attempts."""
    attempts = []

    def install(folder):
        real = builtins.open

        def guarded(file, *args, **kwargs):
            if str(folder) in str(file):
                attempts.append(str(file))
                raise PermissionError(f"test set read during the arms: {file}")
            return real(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", guarded)
        monkeypatch.setattr(io, "open", guarded)

    return install, attempts


@mock.patch.dict(os.environ)  # main() sets OMP_NUM_THREADS for this process
def test_smoke_never_reads_test_sets_during_the_arms(tmp_path, guard_open, monkeypatch):
    out, testsets = tmp_path / "bench", tmp_path / "testsets"  # outside the repository
    argv = [
        "--smoke",
        "--out",
        str(out),
        "--testsets",
        str(testsets),
        "--arms",
        "pax",
        "uniform",
        "equal_cost",
        "mlff_md",
    ]
    args = le.parse_args(argv)
    paths = le.ensure_test_sets(args, le.setting(args))
    assert all(p.exists() for p in paths.values())

    # arms phase: test sets moved away and unreadable (pax subprocesses included),
    # and any in-process open of either folder fails and is recorded
    hidden = tmp_path / "hidden"
    testsets.rename(hidden)
    hidden.chmod(0)
    install, attempts = guard_open
    install(testsets)
    le.main([*argv, "--phase", "arms"])
    monkeypatch.undo()
    assert attempts == []
    hidden.chmod(0o755)
    hidden.rename(testsets)
    costs = json.loads((out / "arms" / "costs.json").read_text())
    assert set(costs) == {"pax", "uniform", "equal_cost", "mlff_md"}
    assert all(len(v) == 2 for v in costs.values())  # two seeds per arm
    for run in (out / "runs").iterdir():
        assert "test_set: null" in (run / "config.yaml").read_text()

    # the arms again: a pax run with enough labels is kept as it is, one with
    # too few (a larger N) is resumed, not started again
    log, frames = (
        out / "runs" / "pax_s0" / "pax.log",
        out / "arms" / "pax" / "s0.extxyz",
    )
    first_log, first = log.read_text(), read(str(frames), ":")
    le.main([*argv[:-3], "--seeds", "1", "--phase", "arms"])
    assert log.read_text() == first_log
    le.main([*argv[:-3], "--seeds", "1", "--ns", "8", "18", "--phase", "arms"])
    longer = read(str(frames), ":")
    assert len(longer) == 18 and log.read_text().startswith(first_log)
    assert all((a.positions == b.positions).all() for a, b in zip(first, longer[:16]))
    cost = json.loads((out / "arms" / "costs.json").read_text())["pax"]["0"]
    assert cost["labels"] == 18 <= cost["labels_in_run"]

    # scoring phase: the only reader of the test sets
    le.main([*argv, "--phase", "score", "--jobs", "2"])  # two worker processes
    result = json.loads((out / "result.json").read_text())
    arms = result["summary"]["arms"]
    assert set(arms) == {"pax", "uniform", "equal_cost", "mlff_md"}
    for entry in arms.values():
        for temp in ("300K", "500K", "700K"):
            curve = entry["curves"][f"f_mae@{temp}"]
            assert [p["n"] for p in curve] == [8, 16]
            assert all(p["lo"] <= p["mean"] <= p["hi"] for p in curve)
        assert 0.0 <= entry["stability"]["mean"] <= 1.0
    assert arms["uniform"]["cost"]["reference_calls"] > arms["pax"]["cost"]["labels"]
    assert "uniform/pax" in result["summary"]["ratios"]
    text = (out / "result.md").read_text()
    assert "Labels to reach" in text and "Cost per arm" in text
    assert (out / "mae_vs_labels.png").stat().st_size > 1000
    assert (out / "labels_to_target.png").stat().st_size > 1000
