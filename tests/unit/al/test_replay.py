"""al.replay=random_subset trains on the new points plus a random subset."""

import numpy as np
from ase import Atoms

from pax.al.replay import random_subset_sets


def frames(n: int) -> list[Atoms]:
    out = []
    for i in range(n):
        atoms = Atoms("H")
        atoms.info["label_id"] = f"{i:06d}"
        out.append(atoms)
    return out


def test_new_points_are_always_in_the_subset():
    sets = [frames(100), frames(60)]
    new = {"000059", "000042"}
    for seed in range(20):
        chosen = random_subset_sets(sets, new, 5, np.random.default_rng(seed))
        for member in chosen:
            ids = [a.info["label_id"] for a in member]
            assert new <= set(ids)
            assert len(ids) == len(set(ids)) == 7  # 2 new + 5 drawn from the rest


def test_small_sets_are_taken_whole():
    sets = [frames(4)]
    chosen = random_subset_sets(sets, {"000003"}, 5, np.random.default_rng(0))
    assert [a.info["label_id"] for a in chosen[0]] == [
        "000003",
        "000000",
        "000001",
        "000002",
    ]
