"""Arms of the label-efficiency benchmark: each gives an ordered list of labelled frames.

An arm never sees a test set: pax runs get no run.test_set and stop on a
label count read from their own ledger; the uniform arms use reference MD
with their own seeds (seeds.py). Each arm returns (frames, cost).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import reference
import seeds
import stats
import yaml
from ase import Atoms
from ase.io import read
from common import events, run_pax
from make_test_set import reference_md

ARMS = ("pax", "pax_aims", "uniform", "equal_cost", "mlff_md")
UNIFORM_TRAJECTORIES = 5
UNIFORM_EVERY_STEPS = 40  # 20 fs between pool frames
UNIFORM_EQUILIBRATE_STEPS = 1000  # 500 fs


def pax_variants(chosen, ablations: list[str]) -> dict[str, list[str]]:
    """Extra overrides of each pax arm: pax, pax_aims and one per ablation NAME=OVERRIDE.

    The same NAME given twice collects both overrides into one arm.
    """
    out: dict[str, list[str]] = {}
    if "pax" in chosen or "equal_cost" in chosen or "mlff_md" in chosen:
        out["pax"] = []
    if "pax_aims" in chosen:
        out["pax_aims"] = ["al=aims_pax"]
    for item in ablations:
        name, sep, override = item.partition("=")
        if not sep or "=" not in override:
            raise SystemExit(f"--ablation {item!r}: use NAME=key=value")
        out.setdefault(f"ablation_{name}", []).append(override)
    return out


def ledger_frames(run_dir: Path) -> list[Atoms]:
    """The run's labelled frames in the order their labels came back (ledger.jsonl)."""
    submitted, frames = {}, []
    for line in (run_dir / "ledger.jsonl").read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line of a stopped run
        if rec["event"] == "submitted":
            submitted[rec["ticket"]] = rec
        elif rec["event"] == "done" and rec["result"]["status"] == "ok":
            sub = submitted[rec["ticket"]]
            a = sub["atoms"]
            atoms = Atoms(a["numbers"], a["positions"], cell=a["cell"], pbc=a["pbc"])
            atoms.info.update(
                REF_energy=rec["result"]["energy"], ticket=rec["ticket"], **sub["tag"]
            )
            atoms.arrays["REF_forces"] = np.asarray(rec["result"]["forces"])
            frames.append(atoms)
    return frames


def pax_arm(
    run_dir: Path, overrides: list[str], replicate: int, n_labels: int, timeout_s: float
) -> tuple[list[Atoms], dict]:
    """A pax run (IDG then AL) stopped once n_labels labels are back.

    A run already in run_dir with the same overrides is kept: its labels are
    taken as they are when there are enough, else pax resumes it (a larger
    n_labels continues where a smaller one stopped, a killed benchmark where it
    was); a run with other overrides is replaced. The cost is that of its first
    n_labels frames (pax_cost).
    """
    md_seed = seeds.seed("pax", replicate)
    mlff_seed = seeds.seed("pax", replicate, seeds.MLFF_OFFSET)
    full = [*overrides, f"md.seed={md_seed}", f"mlff.seed={mlff_seed}"]

    def enough(path: Path) -> bool:
        ledger = path / "ledger.jsonl"
        return (
            ledger.exists() and ledger.read_text().count('"event": "done"') >= n_labels
        )

    same = same_overrides(run_dir, full)
    if not (same and enough(run_dir)):
        run_pax(run_dir, full, timeout_s, stop_when=enough, resume=same)
    frames = ledger_frames(run_dir)
    if len(frames) < n_labels:
        raise RuntimeError(f"{run_dir}: {len(frames)} labels, fewer than {n_labels}")
    return frames, pax_cost(run_dir, frames, n_labels)


def pax_cost(run_dir: Path, frames: list[Atoms], n_labels: int) -> dict:
    """What a pax run had spent when the n_labels-th of its frames came back.

    The run may have gone on (a benchmark with a smaller budget reusing a longer
    run, or labels that came back after the stop): MD steps, sampler steps and
    wall time (pax's own run time over its sessions, time_s of metrics.jsonl)
    count the records up to that label's "sampling" record only; failed labels
    up to it are reference calls too.
    """
    records = events(run_dir)
    ticket = frames[n_labels - 1].info["ticket"]
    cut = next(
        (
            i + 1
            for i, e in enumerate(records)
            if e.get("kind") == "sampling" and e.get("ticket") == ticket
        ),
        len(records),
    )
    records = records[:cut]
    md = [e for e in records if e.get("kind") == "md"]
    idg = [
        e for e in records if e.get("kind") == "sampling" and e.get("phase") == "idg"
    ]
    sampler_steps = sum(
        max(e["md_step"] for e in idg if e["traj"] == t)
        for t in {e["traj"] for e in idg}
    )
    failed = sum(
        e.get("kind") == "sampling" and e.get("status") != "ok" for e in records
    )
    cheap = pretrain_labels(run_dir)
    return {
        "labels": n_labels,
        "labels_in_run": len(frames),
        "idg_labels_in_budget": sum(
            f.info.get("phase") == "idg" for f in frames[:n_labels]
        ),
        "reference_calls": n_labels + failed + sampler_steps + cheap,
        "failed_labels": failed,
        "idg_sampler_steps": sampler_steps,
        "pretrain_labels": cheap,
        "mlff_md_steps": int(md[-1]["md_steps"]) if md else 0,
        "wall_s": max((e["time_s"] for e in records), default=0.0),
    }


def same_overrides(run_dir: Path, overrides: list[str]) -> bool:
    """Whether run_dir holds a pax run started with exactly these overrides."""
    path = run_dir / ".hydra" / "overrides.yaml"
    return path.exists() and yaml.safe_load(path.read_text()) == overrides


def pretrain_frames(run_dir: Path) -> Path:
    """Where a pax run's al.pretrain keeps its cheap-labelled frames."""
    return run_dir / "pretrain" / "frames.extxyz"


def pretrain_labels(run_dir: Path) -> int:
    """Cheap labels of a pax run's al.pretrain, or 0."""
    path = pretrain_frames(run_dir)
    return len(read(str(path), ":")) if path.exists() else 0


def uniform_arm(
    start: Atoms, temperature_K: float, replicate: int, n_labels: int, preset: str
) -> tuple[list[Atoms], dict]:
    """Random frames from 5 independent equilibrated reference trajectories."""
    per_traj = math.ceil(2 * n_labels / UNIFORM_TRAJECTORIES)
    pool, steps = [], 0
    for k in range(UNIFORM_TRAJECTORIES):
        frames, ran = reference_md(
            start,
            temperature_K,
            seeds.seed("uniform", replicate, k),
            per_traj,
            UNIFORM_EVERY_STEPS,
            UNIFORM_EQUILIBRATE_STEPS,
            preset,
        )
        pool += frames
        steps += ran
    rng = np.random.default_rng(seeds.seed("draw", replicate))
    chosen = [pool[i] for i in rng.permutation(len(pool))[:n_labels]]
    return chosen, {"labels": n_labels, "reference_calls": steps, "mlff_md_steps": 0}


def equal_cost_arm(
    start: Atoms, temperature_K: float, replicate: int, total_steps: int, preset: str
) -> tuple[list[Atoms], dict]:
    """Reference MD with as many steps in all as pax had labels; every step labelled.

    The steps are split over 5 trajectories from the start geometry (no
    equilibration: it would cost reference calls); frames are ordered by
    stats.spread_order so each prefix is spread evenly over all the steps.
    """
    per_traj = math.ceil(total_steps / UNIFORM_TRAJECTORIES)
    steps = []
    for k in range(UNIFORM_TRAJECTORIES):
        frames, _ = reference_md(
            start,
            temperature_K,
            seeds.seed("equal_cost", replicate, k),
            per_traj,
            1,
            0,
            preset,
        )
        steps += frames
    steps = steps[:total_steps]
    ordered = [steps[i] for i in stats.spread_order(len(steps))]
    return ordered, {
        "labels": total_steps,
        "reference_calls": total_steps,
        "mlff_md_steps": 0,
    }


def mlff_arm(
    run_dir: Path,
    md_cfg,
    start: Atoms,
    replicate: int,
    n_labels: int,
    md_steps: int,
    every: int,
    preset: str,
) -> tuple[list[Atoms], dict]:
    """Random frames of MLFF MD driven by the pax run's last ensemble, then labelled.

    pax does not save its AL trajectories, so they are replayed: the run's
    state/ensemble.pt drives as many trajectories (and MD steps, at least
    enough for n_labels frames) as pax's AL had, frames every `every` steps.
    """
    from pax.md import BatchedMD
    from pax.mlff import Ensemble

    ens = Ensemble.load(run_dir / "state" / "ensemble.pt")
    n_traj = max(1, md_cfg["n_traj"])
    base = seeds.seed("mlff_md", replicate)
    md = BatchedMD(
        md_cfg["cfg"],
        ens.models,
        [start.copy() for _ in range(n_traj)],
        seeds=[base + i for i in range(n_traj)],
        device=ens.device,
    )
    want = max(n_labels, md_steps // every)
    pool, ran = [], 0
    while len(pool) < want and ran < 100 * want * every:
        md.advance(every)
        ran += every * n_traj
        for i in range(n_traj):
            if md.stopped[i]:
                md.reset(i, start.copy())
            else:
                pool.append(md.atoms(i))
    rng = np.random.default_rng(seeds.seed("draw", replicate, 1))
    shuffled = [pool[i] for i in rng.permutation(len(pool))]
    labelled, calls = reference.label(shuffled, preset, want=n_labels)
    return labelled, {
        "labels": len(labelled),
        "reference_calls": calls,
        "mlff_md_steps": ran,
        "failed_labels": calls - len(labelled),
    }
