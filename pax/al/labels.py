"""Turning returned reference labels into dataset entries."""

from __future__ import annotations

import logging

from pax.al.config import ValidationSplit
from pax.al.context import Context
from pax.al.decisions import goes_to_validation, valid_by_hash
from pax.data import labelled_atoms

log = logging.getLogger(__name__)


def store_label(ctx: Context, done) -> str | None:
    """Put one completed label in its split; return the split, or None if failed/known.

    IDG labels go to their member's training set (or the shared one), AL labels
    to the shared training set; either goes to validation as al.validation_split
    decides. Analysis labels (al.analysis_every_steps) are never stored.
    """
    if done.ticket in ctx.store:
        return None
    ctx.budget.reference_busy_s += done.result.wall_s
    if not done.result.ok or done.tag.get("phase") == "analysis":
        return None
    al = ctx.cfg.al
    if al.validation_split is ValidationSplit.hash:
        to_valid = valid_by_hash(done.ticket, al.valid_ratio)
    else:
        n_valid = ctx.store.size("valid")
        splits = ctx.store.splits
        n_train = sum(ctx.store.size(s) for s in splits if s.startswith("train"))
        to_valid = goes_to_validation(n_train, n_valid, al.valid_ratio)
    if to_valid:
        split = "valid"
    elif done.tag.get("phase") == "idg" and al.idg.distinct_member_sets:
        split = f"train_m{done.tag.get('member', 0)}"
    else:
        split = "train"
    frame = labelled_atoms(done.atoms, done.result, done.ticket)
    frame.info["phase"] = done.tag.get("phase", "")
    ctx.store.add(split, frame)
    return split
