"""pax-relabel: every frame of a labelled set recomputed by a reference, resumably.

    pax-relabel data.extxyz dft=aims cluster=slurm [--run-dir DIR] [--out FILE]

The frames go through the ReferencePool, so DIR/ledger.jsonl keeps each label
as it finishes: after a crash the same command computes only what is missing.
Writes the relabelled set (frames whose calculation failed are left out and
listed) and a report of how energies and forces changed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from ase import Atoms

from pax.config import compose
from pax.errors import PaxError

PROGRESS_EVERY_S = 10.0


def relabel(frames: list[Atoms], cfg, run_dir: Path) -> list:
    """One Labelled per frame, in order, computed (or taken from the ledger) now."""
    from pax.cluster import ReferencePool

    results: list = [None] * len(frames)
    with ReferencePool(cfg.cluster, cfg.dft, run_dir) as pool:
        for i, atoms in enumerate(frames):
            pool.submit(atoms, {"phase": "relabel", "index": i})
        left, last = len(frames), time.monotonic()
        while left:
            for done in pool.completed():
                if results[done.tag["index"]] is None:
                    left -= 1
                results[done.tag["index"]] = done.result
            if time.monotonic() - last > PROGRESS_EVERY_S:
                print(
                    f"pax-relabel: {len(frames) - left}/{len(frames)} labelled",
                    flush=True,
                )
                last = time.monotonic()
            if left:
                time.sleep(0.05)
    return results


def relabelled(frames: list[Atoms], results: list) -> list[Atoms]:
    """Copies of the frames with the new REF_ labels; failed ones left out."""
    out = []
    for atoms, result in zip(frames, results):
        if not result.ok:
            continue
        new = atoms.copy()
        new.calc = None
        new.info["REF_energy"] = float(result.energy)
        new.arrays["REF_forces"] = np.asarray(result.forces)
        if result.stress is not None:
            new.info["REF_stress"] = np.asarray(result.stress)
        out.append(new)
    return out


def report(frames: list[Atoms], results: list) -> dict:
    """Counts and the change of labels (new - old) over frames that had old ones.

    Energies in eV/atom, forces in eV/Å; an energy shift common to all frames
    (another method's zero) shows as mean, the scatter around it as sd.
    """
    failed = [i for i, r in enumerate(results) if not r.ok]
    de, df = [], []
    for atoms, result in zip(frames, results):
        if not result.ok:
            continue
        if "REF_energy" in atoms.info:
            de.append((result.energy - float(atoms.info["REF_energy"])) / len(atoms))
        if "REF_forces" in atoms.arrays:
            df.append(np.asarray(result.forces) - atoms.arrays["REF_forces"])
    out = {
        "frames": len(frames),
        "relabelled": len(frames) - len(failed),
        "failed": failed,
        "failure_reasons": sorted({results[i].reason for i in failed}),
    }
    if de:
        de = np.asarray(de)
        out["energy_change_per_atom"] = {
            "mean": float(de.mean()),
            "sd": float(de.std()),
            "max_abs": float(np.abs(de).max()),
        }
    if df:
        d = np.concatenate(df)
        out["force_change"] = {
            "mae": float(np.abs(d).mean()),
            "rmse": float(np.sqrt((d**2).mean())),
            "max_abs": float(np.abs(d).max()),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point of pax-relabel."""
    from ase.io import read, write

    p = argparse.ArgumentParser(prog="pax-relabel", description=__doc__.splitlines()[0])
    p.add_argument(
        "data", type=Path, help="labelled (or unlabelled) frames, any ASE format"
    )
    p.add_argument("overrides", nargs="*", help="pax overrides: dft=..., cluster=...")
    p.add_argument(
        "--run-dir", type=Path, help="ledger folder (default outputs/relabel/...)"
    )
    p.add_argument(
        "--out", type=Path, help="relabelled set (default RUN_DIR/relabelled.extxyz)"
    )
    args = p.parse_args(argv)
    try:
        frames = read(str(args.data), index=":")
    except Exception as exc:  # noqa: BLE001 - any reader error is the user's file
        raise PaxError(f"{args.data}: cannot read ({exc})") from None
    cfg = compose(args.overrides)
    run_dir = (
        args.run_dir or Path("outputs") / "relabel" / f"{args.data.stem}_{cfg.dft.kind}"
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    results = relabel(frames, cfg, run_dir)
    out = args.out or run_dir / "relabelled.extxyz"
    write(str(out), relabelled(frames, results), format="extxyz")
    summary = report(frames, results)
    (run_dir / "relabel_report.json").write_text(json.dumps(summary, indent=1))
    print(
        f"pax-relabel: {summary['relabelled']}/{summary['frames']} frames -> {out}; "
        f"report {run_dir / 'relabel_report.json'}"
    )
    if summary["failed"]:
        reasons = "; ".join(summary["failure_reasons"])
        print(f"pax-relabel: {len(summary['failed'])} failed: {reasons}")
    return 0
