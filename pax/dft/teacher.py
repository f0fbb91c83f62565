"""A MACE model as the reference: a model file, or a foundation model from the cache."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ase import Atoms

from pax.dft.config import DFTConfig
from pax.dft.isolation import run_isolated
from pax.dft.labelled import Labelled, finish
from pax.errors import ConfigError

MP_PREFIX, OFF_PREFIX = "mace-mp-", "mace-off-"

# The child keeps loaded models: loading costs far more than one evaluation.
_models: dict = {}


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
        self.model = str(resolve_model(self.model))


def label(atoms: Atoms, cfg: TeacherConfig, workdir: str) -> Labelled:
    """Energy, forces (and stress when periodic) from the teacher model.

    Args:
        atoms: the geometry (Å).
        cfg: teacher settings; cfg.model is a file path (resolved when checked).
        workdir: unused.

    Returns:
        The label; a crash, a kill or dft.timeout_s give a failed label.
    """
    start = time.perf_counter()
    result = run_isolated("pax.dft.teacher:compute", (atoms, cfg), cfg.timeout_s)
    return finish(result, time.perf_counter() - start, len(atoms))


def compute(atoms: Atoms, cfg: TeacherConfig) -> Labelled:
    """The model's prediction in this process; errors raise (run it via `label`)."""
    path = str(resolve_model(cfg.model))
    cache_key = (path, os.path.getmtime(path), cfg.device, cfg.default_dtype)
    if cache_key not in _models:
        from mace.calculators import MACECalculator

        _models.clear()
        _models[cache_key] = MACECalculator(
            model_paths=path, device=cfg.device, default_dtype=cfg.default_dtype
        )
    atoms = atoms.copy()
    atoms.calc = _models[cache_key]
    energy = float(atoms.get_potential_energy())
    forces = atoms.get_forces(apply_constraint=False)  # the reference's own
    stress = atoms.get_stress(voigt=True) if atoms.pbc.all() else None
    return Labelled("ok", energy, forces, stress)


def resolve_model(model: str, key: str = "dft.model") -> Path:
    """The model file for dft.model: an existing path, or a cached foundation model.

    Names are mace-mp-<size> (small, medium, large, medium-mpa-0, ...) and
    mace-off-<size> (small, medium, large); pax never downloads weights.

    Args:
        model: a file path or a foundation-model name.
        key: the config key named in errors (al.idg.foundation_model uses this too).

    Raises:
        ConfigError: naming `key` when no such file or cached weights exist.
    """
    path = Path(model).expanduser()
    if path.is_file():
        return path.resolve()
    if not model.startswith((MP_PREFIX, OFF_PREFIX)):
        raise ConfigError(key, model, _how_to(key))
    candidates = _cached_files(model)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    where = ", ".join(str(c) for c in candidates) or "no known URL for this name"
    raise ConfigError(
        key, model, f"no cached weights (looked for {where}); {_how_to(key)}"
    )


def _how_to(key: str) -> str:
    return (
        f"pass a MACE model file: {key}=/path/to/file.model (download it once "
        "elsewhere, or use a name whose weights are in ~/.cache/mace)"
    )


def _cached_files(model: str) -> list[Path]:
    """Where mace-torch would have cached the weights for this name."""
    from mace.calculators import foundations_models as fm
    from mace.tools.utils import get_cache_dir

    cache = Path(get_cache_dir())
    if model.startswith(MP_PREFIX):
        size = model.removeprefix(MP_PREFIX)
        if size not in fm.mace_mp_urls:
            return []
        base = os.path.basename(fm.mace_mp_urls[size])
        files = [cache / "".join(c for c in base if c.isalnum() or c == "_")]
        if size == "medium-mpa-0":
            files.append(Path(fm.local_model_path))
        return files
    size = model.removeprefix(OFF_PREFIX)
    if size not in fm.mace_off_urls:
        return []
    return [cache / os.path.basename(fm.mace_off_urls[size]).split("?")[0]]
