import numpy as np
import pytest

from pax.tracking import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path, min_bytes=5000):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > min_bytes, f"{path.name} is only {len(data)} bytes"


def test_make_all_writes_every_plot(synthetic_records, tmp_path):
    paths = plots.make_all(
        synthetic_records, tmp_path / "plots", {"idg": 1.0, "al": 0.1}
    )
    assert sorted(p.name for p in paths) == [
        "calibration.png",
        "dataset_growth.png",
        "learning_curves.png",
        "uncertainty_traces.png",
    ]
    for path in paths:
        assert_png(path)
    assert not list((tmp_path / "plots").glob(".*.tmp"))


def test_make_all_skips_plots_without_data(synthetic_records, tmp_path):
    train_only = [r for r in synthetic_records if r["kind"] == "train"]
    paths = plots.make_all(train_only, tmp_path / "plots")
    assert sorted(p.name for p in paths) == [
        "dataset_growth.png",
        "learning_curves.png",
    ]
    assert plots.make_all([], tmp_path / "empty") == []


def test_parity_returns_errors_and_writes_png(tmp_path):
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(20, 3))  # (n_atoms, 3) eV/Å
    pred = ref + 0.1
    stats = plots.parity(pred, ref, tmp_path / "parity.png", title="validation")
    assert stats["n"] == 60
    assert stats["mae"] == pytest.approx(0.1)
    assert stats["rmse"] == pytest.approx(0.1)
    assert_png(tmp_path / "parity.png")


def test_parity_many_points_uses_hexbin(tmp_path):
    ref = np.linspace(-3, 3, 9000)
    stats = plots.parity(ref * 1.1, ref, tmp_path / "big.png")
    assert stats["mae"] == pytest.approx(np.mean(np.abs(0.1 * ref)))
    assert_png(tmp_path / "big.png")


def test_parity_rejects_mismatched_shapes(tmp_path):
    with pytest.raises(ValueError, match="pred has 3 values, ref 2"):
        plots.parity([1, 2, 3], [1, 2], tmp_path / "x.png")


def test_analysis_plot_of_error_and_uncertainty(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for traj in range(3):
        for step in range(0, 500, 50):
            u = rng.uniform(0.05, 0.3)
            rows.append(
                {
                    "kind": "analysis",
                    "traj": traj,
                    "md_step": step,
                    "uncertainty": u,
                    "f_mae": 0.5 * u + rng.normal(0, 0.01),
                }
            )
    (path,) = plots.make_all(rows, tmp_path)
    assert path.name == "analysis.png"
    assert_png(path)
