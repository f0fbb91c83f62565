"""The main process's torch threads follow the local workers' load."""

import os

import torch

from pax.threads import FAST_LABEL_S, ThreadPolicy
from tests.conftest import build


def test_all_cores_while_no_label_runs_and_the_rest_while_they_do():
    cfg = build(["cluster.max_workers=1", "cluster.cores_per_worker=1"])
    policy = ThreadPolicy(cfg)
    cores = os.cpu_count()
    assert policy.threads(0) == cores
    assert policy.threads(1) == max(1, cores - 1)
    assert policy.threads(5) == max(1, cores - 1)  # one worker: one busy at most
    assert "while no label runs here" in policy.describe()


def test_fast_labels_hold_no_core_slow_ones_do():
    cfg = build(["cluster.max_workers=1", "cluster.cores_per_worker=1"])
    policy = ThreadPolicy(cfg)
    cores = os.cpu_count()
    one_fewer = max(1, cores - 1)
    assert policy.threads(1, None) == one_fewer  # nothing measured yet
    assert policy.threads(1, 0.03) == cores  # xTB on a molecule
    assert policy.threads(1, FAST_LABEL_S) == one_fewer  # DFT
    assert policy.threads(1, 600.0) == one_fewer
    assert f"labels of {FAST_LABEL_S:g} s or more" in policy.describe()


def test_fixed_threads_and_remote_workers_keep_one_count():
    fixed = ThreadPolicy(build(["run.torch_threads=3"]))
    assert fixed.threads(0) == fixed.threads(4) == 3
    remote = ThreadPolicy(build(["cluster=slurm"]))
    assert remote.threads(0) == remote.threads(4) == os.cpu_count()


def test_update_sets_torch_only_on_change():
    before = torch.get_num_threads()
    try:
        policy = ThreadPolicy(build(["run.torch_threads=1"]))
        assert policy.update(2) == 1 and torch.get_num_threads() == 1
        torch.set_num_threads(2)
        policy.update(0)  # unchanged count: torch is left alone
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_plan_says_how_many_members_train_at_once():
    one = ThreadPolicy(build(["run.torch_threads=1", "mlff.ensemble_size=4"]))
    assert one.describe().endswith("up to 1 member(s) trained at once")
    two = ThreadPolicy(build(["run.torch_threads=2", "mlff.ensemble_size=4"]))
    assert two.describe().endswith("up to 2 member(s) trained at once")
    serial = ThreadPolicy(
        build(
            ["run.torch_threads=2", "mlff.ensemble_size=4", "mlff.parallel_members=1"]
        )
    )
    assert serial.describe().endswith("up to 1 member(s) trained at once")
