"""Schema of the `md` group: molecular dynamics settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from pax.errors import ConfigError, coerce_enums


class Integrator(str, Enum):
    """Thermodynamic ensembles offered."""

    langevin = "langevin"
    nve = "nve"
    isomtk = "isomtk"
    mtk = "mtk"
    npt = "npt"


class DrivingForce(str, Enum):
    """Which forces propagate the dynamics."""

    mean = "mean"
    member = "member"
    foundation = "foundation"


@dataclass
class MDConfig:
    """The MD protocol of the AL explorers; the IDG sampler (ASE) uses part of it.

    The IDG sampler runs velocity Verlet for nve and Langevin (NVT, fixed cell)
    otherwise, npt included, from temperature_K, timestep_fs, friction_per_fs
    (unless al.idg.friction_per_fs is set), fix_com and seed; the other keys
    apply to AL only.
    """

    integrator: Integrator = Integrator.langevin
    """langevin (NVT), nve (velocity Verlet) or npt (periodic cells; AL only, the
    IDG sampler runs Langevin instead)."""
    temperature_K: float = 500.0
    """Target and initial temperature (K)."""
    timestep_fs: float = 0.5
    """Time step (fs)."""
    friction_per_fs: float = 0.001
    """Langevin friction (1/fs)."""
    pressure_GPa: float = 0.0
    """NPT target pressure (GPa)."""
    barostat_time_fs: float = 1000.0
    """NPT barostat relaxation time (fs)."""
    compressibility_per_GPa: float = 0.01
    """NPT (Berendsen) compressibility (1/GPa)."""
    thermostat_time_fs: float = 100.0
    """NPT (Berendsen) thermostat relaxation time (fs)."""
    fix_com: bool = True
    """Remove the centre-of-mass momentum (initially, and after each Langevin kick)."""
    seed: int = 0
    """Seed of trajectory 0; trajectory i uses seed + i."""
    driving_force: DrivingForce = DrivingForce.mean
    """Propagate on the ensemble mean (aims-PAX), on one member, or (foundation) on
    the pretrained potential al.idg.foundation_model while the ensemble only
    judges the uncertainty (aims-PAX's use_foundational); foundation is NVT/NVE."""
    driving_member: int = 0
    """Member index used when driving_force is 'member'."""
    element_contraction: bool = True
    """Evaluate MACE's product basis element by element (same forces, faster)."""
    max_batch_atoms: int | None = None
    """Atoms per model evaluation; more trajectories go in several sub-batches.

    None: 256 on CPU (a batch that fits the caches is faster per atom), all at
    once on GPU."""
    neighbor_skin_A: float = 1.0
    """Verlet skin: neighbour lists are rebuilt when an atom moved half of it (Å)."""
    max_temperature_K: float = 5000.0
    """A trajectory hotter than this is stopped as runaway (K)."""
    max_bond_stretch_A: float = 4.0
    """A molecule with an atom farther than this from all others is stopped (Å)."""
    min_distance_A: float = 0.6
    """A molecule with two atoms closer than this is stopped as collapsed (Å)."""
    check_every: int = 10
    """Steps between the stop checks (flying apart, runaway temperature)."""
    save_every_steps: int = 0
    """Write IDG and AL trajectories to run_dir/trajectories/ every this many MD
    steps (at the first frame at or after each multiple); 0: not written."""
    trajectory_format: str = "extxyz"
    """File format of the saved trajectories: extxyz or traj (ASE Trajectory)."""
    per_system: dict[str, Any] = field(default_factory=dict)
    """Per system name, md settings it changes (integrator, temperature_K,
    timestep_fs, friction_per_fs, NPT settings, fix_com); pax.md.per_system,
    which also reads a <name>.md.yaml beside the geometry."""

    def __post_init__(self) -> None:
        coerce_enums(
            self, "md", {"integrator": Integrator, "driving_force": DrivingForce}
        )
        for key in (
            "temperature_K",
            "timestep_fs",
            "barostat_time_fs",
            "thermostat_time_fs",
            "max_temperature_K",
            "max_bond_stretch_A",
            "min_distance_A",
        ):
            if getattr(self, key) <= 0:
                raise ConfigError(f"md.{key}", getattr(self, key), "must be > 0")
        if self.friction_per_fs < 0:
            raise ConfigError(
                "md.friction_per_fs", self.friction_per_fs, "must be >= 0"
            )
        if self.neighbor_skin_A < 0:
            raise ConfigError(
                "md.neighbor_skin_A", self.neighbor_skin_A, "must be >= 0"
            )
        if self.max_batch_atoms is not None and self.max_batch_atoms < 1:
            raise ConfigError(
                "md.max_batch_atoms", self.max_batch_atoms, "must be >= 1 or null"
            )
        if self.driving_member < 0:
            raise ConfigError("md.driving_member", self.driving_member, "must be >= 0")
        if self.driving_force == DrivingForce.foundation and self.integrator in (
            Integrator.npt,
            Integrator.isomtk,
            Integrator.mtk,
        ):
            raise ConfigError(
                "md.driving_force", "foundation", "runs langevin or nve, not NPT"
            )
        if self.check_every < 1:
            raise ConfigError("md.check_every", self.check_every, "must be >= 1")
        if self.save_every_steps < 0:
            raise ConfigError(
                "md.save_every_steps", self.save_every_steps, "must be >= 0 (0: off)"
            )
        if self.trajectory_format not in ("extxyz", "traj"):
            raise ConfigError(
                "md.trajectory_format", self.trajectory_format, "must be extxyz or traj"
            )
