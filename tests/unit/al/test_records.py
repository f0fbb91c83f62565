"""One "sampling" record per ticket over a run's life; train records carry sizes."""

import time

import numpy as np
import pytest
from ase.build import molecule

from pax.al.context import Context
from pax.al.idg import InitialDataset
from pax.al.records import log_sampling, train_logger
from pax.cluster.pool import Completed
from pax.data import DatasetStore
from pax.dft.labelled import Labelled
from pax.errors import PaxError
from pax.tracking import Tracker, read_metrics
from tests.conftest import build


class FakePool:
    """The pool figures the records read."""

    in_flight = 0

    def utilisation(self) -> float:
        return 0.5


def context(tmp_path, overrides=()) -> Context:
    cfg = build(["wandb.mode=disabled", *overrides])
    return Context(
        cfg=cfg,
        run_dir=tmp_path,
        systems=[molecule("H2O")],
        store=DatasetStore(tmp_path / "data"),
        pool=FakePool(),
        tracker=Tracker(tmp_path, cfg=cfg),
        e0s=None,
    )


def label(ticket: str, ok: bool = True) -> Completed:
    atoms = molecule("H2O")
    result = (
        Labelled(status="ok", energy=-1.0, forces=np.zeros((3, 3)))
        if ok
        else Labelled.failed("scf")
    )
    return Completed(ticket, {"phase": "al", "traj": 1}, atoms, result)


def sampling(tmp_path):
    return [r for r in read_metrics(tmp_path) if r["kind"] == "sampling"]


def test_a_label_seen_again_is_logged_once_also_after_resume(tmp_path):
    ctx = context(tmp_path)
    assert log_sampling(ctx, label("000001"), "train")
    assert not log_sampling(ctx, label("000001"), None)  # a second submit's copy
    ctx.tracker.close()
    ctx.tracker = Tracker(tmp_path, cfg=ctx.cfg)  # the resumed run replays the ledger
    assert not log_sampling(ctx, label("000001"), None)
    assert log_sampling(ctx, label("000002", ok=False), None)
    ctx.tracker.close()
    rows = sampling(tmp_path)
    assert [r["ticket"] for r in rows] == ["000001", "000002"]
    assert rows[0]["traj"] == 1 and rows[0]["utilisation"] == 0.5


def test_train_records_carry_the_set_sizes(tmp_path):
    ctx = context(tmp_path)
    train_logger(ctx, "al")({"epoch": 3, "member": "mean", "valid_f_mae": 0.2})
    ctx.tracker.close()
    (row,) = [r for r in read_metrics(tmp_path) if r["kind"] == "train"]
    assert row["phase"] == "al" and row["n_train"] == 0 and row["n_valid"] == 0


@pytest.mark.parametrize("limit", [1, 3])
def test_idg_gives_up_after_max_failed_in_a_row(tmp_path, limit):
    ctx = context(tmp_path, [f"al.idg.max_failed_in_a_row={limit}"])
    idg = InitialDataset(ctx)
    for k in range(limit - 1):
        idg._arrived(label(f"{k:06d}", ok=False))
    with pytest.raises(PaxError, match=f"{limit} reference labels in a row failed"):
        idg._arrived(label("999999", ok=False))
    ctx.tracker.close()
    assert len(sampling(tmp_path)) == limit  # the last failure is logged too


class CountingEnsemble:
    """Counts test-set evaluations."""

    def __init__(self):
        self.calls = 0

    def evaluate(self, frames):
        self.calls += 1
        time.sleep(0.01)
        return {"mean": {"f_mae": 0.1, "f_rmse": 0.2, "e_mae_per_atom": 0.001}}


@pytest.mark.parametrize("every, expected", [(2, 3), (0, 0)])
def test_test_set_is_tracked_every_n_labels_or_only_at_the_end(
    tmp_path, every, expected
):
    ctx = context(tmp_path, [f"run.test_every_labels={every}"])
    ctx.ensemble, ctx.test_frames = CountingEnsemble(), [molecule("H2O")]
    for i in range(5):  # labels 1..5: tracked at 1, 3 and 5 with every=2
        water = molecule("H2O")
        water.info["label_id"] = f"{i:06d}"
        ctx.store.add("train", water)
        ctx.track_test("al")
    assert ctx.ensemble.calls == expected
    tests = [r for r in read_metrics(tmp_path) if r["kind"] == "test"]
    assert len(tests) == expected
    spent = [r["test_eval_s"] for r in tests]  # cumulative: 0.01 s or more each
    assert all(b - a >= 0.01 for a, b in zip([0.0, *spent], spent, strict=False))
