"""Schema of the `system` group: what to study."""

from __future__ import annotations

from dataclasses import dataclass, field

from pax.errors import ConfigError
from pax.paths import resolve_path


@dataclass
class SystemConfig:
    """One system, or a folder of geometries cycled over the trajectories."""

    name: str = "aspirin"
    """Short name, used in run directory names and logs."""
    geometry: str = "data/systems/aspirin.xyz"
    """Geometry file readable by ASE, or a folder of such files (one system each)."""
    charge: int = 0
    """Total charge (e)."""
    multiplicity: int = 1
    """Spin multiplicity 2S+1 of the system."""
    min_distance_A: float = 0.5
    """Refuse geometries with two atoms closer than this (Å)."""
    molecules: list[list[int]] = field(default_factory=list)
    """Atom indices of each molecule (aims-PAX's mol_idxs), for the intermolecular
    uncertainty; empty: molecules are the connected parts of the bond graph."""

    def __post_init__(self) -> None:
        path = resolve_path(self.geometry)
        if not path.exists():
            raise ConfigError(
                "system.geometry", self.geometry, "no such file or folder"
            )
        self.geometry = str(path)
        if self.multiplicity < 1:
            raise ConfigError("system.multiplicity", self.multiplicity, "must be >= 1")
        if self.min_distance_A < 0:
            raise ConfigError(
                "system.min_distance_A", self.min_distance_A, "must be >= 0"
            )
        from pax.system.geometry import load_systems

        load_systems(self)  # raises ConfigError naming the file when unreadable
