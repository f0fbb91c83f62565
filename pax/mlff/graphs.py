"""ASE Atoms -> mace-torch graphs (AtomicData), cached, and batches of them."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from ase import Atoms
from mace.data import AtomicData, KeySpecification, config_from_atoms
from mace.tools import AtomicNumberTable
from mace.tools.torch_geometric import Batch, DataLoader

log = logging.getLogger(__name__)

ENERGY_KEY = "REF_energy"
"""atoms.info key of the reference energy (eV)."""
FORCES_KEY = "REF_forces"
"""atoms.arrays key of the reference forces (n_atoms, 3) eV/Å."""
STRESS_KEY = "REF_stress"
"""atoms.info key of the reference stress (6 Voigt, eV/Å^3), periodic cells only."""
VIRIALS_KEY = "REF_virials"
"""atoms.info key of the reference virials (3x3 or 6 Voigt, eV), filled from stress."""

CPU_BATCH_ATOMS = 256
"""Atoms per model evaluation on CPU: caches favour a few hundred (200 aspirins
took 6.2-6.6 s in sub-batches of 10-20 against 9.2-10.1 s at once;
scripts/bench/md.py: 8-16 aspirins per MD sub-batch ran 25-35% faster than 32)."""

KEYSPEC = KeySpecification(
    info_keys={"energy": ENERGY_KEY, "stress": STRESS_KEY, "virials": VIRIALS_KEY},
    arrays_keys={"forces": FORCES_KEY},
)


@contextlib.contextmanager
def torch_dtype(dtype: torch.dtype) -> Iterator[None]:
    """Set torch's default dtype inside the block and always restore it."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def with_virials(atoms: Atoms) -> Atoms:
    """A copy whose info holds REF_virials = -stress * volume (eV) if periodic."""
    if STRESS_KEY not in atoms.info or VIRIALS_KEY in atoms.info:
        return atoms
    out = atoms.copy()
    volume = atoms.get_volume()  # Å^3
    out.info[VIRIALS_KEY] = -np.asarray(atoms.info[STRESS_KEY]) * volume  # (6,) eV
    return out


def geometry_key(atoms: Atoms) -> bytes:
    """A digest of everything a labelled graph depends on (geometry and labels)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(atoms.numbers.tobytes())
    h.update(np.ascontiguousarray(atoms.positions).tobytes())
    h.update(np.ascontiguousarray(atoms.cell.array).tobytes())
    h.update(atoms.pbc.tobytes())
    for key in (ENERGY_KEY, STRESS_KEY):
        if key in atoms.info:
            h.update(np.asarray(atoms.info[key], dtype=float).tobytes())
    if FORCES_KEY in atoms.arrays:
        h.update(np.ascontiguousarray(atoms.arrays[FORCES_KEY]).tobytes())
    return h.digest()


class GraphCache:
    """Builds AtomicData for Atoms once and reuses it (AL retrains on the same frames).

    Args:
        z_table: atomic numbers known to the models, in one-hot order.
        r_max: neighbour cutoff (Å).
        dtype: floating dtype of the graphs (the models' dtype).
        max_items: entries kept; the oldest are dropped beyond this.
    """

    def __init__(
        self,
        z_table: AtomicNumberTable,
        r_max: float,
        dtype: torch.dtype,
        max_items: int = 200_000,
    ) -> None:
        self.z_table, self.r_max, self.dtype = z_table, float(r_max), dtype
        self.max_items = max_items
        self._items: dict[bytes, AtomicData] = {}

    def graph(self, atoms: Atoms) -> AtomicData:
        """The (cached) graph of one structure, labels included when present."""
        key = geometry_key(atoms)
        data = self._items.get(key)
        if data is None:
            unknown = set(atoms.numbers.tolist()) - set(self.z_table.zs)
            if unknown:
                from pax.errors import PaxError

                raise PaxError(
                    f"elements {sorted(unknown)} are unknown to the models "
                    f"(built for {self.z_table.zs}); "
                    "pass atomic_numbers to Ensemble.build"
                )
            config = config_from_atoms(with_virials(atoms), key_specification=KEYSPEC)
            with torch_dtype(self.dtype):
                data = AtomicData.from_config(
                    config, z_table=self.z_table, cutoff=self.r_max
                )
            if len(self._items) >= self.max_items:
                self._items.pop(next(iter(self._items)))
            self._items[key] = data
        return data

    def graphs(self, atoms_list: Sequence[Atoms]) -> list[AtomicData]:
        """Graphs of many structures, in order."""
        return [self.graph(a) for a in atoms_list]

    def batch(self, atoms_list: Sequence[Atoms], device: torch.device) -> Batch:
        """One graph batch over all structures, on `device`."""
        return Batch.from_data_list(self.graphs(atoms_list)).to(device)

    def loader(
        self,
        atoms_list: Sequence[Atoms],
        batch_size: int,
        shuffle: bool,
        generator: torch.Generator | None = None,
    ) -> DataLoader:
        """A mace-torch DataLoader over the structures' graphs."""
        return DataLoader(
            self.graphs(atoms_list),
            batch_size=batch_size,
            shuffle=shuffle,
            drop_last=False,
            generator=generator,
        )


def consecutive_chunks(
    atoms_list: Sequence[Atoms], max_atoms: int | None
) -> list[Sequence[Atoms]]:
    """Consecutive runs of structures with at most max_atoms atoms each (None: one).

    A structure larger than max_atoms is a chunk of its own.
    """
    if max_atoms is None:
        return [atoms_list]
    chunks, start, atoms = [], 0, 0
    for i, a in enumerate(atoms_list):
        if atoms + len(a) > max_atoms and i > start:
            chunks.append(atoms_list[start:i])
            start, atoms = i, 0
        atoms += len(a)
    chunks.append(atoms_list[start:])
    return chunks
