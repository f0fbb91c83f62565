"""Isolated-atom reference energies (E0s) for MACE's atomic energy shift."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path

from ase import Atoms
from ase.data import chemical_symbols

from pax.dft.config import DFTConfig
from pax.errors import PaxError
from pax.fileio import atomic_write_json

log = logging.getLogger(__name__)

# Unpaired electrons of each free atom in its ground state (Hund's rules and the
# known exceptions: Cr, Cu, Nb, Mo, Ru, Rh, Pd, Ag, Pt, Au, ...), Z = 1..86.
_UNPAIRED = (
    [1, 0]  # H He
    + [1, 0, 1, 2, 3, 2, 1, 0]  # Li-Ne
    + [1, 0, 1, 2, 3, 2, 1, 0]  # Na-Ar
    + [1, 0, 1, 2, 3, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0]  # K-Kr
    + [1, 0, 1, 2, 5, 6, 5, 4, 3, 0, 1, 0, 1, 2, 3, 2, 1, 0]  # Rb-Xe
    + [1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 5, 4, 3, 2, 1, 0]  # Cs-Yb
    + [1, 2, 3, 4, 5, 4, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0]  # Lu-Rn
)

# Settings that do not change an isolated atom's energy.
_NOT_IN_KEY = {
    "charge",
    "multiplicity",
    "timeout_s",
    "delay_s",
    "launch_str",
    "calc_dir",
    "clean_dirs",
}


def ground_state_multiplicity(number: int) -> int:
    """Spin multiplicity 2S+1 of the free atom with this atomic number (Z <= 86)."""
    if not 1 <= number <= len(_UNPAIRED):
        raise PaxError(f"no ground-state spin known for Z={number} (supported: 1..86)")
    return _UNPAIRED[number - 1] + 1


def isolated_atom_energies(
    numbers: list[int], cfg: DFTConfig, cache_dir: Path
) -> dict[int, float]:
    """Energy (eV) of each element as a neutral isolated atom, with the chosen method.

    Each atom is computed with its ground-state multiplicity (H 2, C 3, N 4,
    O 3, ...), once per method and settings: results are cached as JSON in
    cache_dir under a name that hashes the settings.

    Args:
        numbers: atomic numbers (repeats are fine).
        cfg: the dft config (its charge and multiplicity are replaced per atom).
        cache_dir: folder for the cache file (the run directory).

    Returns:
        {Z: energy in eV}.

    Raises:
        PaxError: an atom's calculation failed (the reason is in the message).
    """
    from pax.dft import label

    settings = _settings(cfg)
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
    path = Path(cache_dir) / f"e0s_{cfg.kind}_{digest[:12]}.json"
    energies = _load(path)
    missing = sorted(set(int(z) for z in numbers) - set(energies))
    for z in missing:
        atom_cfg = dataclasses.replace(
            cfg, charge=0, multiplicity=ground_state_multiplicity(z)
        )
        atoms = Atoms(numbers=[z], positions=[[0.0, 0.0, 0.0]])
        result = label(atoms, atom_cfg, str(cache_dir))
        if not result.ok:
            raise PaxError(
                f"isolated-atom energy of {chemical_symbols[z]} with dft={cfg.kind} "
                f"failed: {result.reason}"
            )
        energies[z] = result.energy
        log.info("E0 %s (%s): %.6f eV", chemical_symbols[z], cfg.kind, result.energy)
    if missing:
        _save(path, settings, energies)
    return {int(z): energies[int(z)] for z in numbers}


def _settings(cfg: DFTConfig) -> dict:
    from pax.config import as_dict

    values = {k: v for k, v in as_dict(cfg).items() if k not in _NOT_IN_KEY}
    return {"kind": cfg.kind, **values}


def _load(path: Path) -> dict[int, float]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return {int(z): float(e) for z, e in data["energies_eV"].items()}


def _save(path: Path, settings: dict, energies: dict[int, float]) -> None:
    data = {
        "settings": settings,
        "energies_eV": {str(z): e for z, e in sorted(energies.items())},
        "symbols": {str(z): chemical_symbols[z] for z in sorted(energies)},
    }
    atomic_write_json(path, data)
