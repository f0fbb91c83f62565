"""FHI-aims settings (dft=aims) and the files they become, through ASE's Aims.

control.in and geometry.in are written, aims.out is read.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import ClassVar

from ase import Atoms

from pax.dft.config import DFTConfig
from pax.errors import ConfigError

OUTPUT_NAME = "aims.out"
"""The file launch_str must write FHI-aims' standard output to."""


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
    control_in: str = ""
    """A control.in of yours (aims-PAX's path_to_control): its keyword lines replace
    pax's keywords of the same name (xc, spin, sc_* ...); species blocks still come
    from species_dir; compute_forces and k_grid stay pax's. A folder instead gives
    each system its <name>.control.in, else the folder's control.in."""
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
        if self.control_in:
            control = Path(self.control_in).expanduser()
            if not (control.is_file() or control.is_dir()):
                raise ConfigError(
                    "dft.control_in", self.control_in, "no such file or folder"
                )
            self.control_in = str(control.resolve())


def control_parameters(atoms: Atoms, cfg: AimsConfig) -> dict:
    """The control.in keywords for this geometry (ASE's Aims parameter dict).

    k_grid is written only for periodic cells; spin is collinear with a fixed
    moment of multiplicity - 1 when the multiplicity is above 1.
    """
    params: dict = {
        "xc": cfg.xc,
        "relativistic": cfg.relativistic,
        "species_dir": cfg.species_dir,
        "sc_accuracy_rho": cfg.sc_accuracy_rho,
        "sc_accuracy_eev": cfg.sc_accuracy_eev,
        "sc_accuracy_etot": cfg.sc_accuracy_etot,
        "sc_accuracy_forces": cfg.sc_accuracy_forces,
        "sc_iter_limit": cfg.sc_iter_limit,
    }
    if cfg.charge:
        params["charge"] = float(cfg.charge)
    multiplicity = cfg.multiplicity or 1
    if multiplicity > 1:
        params["spin"] = "collinear"
        params["default_initial_moment"] = "hund"
        params["fixed_spin_moment"] = multiplicity - 1
    else:
        params["spin"] = "none"
    if atoms.pbc.any():
        params["k_grid"] = list(cfg.k_grid)
    if cfg.dispersion == AimsDispersion.many_body_dispersion:
        params["many_body_dispersion"] = ""
    elif cfg.dispersion == AimsDispersion.vdw_correction_hirshfeld:
        params["vdw_correction_hirshfeld"] = True
    return params


def write_inputs(atoms: Atoms, cfg: AimsConfig, directory: Path) -> None:
    """Write geometry.in and control.in (species blocks from cfg.species_dir).

    Raises:
        ValueError: a partly periodic cell, or a periodic one without dft.k_grid.
        FileNotFoundError: a species file missing from cfg.species_dir.
    """
    from ase.calculators.aims import AimsProfile, AimsTemplate

    if atoms.pbc.any() and not atoms.pbc.all():
        raise ValueError(f"FHI-aims needs pbc all True or all False, got {atoms.pbc}")
    if atoms.pbc.all() and cfg.k_grid is None:
        raise ValueError(
            "periodic cell but dft.k_grid is not set (e.g. dft.k_grid=[4,4,4])"
        )
    properties = ["energy", "forces"] + (["stress"] if atoms.pbc.all() else [])
    profile = AimsProfile(
        command=cfg.launch_str, default_species_directory=cfg.species_dir
    )
    params = control_parameters(atoms, cfg)
    control = control_file(cfg, atoms.info.get("system"))
    users = user_keywords(control) if control is not None else []
    counts = Counter(line.split()[0] for line in users)
    raw = []
    for line in users:
        key, _, value = line.partition(" ")
        if key in KEPT_KEYWORDS:
            continue
        if key in params and counts[key] == 1:
            params[key] = value.strip()  # the user's value in pax's keyword
        else:
            raw.append(line)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # ASE: aims IO moves to a plugin
        AimsTemplate().write_input(profile, Path(directory), atoms, params, properties)
    extra = raw + list(cfg.extra_control)
    if extra:
        _insert_before_species(Path(directory) / "control.in", extra)


KEPT_KEYWORDS = ("species_dir", "k_grid", "compute_forces", "compute_analytical_stress")
"""Keywords pax writes itself even when dft.control_in sets them."""


def control_file(cfg: AimsConfig, system: str | None) -> Path | None:
    """The user's control.in for a geometry of this system, or None.

    Raises:
        FileNotFoundError: dft.control_in is a folder with no file for the system.
    """
    if not cfg.control_in:
        return None
    path = Path(cfg.control_in)
    if path.is_file():
        return path
    names = ([f"{system}.control.in"] if system is not None else []) + ["control.in"]
    for name in names:
        if (path / name).is_file():
            return path / name
    raise FileNotFoundError(
        f"dft.control_in={cfg.control_in}: no {system}.control.in or control.in there"
    )


def user_keywords(path: Path) -> list[str]:
    """The keyword lines of a control.in, without comments and species blocks."""
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.split()[0] == "species":
            break
        lines.append(line)
    return lines


def read_output(directory: Path) -> dict:
    """Results of a finished calculation: energy (eV), forces (eV/Å), stress (eV/Å^3).

    Raises:
        ase.io.ParseError and friends: unconverged SCF or an incomplete file.
    """
    from ase.calculators.aims import AimsTemplate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return AimsTemplate().read_results(Path(directory))


def _insert_before_species(control: Path, lines: list[str]) -> None:
    """Put raw lines after ASE's keywords, before its closing rule and the species."""
    text = control.read_text().splitlines(keepends=True)
    first_species = next(
        (i for i, line in enumerate(text) if line.split()[:1] == ["species"]), len(text)
    )
    rules = [i for i, line in enumerate(text[:first_species]) if line.strip() == _RULE]
    index = rules[-1] if rules else first_species
    text[index:index] = [line.rstrip("\n") + "\n" for line in lines]
    control.write_text("".join(text))


_RULE = "#" + "=" * 79  # ASE's write_control frames the keywords with this line
