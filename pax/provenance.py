"""Which pax and which libraries produced a run (summary.json, config.yaml)."""

from __future__ import annotations

import platform
import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pax

PACKAGES = (
    "torch",
    "mace-torch",
    "e3nn",
    "ase",
    "numpy",
    "parsl",
    "hydra-core",
    "wandb",
    "tblite",
    "pyscf",
)
"""Distributions whose versions decide a run's numbers (references included)."""


@cache
def environment() -> dict:
    """The version and git commit of pax, Python's and those of PACKAGES."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return {
        "pax": pax.__version__,
        "pax_commit": _git_commit(),
        "python": platform.python_version(),
        "packages": versions,
    }


def version_line() -> str:
    """One line for `pax --version`."""
    env = environment()
    commit = env["pax_commit"] or "unknown commit"
    libs = ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v)
    return f"pax {env['pax']} ({commit}); Python {env['python']}; {libs}"


def yaml_header() -> str:
    """The environment as YAML comment lines (config.yaml stays a plain config)."""
    env = environment()
    lines = [f"# pax {env['pax']}, commit {env['pax_commit']}, Python {env['python']}"]
    lines += [f"# {k} {v}" for k, v in env["packages"].items()]
    return "\n".join(lines) + "\n"


def _git_commit() -> str | None:
    """HEAD of the checkout pax runs from (with '-dirty' for local changes), or None."""
    root = Path(pax.__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=40"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
