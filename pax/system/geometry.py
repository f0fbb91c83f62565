"""Reading the systems to study from a file or a folder of files."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import read

from pax.errors import ConfigError

GEOMETRY_SUFFIXES = {".xyz", ".extxyz", ".in", ".cif", ".vasp", ".traj", ".pdb"}


def load_systems(cfg) -> list[Atoms]:
    """Return the starting geometries named by a SystemConfig, checked.

    A file gives one system (its first frame); a folder gives one per geometry
    file inside it, sorted by name.
    """
    atoms = [a.copy() for a in _load(cfg.geometry, cfg.min_distance_A)]
    if cfg.molecules:
        if len(atoms) != 1:
            raise ConfigError(
                "system.molecules", "...", "needs one geometry file, not a folder"
            )
        atoms[0].info["molecule_ids"] = molecule_partition(cfg.molecules, len(atoms[0]))
    return atoms


def molecule_partition(molecules: list[list[int]], n_atoms: int) -> np.ndarray:
    """(n_atoms,) molecule of each atom from index lists that cover each atom once.

    Raises:
        ConfigError: naming system.molecules when an atom is missing, repeated or
            out of range.
    """
    ids = np.full(n_atoms, -1, dtype=np.int64)
    for k, members in enumerate(molecules):
        for i in members:
            if not 0 <= int(i) < n_atoms or ids[int(i)] >= 0:
                raise ConfigError(
                    "system.molecules",
                    list(map(list, molecules)),
                    f"atom {i} is out of range or in two molecules",
                )
            ids[int(i)] = k
    missing = np.flatnonzero(ids < 0)
    if missing.size:
        raise ConfigError(
            "system.molecules",
            "...",
            f"atoms {missing[:5].tolist()} are in no molecule",
        )
    return ids


@lru_cache(maxsize=32)
def _load(geometry: str, min_distance_A: float) -> tuple[Atoms, ...]:
    path = Path(geometry)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in GEOMETRY_SUFFIXES)
        if not files:
            raise ConfigError(
                "system.geometry", geometry, "folder holds no geometry files"
            )
    else:
        files = [path]
    return tuple(_read_one(f, min_distance_A) for f in files)


def _read_one(path: Path, min_distance_A: float) -> Atoms:
    try:
        atoms = read(str(path), index=0)
    except Exception as exc:  # ASE raises many types for unreadable input
        raise ConfigError(
            "system.geometry", str(path), f"ASE cannot read it ({exc})"
        ) from None
    if len(atoms) == 0:
        raise ConfigError("system.geometry", str(path), "holds no atoms")
    if len(atoms) > 1:
        d = atoms.get_all_distances(mic=any(atoms.pbc))
        np.fill_diagonal(d, np.inf)
        i, j = np.unravel_index(np.argmin(d), d.shape)
        if d[i, j] < min_distance_A:
            raise ConfigError(
                "system.geometry",
                str(path),
                f"atoms {i} and {j} overlap ({d[i, j]:.3f} Å < system.min_distance_A)",
            )
    atoms.info.setdefault("system", path.stem)
    return atoms
