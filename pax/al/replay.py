"""What the ensemble trains on between AL labels (al.replay)."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
from ase import Atoms


def random_subset_sets(
    sets: list[list[Atoms]],
    new_ids: Collection[str],
    size: int,
    rng: np.random.Generator,
) -> list[list[Atoms]]:
    """Each member's new points plus a random subset of `size` of its older ones.

    Args:
        sets: Training frames of each member.
        new_ids: label_id of the points whose training epochs are still due.
        size: Points drawn from the older ones (all of them when fewer).
        rng: Draws the subset.
    """
    out = []
    for frames in sets:
        new = [f for f in frames if f.info.get("label_id") in new_ids]
        old = [f for f in frames if f.info.get("label_id") not in new_ids]
        if len(old) > size:
            old = [old[j] for j in rng.choice(len(old), size, replace=False)]
        out.append(new + old)
    return out


def validation_subset(valid: list[Atoms], al, rng: np.random.Generator) -> list[Atoms]:
    """The validation frames of one AL training chunk (al.valid_subset_size).

    With replay=random_subset and 0 < valid_subset_size < len(valid), that many
    frames drawn by rng (in their order); otherwise valid itself.
    """
    size = al.valid_subset_size
    if al.replay.value != "random_subset" or not 0 < size < len(valid):
        return valid
    return [valid[i] for i in sorted(rng.choice(len(valid), size, replace=False))]
