"""al.pretrain: GFN1 labels train the ensemble before IDG labels with GFN2."""

from types import SimpleNamespace

import ase.io
import numpy as np
import pytest

from pax.al.pretrain import labelled_frames
from pax.data import DatasetStore
from pax.dft import label
from pax.dft.xtb import XTBConfig, XTBMethod
from pax.system.geometry import load_systems
from tests.conftest import build
from tests.integration.workflow_helpers import events, run_pax

PRETRAIN = (
    "al.pretrain.enabled=true",
    "al.pretrain.n_frames=12",
    "al.pretrain.epochs=3",
)


@pytest.fixture(scope="module")
def pretrained_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("pretrain") / "run"
    proc = run_pax(run_dir, *PRETRAIN, "dft.method=GFN2", entry="main_idg")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run_dir


def test_cheap_labels_are_gfn1_and_stay_out_of_the_datasets(pretrained_run):
    frames = ase.io.read(pretrained_run / "pretrain" / "frames.extxyz", ":")
    assert len(frames) == 12
    gfn1 = label(frames[3], XTBConfig(method=XTBMethod.GFN1), str(pretrained_run))
    assert np.allclose(frames[3].arrays["REF_forces"], gfn1.forces, atol=1e-3)
    store = DatasetStore(pretrained_run / "data")
    stored = [a for split in ("train", "valid") for a in store.get(split)]
    assert stored
    cheap = {a.positions.round(6).tobytes() for a in frames}
    assert not any(a.positions.round(6).tobytes() in cheap for a in stored)
    for atoms in stored[:2]:  # the datasets hold the expensive reference's labels
        gfn2 = label(atoms, XTBConfig(method=XTBMethod.GFN2), str(pretrained_run))
        assert np.allclose(atoms.arrays["REF_forces"], gfn2.forces, atol=1e-3)


def test_pretraining_is_logged_and_saved(pretrained_run):
    end = [e for e in events(pretrained_run, "phase") if e.get("phase") == "pretrain"]
    assert end and end[-1]["n_train"] + end[-1]["n_valid"] == 12
    curve = [
        e
        for e in events(pretrained_run, "train")
        if e["phase"] == "pretrain" and e["member"] == "mean"
    ]
    assert [e["epoch"] for e in curve] == [1, 2, 3]  # al.pretrain.epochs=3
    assert curve[-1]["valid_f_mae"] == pytest.approx(end[-1]["valid_f_mae"])
    assert (pretrained_run / "state" / "pretrain.pt").is_file()
    import json

    summary = json.loads((pretrained_run / "results" / "summary.json").read_text())
    assert summary["time_budget"]["sections_s"]["pretrain"] > 0


def test_frames_on_disk_are_kept_and_continued(tmp_path):
    cfg = build(
        ["system=water", "al.idg.skip_step_initial=5", "al.pretrain.n_frames=3"]
    )
    ctx = SimpleNamespace(cfg=cfg, run_dir=tmp_path, systems=load_systems(cfg.system))
    cheap = XTBConfig(method=XTBMethod.GFN1)
    first = labelled_frames(ctx, cheap)
    cfg.al.pretrain.n_frames = 5
    more = labelled_frames(ctx, cheap)
    assert len(first) == 3 and len(more) == 5
    assert len(ase.io.read(tmp_path / "pretrain" / "frames.extxyz", ":")) == 5
    ctx.run_dir = tmp_path / "in_one_go"
    in_one_go = labelled_frames(ctx, cheap)  # the resumed trajectories go on alike
    for a, b in zip(first + more[3:], in_one_go, strict=True):
        assert np.allclose(a.positions, b.positions, atol=1e-6)


def test_bad_settings_name_the_key():
    from pax.errors import ConfigError

    with pytest.raises(ConfigError, match="al.pretrain.n_frames"):
        build(["al.pretrain.n_frames=0"])
    with pytest.raises(ConfigError, match="al.pretrain.valid_ratio"):
        build(["al.pretrain.valid_ratio=1.0"])
