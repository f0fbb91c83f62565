"""Train an ensemble until validation stops improving; keep the best weights."""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence

from ase import Atoms

from pax.errors import PaxError
from pax.mlff.graphs import torch_dtype
from pax.mlff.train import evaluate_member

log = logging.getLogger(__name__)


def _snapshot(member) -> dict:
    return {
        "model": copy.deepcopy(member.model.state_dict()),
        "eval_model": copy.deepcopy(member.eval_model.state_dict()),
        "ema": copy.deepcopy(member.ema.state_dict())
        if member.ema is not None
        else None,
    }


def _restore(member, snap: dict) -> None:
    member.model.load_state_dict(snap["model"])
    member.eval_model.load_state_dict(snap["eval_model"])
    if member.ema is not None:
        member.ema.load_state_dict(snap["ema"])


def converge(
    ens,
    train,
    valid: Sequence[Atoms],
    patience: int,
    margin: float,
    max_epochs: int,
    members: str = "best",
) -> dict:
    """Train until no member improves its validation loss for `patience` epochs.

    An epoch improves a member when its validation loss drops below
    best * (1 - margin). At the end each member gets back its best weights.

    Args:
        ens: the Ensemble (trained in place).
        train: per-member lists of Atoms or one shared list.
        valid: labelled validation structures (required).
        patience: epochs without improvement before stopping.
        margin: relative improvement that counts (0.01 = 1 %).
        max_epochs: hard limit on epochs trained here.
        members: "best" trains only the member with the lowest validation loss;
            "all" trains every member.

    Returns:
        members (trained indices), epochs (trained here), best_epoch and
        best_valid_loss per member, records (as Ensemble.train returns them).
    """
    if not valid:
        raise PaxError("converge needs a validation set")
    if members not in ("best", "all"):
        raise PaxError(f"converge members={members!r}: use 'best' or 'all'")
    if patience < 1 or max_epochs < 1 or margin < 0:
        raise PaxError("converge needs patience >= 1, max_epochs >= 1 and margin >= 0")
    with torch_dtype(ens.dtype):
        batches = ens._batches(valid)
        start = [evaluate_member(m, batches, ens.losses)[0] for m in ens.members]
    chosen = (
        list(range(len(ens.members)))
        if members == "all"
        else [min(range(len(start)), key=start.__getitem__)]
    )
    best = {k: start[k] for k in chosen}
    best_epoch = {k: ens.epoch for k in chosen}
    snaps = {k: _snapshot(ens.members[k]) for k in chosen}
    stale = {k: 0 for k in chosen}
    records: list[dict] = []
    trained = 0
    while trained < max_epochs and min(stale.values()) < patience:
        step = ens.cfg.valid_skip - ens.epoch % ens.cfg.valid_skip
        step = min(step, max_epochs - trained)
        new = ens.train(train, valid, step, phase="converge", members=chosen)
        trained += step
        records.extend(new)
        rows = {r["member"]: r for r in new if r["epoch"] == ens.epoch}
        for k in chosen:
            if k not in rows:
                stale[k] += step
                continue
            loss = rows[k]["valid_loss"]
            if loss < best[k] * (1.0 - margin):
                best[k], best_epoch[k], stale[k] = loss, ens.epoch, 0
                snaps[k] = _snapshot(ens.members[k])
            else:
                stale[k] += step
    for k in chosen:
        _restore(ens.members[k], snaps[k])
    log.info(
        "converged members %s after %d epochs; best epochs %s",
        chosen,
        trained,
        best_epoch,
    )
    return {
        "members": chosen,
        "epochs": trained,
        "best_epoch": best_epoch,
        "best_valid_loss": best,
        "records": records,
    }
