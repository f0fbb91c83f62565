"""Shared pieces of pax's figures: records by kind, a figure, an atomic PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pax.fileio import atomic_write

Records = Sequence[dict[str, Any]]


def of_kind(records: Records, kind: str) -> list[dict[str, Any]]:
    """The records of one kind, in order."""
    return [r for r in records if r.get("kind") == kind]


def new_figure(
    n_rows: int = 1, width: float = 6.4, n_cols: int = 1
) -> tuple[Figure, list[Any]]:
    """A figure with its axes (rows x columns), drawn without pyplot."""
    fig = Figure(figsize=(width, 3.2 * n_rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    return fig, list(axes.ravel())


def save_png(fig: Figure, path: Path) -> Path:
    """Write fig as a PNG at path atomically; return path."""
    return atomic_write(path, lambda handle: fig.savefig(handle, format="png", dpi=110))
