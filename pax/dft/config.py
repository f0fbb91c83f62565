"""Schemas of the `dft` group: the reference method that labels geometries."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import ClassVar

from pax.errors import ConfigError


@dataclass
class DFTConfig:
    """Settings every reference method shares."""

    kind: ClassVar[str] = ""
    periodic_ok: ClassVar[bool] = True

    timeout_s: float = 600.0
    """Wall-clock limit of one calculation (s); past it the label is 'failed'."""
    charge: int | None = None
    """Total charge (e); None takes system.charge."""
    multiplicity: int | None = None
    """Spin multiplicity 2S+1; None takes system.multiplicity."""

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ConfigError("dft.timeout_s", self.timeout_s, "must be > 0")
        if self.multiplicity is not None and self.multiplicity < 1:
            raise ConfigError("dft.multiplicity", self.multiplicity, "must be >= 1")


class XTBMethod(str, Enum):
    """Tight-binding Hamiltonians offered by tblite (type GFN1 or GFN2)."""

    GFN1 = "GFN1-xTB"
    GFN2 = "GFN2-xTB"


@dataclass
class XTBConfig(DFTConfig):
    """tblite xTB, run in the worker process."""

    kind: ClassVar[str] = "xtb"

    method: XTBMethod = XTBMethod.GFN2
    """GFN1 or GFN2 (GFN1-xTB, GFN2-xTB)."""
    electronic_temperature_K: float = 300.0
    """Fermi smearing temperature (K)."""
    accuracy: float = 1.0
    """tblite numerical accuracy (smaller is tighter)."""
    max_iterations: int = 250
    """Maximum SCC iterations; not converging gives a failed label."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.electronic_temperature_K <= 0:
            raise ConfigError(
                "dft.electronic_temperature_K",
                self.electronic_temperature_K,
                "must be > 0",
            )
        if self.max_iterations < 1:
            raise ConfigError("dft.max_iterations", self.max_iterations, "must be >= 1")


class ScfStrategy(str, Enum):
    """One attempt of PySCF's SCF ladder (tried in order until one converges)."""

    diis = "diis"
    level_shift = "level_shift"
    damping = "damping"
    newton = "newton"
    atom_guess = "atom_guess"


class Dispersion(str, Enum):
    """Dispersion corrections added to PySCF energies and forces."""

    none = "none"
    d3bj = "d3bj"
    d4 = "d4"


@dataclass
class PySCFConfig(DFTConfig):
    """PySCF Kohn-Sham DFT for molecules."""

    kind: ClassVar[str] = "pyscf"
    periodic_ok: ClassVar[bool] = False

    xc: str = "PBE"
    """Exchange-correlation functional (PySCF name)."""
    basis: str = "def2-SVP"
    """Gaussian basis set (PySCF name)."""
    density_fit: bool = True
    """Resolution of the identity for the Coulomb term."""
    conv_tol: float = 1e-9
    """SCF energy convergence (Hartree)."""
    max_cycle: int = 100
    """Maximum SCF cycles of each attempt of dft.scf_ladder."""
    scf_ladder: list[ScfStrategy] = field(
        default_factory=lambda: [
            ScfStrategy.diis,
            ScfStrategy.level_shift,
            ScfStrategy.newton,
            ScfStrategy.atom_guess,
        ]
    )
    """SCF attempts in order: diis, level_shift, damping, newton (second order),
    atom_guess (superposition of atomic densities); all failing gives a failed label."""
    level_shift_Ha: float = 0.25
    """Virtual-orbital level shift (Hartree) of the level_shift attempt."""
    damping: float = 0.5
    """Density-mixing factor (0-1) of the damping attempt."""
    grid_level: int = 3
    """DFT integration grid level (0-9)."""
    grid_response: bool = True
    """Include the grid-weight derivatives, so forces are the exact energy gradient."""
    threads: int = 0
    """OpenMP threads for PySCF; 0 takes the worker's share of cores."""
    dispersion: Dispersion = Dispersion.none
    """Dispersion correction (needs the dftd3 or dftd4 package)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_cycle < 1:
            raise ConfigError("dft.max_cycle", self.max_cycle, "must be >= 1")
        if not self.scf_ladder:
            raise ConfigError("dft.scf_ladder", self.scf_ladder, "needs >= 1 attempt")
        try:
            self.scf_ladder = [ScfStrategy(s) for s in self.scf_ladder]
        except ValueError as err:
            known = ", ".join(s.value for s in ScfStrategy)
            raise ConfigError(
                "dft.scf_ladder", self.scf_ladder, f"known: {known}"
            ) from err
        if self.level_shift_Ha <= 0:
            raise ConfigError("dft.level_shift_Ha", self.level_shift_Ha, "must be > 0")
        if not 0 < self.damping < 1:
            raise ConfigError("dft.damping", self.damping, "must be in (0, 1)")
        if not 0 <= self.grid_level <= 9:
            raise ConfigError("dft.grid_level", self.grid_level, "must be in 0..9")
        if self.threads < 0:
            raise ConfigError(
                "dft.threads", self.threads, "must be >= 0 (0: OMP_NUM_THREADS)"
            )
        if self.dispersion != Dispersion.none:
            from importlib.util import find_spec

            if find_spec("pyscf.dispersion") is None:
                raise ConfigError(
                    "dft.dispersion",
                    self.dispersion.value,
                    "needs the pyscf-dispersion package (pip install pyscf-dispersion)",
                )


class AimsDispersion(str, Enum):
    """Dispersion keywords of FHI-aims."""

    none = "none"
    many_body_dispersion = "many_body_dispersion"
    vdw_correction_hirshfeld = "vdw_correction_hirshfeld"


@dataclass
class AimsConfig(DFTConfig):
    """FHI-aims through ASE's calculator, with the launch command given exactly."""

    kind: ClassVar[str] = "aims"

    launch_str: str = "mpirun -np 4 aims.x > aims.out"
    """Shell command run in each calculation folder; it must write aims.out."""
    species_dir: str = ""
    """Folder of species files, e.g. .../species_defaults/defaults_2020/light."""
    xc: str = "pbe"
    """Exchange-correlation functional (FHI-aims keyword)."""
    relativistic: str = "atomic_zora scalar"
    """Relativistic treatment (FHI-aims keyword)."""
    k_grid: list[int] | None = None
    """k-point grid for periodic cells (three integers); ignored for molecules."""
    sc_accuracy_rho: float = 1e-6
    """SCF density convergence."""
    sc_accuracy_eev: float = 1e-3
    """SCF eigenvalue-sum convergence (eV)."""
    sc_accuracy_etot: float = 1e-6
    """SCF total-energy convergence (eV)."""
    sc_accuracy_forces: float = 1e-4
    """SCF force convergence (eV/Å)."""
    sc_iter_limit: int = 200
    """Maximum SCF iterations."""
    dispersion: AimsDispersion = AimsDispersion.none
    """Dispersion correction keyword."""
    extra_control: list[str] = field(default_factory=list)
    """Raw lines appended to control.in before the species blocks."""
    calc_dir: str = "aims_calcs"
    """Folder (relative to the run directory) with one subfolder per calculation."""
    clean_dirs: bool = True
    """Delete a calculation's folder once its result is parsed (kept on failure)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.k_grid is not None and (
            len(self.k_grid) != 3 or any(k < 1 for k in self.k_grid)
        ):
            raise ConfigError("dft.k_grid", self.k_grid, "must be three integers >= 1")
        if not self.launch_str.strip():
            raise ConfigError("dft.launch_str", self.launch_str, "must not be empty")
        if not self.species_dir:
            raise ConfigError(
                "dft.species_dir",
                self.species_dir,
                "set it to a species_defaults folder, e.g. "
                ".../species_defaults/defaults_2020/light, or export AIMS_SPECIES_DIR",
            )
        species = Path(self.species_dir).expanduser()
        if not species.is_dir():
            raise ConfigError("dft.species_dir", self.species_dir, "no such folder")
        self.species_dir = str(species.resolve())


@dataclass
class TeacherConfig(DFTConfig):
    """A MACE model acting as the reference (knowledge distillation, tests)."""

    kind: ClassVar[str] = "teacher"

    model: str = "???"
    """A MACE model file, or a cached name: mace-mp-small|..., mace-off-small|..."""
    device: str = "cpu"
    """Torch device for the teacher (cpu, cuda, cuda:N)."""
    default_dtype: str = "float64"
    """float32 or float64."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.default_dtype not in ("float32", "float64"):
            raise ConfigError(
                "dft.default_dtype", self.default_dtype, "must be float32|float64"
            )
        if self.device != "cpu" and not self.device.startswith("cuda"):
            raise ConfigError("dft.device", self.device, "must be cpu, cuda or cuda:N")
        from pax.dft.teacher import resolve_model

        self.model = str(resolve_model(self.model))


FAULT_KINDS = ("scf", "crash", "hang")
"""Faults EMT can inject for tests (dft.fault_kinds)."""


@dataclass
class EMTConfig(DFTConfig):
    """ASE's EMT: instant labels for tests (Cu, Ag, Au, Ni, Pd, Pt, Al, C, H, N, O)."""

    kind: ClassVar[str] = "emt"
    delay_s: float = 0.0
    """Extra sleep per call (s), to mimic a slow reference in benchmarks."""
    fault_rate: float = 0.0
    """Test only: fraction of calls that fail on purpose (0..1), spread evenly."""
    fault_kinds: list[str] = field(default_factory=lambda: list(FAULT_KINDS))
    """Test only: injected faults, in turn: scf, crash (child exits), hang."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.delay_s < 0:
            raise ConfigError("dft.delay_s", self.delay_s, "must be >= 0")
        if not 0 <= self.fault_rate <= 1:
            raise ConfigError("dft.fault_rate", self.fault_rate, "must be in 0..1")
        unknown = [k for k in self.fault_kinds if k not in FAULT_KINDS]
        if unknown or (self.fault_rate > 0 and not self.fault_kinds):
            raise ConfigError(
                "dft.fault_kinds",
                self.fault_kinds,
                f"must be a non-empty list of {', '.join(FAULT_KINDS)}",
            )
        self.fault_kinds = list(self.fault_kinds)
