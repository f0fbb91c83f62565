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

    run.initial_dataset is a file of frames with REF_energy and REF_forces,
    split into training and validation by al.valid_ratio; or an earlier run's
    directory, whose datasets are taken with their splits (aims-PAX's
    extend_existing_final_ds). The ensemble is loaded from run.initial_ensemble
    (a pax checkpoint; for a run directory, its own by default) or built and
    trained to convergence.
    """
    run, al = ctx.cfg.run, ctx.cfg.al
    path = resolve_path(run.initial_dataset)
    ensemble = resolve_path(run.initial_ensemble) if run.initial_ensemble else None
    if path.is_dir():
        frames = _from_run(ctx, path)
        if ensemble is None and (path / "state" / "ensemble.pt").is_file():
            ensemble = path / "state" / "ensemble.pt"
    else:
        frames = _from_file(ctx, path)
    log.info("seeded %d frames from %s", len(frames), path)
    from pax.mlff import Ensemble

    if ensemble is not None:
        ctx.ensemble = Ensemble.load(ensemble)
        return
    ctx.ensemble = Ensemble.build(ctx.cfg.mlff, ctx.member_train_sets(), ctx.e0s)
    ctx.use_free_cores()
    ctx.ensemble.converge(
        ctx.member_train_sets(),
        ctx.store.get("valid"),
        al.convergence_patience,
        al.convergence_margin,
        al.idg.max_initial_epochs,
        members="all",
    )


def _from_file(ctx: Context, path) -> list:
    """Frames of a labelled file, split by al.valid_ratio in file order."""
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
        n_valid, n_train = ctx.store.size("valid"), ctx.store.size("train")
        valid = goes_to_validation(n_train, n_valid, ctx.cfg.al.valid_ratio)
        ctx.store.add("valid" if valid else "train", frame)
    return frames


def _from_run(ctx: Context, run_dir) -> list:
    """An earlier run's datasets, each frame in its own split.

    Member splits (train_m<k>) merge into train unless al.idg.distinct_member_sets.
    """
    from pax.data import DatasetStore

    old = DatasetStore(run_dir / "data")
    if not old.splits:
        raise PaxError(
            f"run.initial_dataset={str(run_dir)!r}: no datasets in {run_dir / 'data'}"
        )
    frames = []
    for split, atoms_list in sorted(old.splits.items()):
        target = split
        if split.startswith("train_m") and not ctx.cfg.al.idg.distinct_member_sets:
            target = "train"
        for atoms in atoms_list:
            atoms.info["phase"] = "given"
            # this run's tickets start at 000000 again: keep the ids apart
            atoms.info["label_id"] = f"prev{atoms.info.get('label_id', len(frames))}"
            ctx.store.add(target, atoms)
            frames.append(atoms)
    return frames


def _labelled(frame) -> bool:
    forces = frame.arrays.get("REF_forces")
    if forces is None and frame.calc is not None:
        return False
    return "REF_energy" in frame.info and forces is not None
