"""Where reference calculations run: Parsl on this machine or in Slurm blocks.

Public names load lazily, so reading the config (pax.cluster.config) does not
import Parsl.
"""

from importlib import import_module

_PUBLIC = {
    "Completed": "pax.cluster.pool",
    "ReferencePool": "pax.cluster.pool",
    "Ledger": "pax.cluster.ledger",
    "geometry_hash": "pax.cluster.ledger",
    "make_parsl_config": "pax.cluster.parsl_config",
    "run_label": "pax.cluster.parsl_config",
}


def __getattr__(name: str):
    """Import a public name on first use."""
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'pax.cluster' has no attribute {name!r}")


__all__ = sorted(_PUBLIC)
