"""Per-member bootstrap of the training data (al.bootstrap_members)."""

from types import SimpleNamespace

import numpy as np
from ase import Atoms

from pax.al.context import Context
from pax.al.decisions import bootstrap_counts


def test_counts_are_poisson_one_and_differ_between_members():
    ids = [f"{i:06d}" for i in range(4000)]
    a, b = np.array(bootstrap_counts(ids, 0)), np.array(bootstrap_counts(ids, 1))
    assert abs(a.mean() - 1) < 0.05 and abs(a.var() - 1) < 0.1
    assert abs((a == 0).mean() - np.exp(-1)) < 0.03  # a third of labels left out
    assert (a != b).mean() > 0.5


def test_a_label_keeps_its_count_as_data_grow_and_in_any_order():
    ids = [f"{i:06d}" for i in range(50)]
    whole = dict(zip(ids, bootstrap_counts(ids, 2)))
    assert dict(zip(ids[:20], bootstrap_counts(ids[:20], 2))) == {
        i: whole[i] for i in ids[:20]
    }
    rev = ids[::-1]
    assert dict(zip(rev, bootstrap_counts(rev, 2))) == whole


class Store:
    def __init__(self, splits):
        self.splits = splits

    def get(self, name):
        return list(self.splits.get(name, []))


def frames(n):
    out = []
    for i in range(n):
        a = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])
        a.info["label_id"] = f"{i:06d}"
        out.append(a)
    return out


def context(bootstrap, splits, members=3):
    cfg = SimpleNamespace(
        al=SimpleNamespace(bootstrap_members=bootstrap),
        mlff=SimpleNamespace(ensemble_size=members),
    )
    return Context(cfg, None, [], Store(splits), None, None, None)


def test_members_train_on_their_resample_while_n_train_counts_the_data():
    data = frames(30)
    plain = context(False, {"train": data})
    assert [len(s) for s in plain.member_train_sets()] == [30, 30, 30]
    boot = context(True, {"train": data})
    sets = boot.member_train_sets()
    ids = [a.info["label_id"] for a in data]
    for k, s in enumerate(sets):
        want = bootstrap_counts(ids, k)
        got = [sum(a.info["label_id"] == i for a in s) for i in ids]
        assert got == want
    assert len({tuple(a.info["label_id"] for a in s) for s in sets}) == 3
    assert boot.n_train() == 30
