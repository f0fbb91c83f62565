"""MACE ensembles: build, train, predict, checkpoint, export, evaluate.

`from pax.mlff import Ensemble` imports torch and mace lazily, so reading the
config schema (pax.mlff.config) stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Ensemble", "EnsembleCalculator", "ModelFiles"]


def __getattr__(name: str) -> Any:
    if name == "Ensemble":
        from pax.mlff.ensemble import Ensemble

        return Ensemble
    if name == "EnsembleCalculator":
        from pax.mlff.calculator import EnsembleCalculator

        return EnsembleCalculator
    if name == "ModelFiles":
        from pax.mlff.predict import ModelFiles

        return ModelFiles
    raise AttributeError(f"module 'pax.mlff' has no attribute {name!r}")
