"""Scoring on data: fresh ensembles trained on each arm's first N frames, one protocol.

Every arm, seed and N gets the same model config, the same E0s, the same
train/validation split rule (pax's goes_to_validation) and the same training
length: a number of epochs with a floor of gradient steps (small N would
otherwise stop after a few steps). A pretrained arm starts each N from one
ensemble pretrained on its cheap-labelled frames (pretrained_base) instead of
a new one. Test sets are read only here (see score_task's caller).
"""

from __future__ import annotations

import hashlib
import math
import time
from pathlib import Path

import numpy as np
import seeds
import stats
from ase import Atoms
from ase.neighborlist import natural_cutoffs


def frames_digest(frames: list[Atoms]) -> str:
    """A digest of labelled frames (elements, positions, reference energy and
    forces, in order): a score of an arm's first N frames is reused only while
    the digest of its first N frames is the same."""
    h = hashlib.sha256()
    for a in frames:
        for array in (a.numbers, a.positions, a.arrays["REF_forces"]):
            h.update(np.ascontiguousarray(array).tobytes())
        h.update(repr(float(a.info["REF_energy"])).encode())
    return h.hexdigest()[:16]


def split(frames: list[Atoms], valid_ratio: float) -> tuple[list, list]:
    """Train and validation frames in order, by pax's own split rule."""
    from pax.al.decisions import goes_to_validation

    train, valid = [], []
    for frame in frames:
        if goes_to_validation(len(train), len(valid), valid_ratio) or not valid:
            valid.append(frame)
        else:
            train.append(frame)
    return train, valid


def epochs_for(n_train: int, batch_size: int, epochs: int, min_grad_steps: int) -> int:
    """Epochs of the protocol: `epochs`, or more when they give < min_grad_steps steps."""
    steps_per_epoch = math.ceil(n_train / batch_size)
    return max(epochs, math.ceil(min_grad_steps / steps_per_epoch))


def train_fresh(
    frames, mlff_cfg, e0s, protocol: dict, valid_ratio: float, replicate, base=None
):
    """An ensemble trained on frames for protocol's epochs / min_grad_steps: new,
    or a copy of the pretrained ensemble saved at `base` (with e0s set)."""
    from dataclasses import replace

    from pax.mlff import Ensemble
    from pax.mlff.offsets import set_e0s

    train, valid = split(frames, valid_ratio)
    if base is None:
        cfg = replace(mlff_cfg, seed=seeds.seed("train", replicate))
        ens = Ensemble.build(cfg, train, e0s)
    else:
        ens = Ensemble.load(base)
        set_e0s(ens, e0s)
    epochs = epochs_for(len(train), ens.cfg.batch_size, **protocol)
    ens.train(train, valid, epochs, phase="bench")
    return ens


def pretrained_base(cheap: Path, mlff_cfg, cheap_e0s, pretrain, replicate, path: Path):
    """Pretrain a new ensemble on an arm's cheap-labelled frames the way pax's
    al.pretrain does (same settings), save it at path (once) and return path."""
    from dataclasses import replace

    from ase.io import read

    from pax.al.pretrain import pretrained_ensemble

    if not path.exists():
        cfg = replace(mlff_cfg, seed=seeds.seed("train", replicate))
        ens, _, _ = pretrained_ensemble(cfg, read(str(cheap), ":"), cheap_e0s, pretrain)
        path.parent.mkdir(parents=True, exist_ok=True)
        ens.save(path)
    return path


def test_errors(ens, test: list[Atoms]) -> dict:
    """Committee-mean errors: force MAE/RMSE, 99th pct |ΔF| per atom (eV/Å), E MAE/atom."""
    out = ens.predict(test)
    ref_f = np.concatenate([a.arrays["REF_forces"] for a in test])  # (n_atoms, 3) eV/Å
    ref_e = np.array([a.info["REF_energy"] for a in test])  # (N,) eV
    n_atoms = np.array([len(a) for a in test])
    df = out["forces_comm"] - ref_f
    return {
        "f_mae": float(np.abs(df).mean()),
        "f_rmse": float(np.sqrt((df**2).mean())),
        "f_p99": stats.quantile_abs(np.linalg.norm(df, axis=1), 0.99),
        "e_mae_per_atom": float(np.abs((out["energy"] - ref_e) / n_atoms).mean()),
    }


def bonds_changed(
    start: Atoms, atoms: Atoms, broken_at: float = 1.5, formed_at: float = 1.0
) -> bool:
    """Whether a covalent bond of start broke or a new one formed, with hysteresis.

    With r the sum of ASE's natural cutoffs of a pair, start's bonds are pairs
    closer than 1.2 r; one breaks beyond broken_at x r, and another pair forms a
    bond within formed_at x r, so thermal stretching at 500 K is no change.
    """
    radii = np.array(natural_cutoffs(start))
    r = radii[:, None] + radii[None, :]
    bonded = start.get_all_distances(mic=True) < 1.2 * r
    np.fill_diagonal(bonded, False)
    d = atoms.get_all_distances(mic=True)
    np.fill_diagonal(d, np.inf)
    return bool(
        (bonded & (d > broken_at * r)).any() or (~bonded & (d < formed_at * r)).any()
    )


def stability(
    ens,
    start: Atoms,
    temperature_K: float,
    replicate: int,
    n_starts: int,
    steps: int,
    check_every: int = 200,
) -> dict:
    """Fraction of MLFF Langevin runs that stay physical for `steps` (0.5 fs) steps.

    Unphysical: pax.md's guards (collided atoms, an atom flown apart, kinetic
    temperature above 3x target, NaN) or a covalent bond made or broken
    against the start geometry (bonds_changed).
    """
    from pax.md import BatchedMD
    from pax.md.config import MDConfig

    cfg = MDConfig(
        temperature_K=temperature_K,
        friction_per_fs=0.01,
        max_temperature_K=3 * temperature_K,
    )
    n = n_starts
    base = seeds.seed("stability", replicate)
    md = BatchedMD(
        cfg,
        ens.models,
        [start.copy() for _ in range(n)],
        seeds=[base + i for i in range(n)],
        device=ens.device,
    )
    broken, done = [None] * n, 0
    t0 = time.time()
    while done < steps and md.running.any():
        chunk = min(check_every, steps - done)
        md.advance(chunk)
        done += chunk
        for i in range(n):
            if md.running[i] and bonds_changed(start, md.atoms(i)):
                broken[i] = "bonds_changed"
                md.pause(i)
    reasons = [md.stop_reason(i) if md.stopped[i] else broken[i] for i in range(n)]
    return {
        "fraction_physical": sum(r is None for r in reasons) / n,
        "reasons": reasons,
        "steps": steps,
        "wall_s": time.time() - t0,
    }


def score_arm(frames, ns, mlff_cfg, e0s, protocol, valid_ratio, replicate, tests, base):
    """Errors on every test set at each N, the last model, and the training wall."""
    rows, ens, wall = [], None, 0.0
    for n in ns:
        t0 = time.time()
        ens = train_fresh(
            frames[:n], mlff_cfg, e0s, protocol, valid_ratio, replicate, base
        )
        wall += time.time() - t0
        for temp, test in tests.items():
            rows.append({"n": n, "test_K": temp, **test_errors(ens, test)})
    return rows, ens, wall


def pretrain_task(task: dict) -> Path:
    """The pretrained ensemble file of a score task with cheap frames (made once)."""
    return pretrained_base(
        task["cheap"],
        task["mlff_cfg"],
        task["cheap_e0s"],
        task["pretrain"],
        task["replicate"],
        task["pretrained"],
    )


def score_task(task: dict) -> dict:
    """One arm and seed, in a worker process: retrained errors and, when asked,
    the stability of the last model. task holds plain values and paths only;
    with task["cheap"] (a frames file) every model starts from an ensemble
    pretrained on those cheap labels, whose own test errors (no expensive
    label; the reference's E0s) are returned as pretrained_only."""
    import torch
    from ase.io import read

    torch.set_num_threads(1)
    frames = read(str(task["frames"]), ":")
    tests = {t: read(str(p), ":") for t, p in task["tests"].items()}
    ns = [n for n in task["ns"] if n <= len(frames)]
    t0 = time.time()
    base = pretrain_task(task) if task.get("cheap") else None
    pretrain_s = time.time() - t0
    cheap_only = None
    if base is not None:  # the pretrained ensemble alone, no expensive label
        from pax.mlff import Ensemble
        from pax.mlff.offsets import set_e0s

        ens0 = Ensemble.load(base)
        set_e0s(ens0, task["e0s"])
        cheap_only = [
            {"n": 0, "test_K": temp, **test_errors(ens0, test)}
            for temp, test in tests.items()
        ]
    rows, ens, wall = score_arm(
        frames,
        ns,
        task["mlff_cfg"],
        task["e0s"],
        task["protocol"],
        task["valid_ratio"],
        task["replicate"],
        tests,
        base,
    )
    stab = None
    if task["stability_steps"]:
        stab = stability(
            ens,
            read(str(task["start"])),
            task["temperature_K"],
            task["replicate"],
            8,
            task["stability_steps"],
        )
    for row in rows:
        row["frames_digest"] = frames_digest(frames[: row["n"]])
    return {
        "rows": rows,
        "train_wall_s": wall,
        "pretrain_wall_s": pretrain_s,
        "pretrained_only": cheap_only,
        "stability": stab,
    }
