"""MD settings per system: a <name>.md.yaml beside its geometry, md.per_system.<name>.

A run with several systems (a folder of geometries) may give each its own
temperature, time step, integrator and thermostat/barostat settings (aims-PAX's
per-geometry MD). For each system the run's md settings are taken, then those
of <name>.md.yaml next to the geometry file when there is one, then
md.per_system.<name> from the command line or preset.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml
from ase import Atoms

from pax.errors import ConfigError
from pax.md.config import MDConfig

PER_SYSTEM_KEYS = (
    "integrator",
    "temperature_K",
    "timestep_fs",
    "friction_per_fs",
    "pressure_GPa",
    "barostat_time_fs",
    "thermostat_time_fs",
    "compressibility_per_GPa",
    "fix_com",
)
"""MD settings a system may change; the others apply to the whole batch."""


def system_md(md: MDConfig, systems: list[Atoms], geometry: str) -> list[MDConfig]:
    """One MD config per system (in the order of systems).

    Args:
        md: the run's md settings (md.per_system included).
        systems: the run's systems; atoms.info["system"] is each one's name.
        geometry: system.geometry (a file or a folder), where md.yaml files sit.

    Raises:
        ConfigError: a key a system may not change, a value MDConfig refuses, an
            unreadable md.yaml, or md.per_system naming no system.
    """
    names = [str(a.info.get("system", i)) for i, a in enumerate(systems)]
    unknown = sorted(set(md.per_system) - set(names))
    if unknown:
        raise ConfigError(
            f"md.per_system.{unknown[0]}", "...", f"no such system; systems: {names}"
        )
    folder = Path(geometry) if Path(geometry).is_dir() else Path(geometry).parent
    out = []
    for name in names:
        changes = {}
        path = folder / f"{name}.md.yaml"
        if path.is_file():
            changes.update(_read(path))
        for key, value in (md.per_system.get(name) or {}).items():
            changes[key] = value
        for key in changes:
            if key not in PER_SYSTEM_KEYS:
                raise ConfigError(
                    f"md.per_system.{name}.{key}",
                    changes[key],
                    f"applies to all trajectories; a system may set {PER_SYSTEM_KEYS}",
                )
        try:
            out.append(dataclasses.replace(md, **changes) if changes else md)
        except ConfigError as exc:
            where = path if path.is_file() else f"md.per_system.{name}"
            raise ConfigError(f"{where}: {exc.key}", exc.value, exc.reason) from None
    return out


def _read(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(str(path), "...", f"cannot be read ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), data, "must hold md keys and values")
    return data
