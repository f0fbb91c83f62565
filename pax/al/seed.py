"""Start active learning from given data (and models) instead of an IDG."""

from __future__ import annotations

import logging

from ase.io import read

from pax.al.context import Context
from pax.al.decisions import goes_to_validation
from pax.errors import PaxError
from pax.paths import resolve_path

log = logging.getLogger(__name__)


def seed_from_files(ctx: Context) -> None:
    """Fill the datasets from run.initial_dataset and get an ensemble for AL.

    Frames need REF_energy and REF_forces; they are split into training and
    validation by al.valid_ratio. The ensemble is loaded from
    run.initial_ensemble (a pax checkpoint) or built and trained to convergence.
    """
    run, al = ctx.cfg.run, ctx.cfg.al
    path = resolve_path(run.initial_dataset)
    try:
        frames = read(str(path), index=":")
    except Exception as exc:
        raise PaxError(
            f"run.initial_dataset={str(path)!r}: cannot read ({exc})"
        ) from None
    missing = [i for i, f in enumerate(frames) if not _labelled(f)]
    if not frames or missing:
        raise PaxError(
            f"run.initial_dataset={str(path)!r}: frames {missing[:5]} lack "
            "REF_energy/REF_forces (or the file is empty)"
        )
    for i, frame in enumerate(frames):
        frame.info["label_id"] = f"init{i:06d}"
        frame.info["phase"] = "given"
        n_valid = ctx.store.size("valid")
        n_train = ctx.store.size("train")
        split = (
            "valid" if goes_to_validation(n_train, n_valid, al.valid_ratio) else "train"
        )
        ctx.store.add(split, frame)
    log.info("seeded %d frames from %s", len(frames), path)
    from pax.mlff import Ensemble

    if run.initial_ensemble:
        ctx.ensemble = Ensemble.load(resolve_path(run.initial_ensemble))
        return
    ctx.ensemble = Ensemble.build(ctx.cfg.mlff, ctx.member_train_sets(), ctx.e0s)
    ctx.ensemble.converge(
        ctx.member_train_sets(),
        ctx.store.get("valid"),
        al.convergence_patience,
        al.convergence_margin,
        al.idg.max_initial_epochs,
        members="all",
    )


def _labelled(frame) -> bool:
    forces = frame.arrays.get("REF_forces")
    if forces is None and frame.calc is not None:
        return False
    return "REF_energy" in frame.info and forces is not None
