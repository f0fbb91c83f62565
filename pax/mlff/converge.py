"""Train an ensemble until validation stops improving; keep the best weights."""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence

import torch
from ase import Atoms

from pax.errors import PaxError
from pax.mlff.graphs import torch_dtype
from pax.mlff.train import Losses, evaluate_member

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

    mace-torch's stage two: the loss weighs energies by
    cfg.stage_two_energy_weight and forces by cfg.stage_two_forces_weight (the
    ensemble's own weights are back afterwards). An epoch improves a member when
    its validation loss drops below best * (1 - margin). At the end each member
    gets back its best weights and its energy offsets re-fit on its training set.

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
        best_valid_loss per member (stage-two loss of the returned weights),
        records (as Ensemble.train returns them).
    """
    if not valid:
        raise PaxError("converge needs a validation set")
    if members not in ("best", "all"):
        raise PaxError(f"converge members={members!r}: use 'best' or 'all'")
    if patience < 1 or max_epochs < 1 or margin < 0:
        raise PaxError("converge needs patience >= 1, max_epochs >= 1 and margin >= 0")
    stage_one, stage_two = ens.losses, Losses(ens.cfg, ens.device, ens.dtype, True)
    ens.refit_offsets(train)
    with torch_dtype(ens.dtype):
        batches = ens._batches(valid)
        start = [evaluate_member(m, batches, stage_one)[0] for m in ens.members]
    chosen = (
        list(range(len(ens.members)))
        if members == "all"
        else [min(range(len(start)), key=start.__getitem__)]
    )
    ens.losses = stage_two
    _restart_plateau(ens, chosen)
    try:
        result = _stage_two(
            ens, train, valid, batches, chosen, patience, margin, max_epochs
        )
    finally:
        ens.losses = stage_one
        _restart_plateau(ens, chosen)
    return result


def _restart_plateau(ens, chosen) -> None:
    """Forget the plateau schedule's best loss (the loss changes its weights)."""
    for k in chosen:
        sched = ens.members[k].scheduler
        if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            sched.best, sched.num_bad_epochs = sched.mode_worse, 0


def _stage_two(ens, train, valid, batches, chosen, patience, margin, max_epochs):
    with torch_dtype(ens.dtype):
        start = {
            k: evaluate_member(ens.members[k], batches, ens.losses)[0] for k in chosen
        }
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
    ens.refit_offsets(train, chosen)
    with torch_dtype(ens.dtype):
        for k in chosen:
            best[k] = evaluate_member(ens.members[k], batches, ens.losses)[0]
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
