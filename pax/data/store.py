"""Labelled datasets on disk: one extxyz file per split (and member), crash-safe."""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import read, write

from pax.errors import PaxError
from pax.fileio import atomic_write

log = logging.getLogger(__name__)

TEXT_KEYS = ("label_id", "geometry_hash")
"""Info keys kept as text: extxyz would read "000009" back as the integer 9."""
TEXT_PREFIX = "s:"


POSITION_QUANTUM_A = 1e-5
"""Positions and cell vectors are rounded to this (Å) before hashing."""


def geometry_hash(atoms: Atoms) -> str:
    """A hash of atomic numbers, positions, cell and pbc (positions to 1e-5 Å).

    The ledger and the datasets use it to recognise a geometry seen before.
    """
    h = hashlib.sha1()
    h.update(np.asarray(atoms.numbers, dtype=np.int64).tobytes())
    for array in (atoms.positions, atoms.cell.array):
        h.update(
            np.rint(np.asarray(array) / POSITION_QUANTUM_A).astype(np.int64).tobytes()
        )
    h.update(np.asarray(atoms.pbc, dtype=np.int8).tobytes())
    return h.hexdigest()[:20]


def labelled_atoms(atoms: Atoms, result, label_id: str) -> Atoms:
    """A copy of atoms with a result as REF_energy, REF_forces (and REF_stress)."""
    out = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    out.info.update(
        {k: v for k, v in atoms.info.items() if isinstance(v, str | int | float)}
    )
    out.info["REF_energy"] = float(result.energy)
    out.arrays["REF_forces"] = np.asarray(result.forces, dtype=float).reshape(
        len(out), 3
    )
    if result.stress is not None:
        out.info["REF_stress"] = np.asarray(result.stress, dtype=float).reshape(6)
    out.info["label_id"] = label_id
    out.info["geometry_hash"] = geometry_hash(atoms)
    return out


class DatasetStore:
    """Named splits of labelled Atoms ("train", "valid", "train_m0", ...).

    Every change is written at once by rewriting the split's file with
    `atomic_write`, so a crash leaves either the old or the new file.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.splits: dict[str, list[Atoms]] = {}
        for path in sorted(self.folder.glob("*.extxyz")):
            self.splits[path.stem] = _read_split(path)
        self._ids = {a.info.get("label_id") for s in self.splits.values() for a in s}

    def __contains__(self, label_id: str) -> bool:
        return label_id in self._ids

    def get(self, split: str) -> list[Atoms]:
        """The frames of a split (empty when it does not exist yet)."""
        return self.splits.get(split, [])

    def size(self, split: str) -> int:
        """Number of frames in a split."""
        return len(self.splits.get(split, []))

    def add(self, split: str, atoms: Atoms) -> None:
        """Append one labelled frame to a split and write the split to disk."""
        label_id = atoms.info.get("label_id")
        if label_id is not None and label_id in self._ids:
            return
        self.splits.setdefault(split, []).append(atoms)
        self._ids.add(label_id)
        self._write(split)

    def _write(self, split: str) -> None:
        text = io.StringIO()
        write(text, [_encode(a) for a in self.splits[split]], format="extxyz")
        atomic_write(self.folder / f"{split}.extxyz", text.getvalue())

    def label_ids(self) -> set[str]:
        """Every label id held in any split."""
        return {i for i in self._ids if i is not None}


def _read_split(path: Path) -> list[Atoms]:
    if path.stat().st_size == 0:
        return []
    try:
        frames = read(str(path), index=":", format="extxyz")
    except Exception as exc:
        raise PaxError(
            f"dataset file {path} is corrupt ({exc}); "
            "restore it or delete the run directory"
        ) from None
    for atoms in frames:
        if "REF_forces" not in atoms.arrays and "forces" in atoms.arrays:
            atoms.arrays["REF_forces"] = atoms.arrays.pop("forces")
        for key in TEXT_KEYS:
            value = atoms.info.get(key)
            if isinstance(value, str) and value.startswith(TEXT_PREFIX):
                atoms.info[key] = value[len(TEXT_PREFIX) :]
    return frames


def _encode(atoms: Atoms) -> Atoms:
    out = atoms.copy()
    for key in TEXT_KEYS:
        if key in out.info:
            out.info[key] = f"{TEXT_PREFIX}{out.info[key]}"
    return out
