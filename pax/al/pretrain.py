"""Cheap-to-expensive pretraining: the ensemble learns xTB labels before IDG.

Frames come from a sampler like IDG's (seeded apart from it), are labelled by
al.pretrain.xtb_method in this process and appended to pretrain/frames.extxyz
as they arrive, so a killed run keeps them. The pretrained ensemble is saved
to state/pretrain.pt; IDG then continues training it on the expensive labels
(per-element energy offsets re-fit on those). The cheap labels stay in
pretrain/: they never enter the datasets or the validation set.
"""

from __future__ import annotations

import dataclasses
import logging

import ase.io
from ase import Atoms

from pax.al.context import Context
from pax.al.decisions import valid_by_hash
from pax.al.sampler import make_sampler
from pax.dft import label
from pax.dft.xtb import XTBConfig
from pax.errors import PaxError

log = logging.getLogger(__name__)

SEED_OFFSET = 7919
"""Added to md.seed so pretraining trajectories differ from IDG's."""


def pretrain(ctx: Context) -> None:
    """Give ctx.ensemble the pretrained ensemble, pretraining it unless saved."""
    with ctx.budget.section("pretrain"):
        _pretrain(ctx)


def _pretrain(ctx: Context) -> None:
    from pax.mlff import Ensemble

    path = ctx.state_dir / "pretrain.pt"
    if path.is_file():
        ctx.ensemble = _switched(ctx, Ensemble.load(path))
        log.info("pretrained ensemble loaded from %s", path)
        return
    pre = ctx.cfg.al.pretrain
    cheap = XTBConfig(
        method=pre.xtb_method,
        charge=ctx.cfg.dft.charge,
        multiplicity=ctx.cfg.dft.multiplicity,
    )
    frames = labelled_frames(ctx, cheap)
    e0s = _cheap_e0s(ctx, cheap) if ctx.e0s is not None else None
    ens, train, valid = pretrained_ensemble(
        ctx.cfg.mlff, frames, e0s, pre, _progress(ctx, pre.epochs)
    )
    mean = ens.last_valid[-1]
    ctx.tracker.log(
        "phase",
        {
            "phase": "pretrain",
            "event": "end",
            "method": cheap.method.value,
            "n_train": len(train),
            "n_valid": len(valid),
            "epochs": pre.epochs,
            "valid_f_mae": mean["valid_f_mae"],
        },
    )
    log.info(
        "pretrained on %d %s frames: validation force MAE %.4f eV/Å",
        len(train),
        cheap.method.value,
        mean["valid_f_mae"],
    )
    ens.save(path)
    ctx.ensemble = _switched(ctx, ens)


def _progress(ctx: Context, epochs: int):
    """Pretraining's on_epoch: "train" records, a log line every 10 epochs."""

    def on_epoch(record: dict) -> None:
        ctx.tracker.log("train", record)
        epoch = record["epoch"]
        if record["member"] == "mean" and (epoch % 10 == 0 or epoch == epochs):
            log.info(
                "pretrain: epoch %d / %d, validation force MAE %.4f eV/Å",
                epoch,
                epochs,
                record["valid_f_mae"],
            )

    return on_epoch


def _switched(ctx: Context, ens):
    """The ensemble with the expensive reference's E0s (when mlff.e0s=reference)."""
    from pax.mlff.offsets import set_e0s

    if ctx.e0s is not None:
        set_e0s(ens, ctx.e0s)
    return ens


def pretrained_ensemble(mlff_cfg, frames: list[Atoms], e0s, pre, on_epoch=None):
    """An ensemble trained pre.epochs on cheap-labelled frames, split by hash.

    Args:
        mlff_cfg: the mlff config.
        frames: frames with the cheap method's REF_energy and REF_forces.
        e0s: the cheap method's isolated-atom energies (eV), or None.
        pre: the al.pretrain config (valid_ratio, epochs).
        on_epoch: called with each training record (Ensemble.train).

    Returns:
        (ensemble, training frames, validation frames).
    """
    from pax.mlff import Ensemble

    valid_flags = [valid_by_hash(str(i), pre.valid_ratio) for i in range(len(frames))]
    valid = [a for a, v in zip(frames, valid_flags) if v]
    train = [a for a, v in zip(frames, valid_flags) if not v]
    if not valid or not train:
        raise PaxError(
            f"al.pretrain: {len(frames)} frames give no training or no validation "
            "frames; raise al.pretrain.n_frames"
        )
    ens = Ensemble.build(mlff_cfg, train, e0s)
    ens.train(train, valid, pre.epochs, phase="pretrain", on_epoch=on_epoch)
    return ens, train, valid


def labelled_frames(ctx: Context, cheap: XTBConfig) -> list[Atoms]:
    """al.pretrain.n_frames sampler frames with cheap labels (resumed from disk)."""
    pre = ctx.cfg.al.pretrain
    folder = ctx.run_dir / "pretrain"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "frames.extxyz"
    frames = ase.io.read(path, ":") if path.is_file() else []
    cfg = dataclasses.replace(
        ctx.cfg, md=dataclasses.replace(ctx.cfg.md, seed=ctx.cfg.md.seed + SEED_OFFSET)
    )
    sampler = make_sampler(cfg, ctx.systems, folder)
    for _ in range(len(frames)):  # the same trajectories, past what is on disk
        sampler.next_frame()
    while len(frames) < pre.n_frames:
        _, frame = sampler.next_frame()
        result = label(frame, cheap, str(folder))
        if not result.ok:
            log.warning(
                "pretrain: %s failed on a frame (%s)", cheap.method.value, result.reason
            )
            continue
        frame.info["REF_energy"] = result.energy
        frame.arrays["REF_forces"] = result.forces
        with open(path, "a") as fh:
            ase.io.write(fh, frame, format="extxyz")
        frames.append(frame)
        if len(frames) % 25 == 0 or len(frames) == pre.n_frames:
            log.info("pretrain: %d / %d frames labelled", len(frames), pre.n_frames)
    return frames


def _cheap_e0s(ctx: Context, cheap: XTBConfig) -> dict[int, float]:
    from pax.dft.e0s import isolated_atom_energies

    numbers = sorted({int(z) for a in ctx.systems for z in a.numbers})
    return isolated_atom_energies(numbers, cheap, ctx.state_dir)
