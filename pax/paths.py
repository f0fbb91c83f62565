"""Where pax finds its own files, and how relative paths in configs resolve."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The repository root (conf/ and data/ live here)."""

CONF_DIR = PROJECT_ROOT / "conf"


def resolve_path(path: str | Path) -> Path:
    """Resolve a config path: absolute, else relative to cwd, else to the project.

    Shipped inputs such as ``data/systems/aspirin.xyz`` are found from any
    working directory; a user's own relative path is taken relative to where
    pax was started.
    """
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    if p.exists():
        return p.resolve()
    shipped = PROJECT_ROOT / p
    return shipped if shipped.exists() else p.resolve()
