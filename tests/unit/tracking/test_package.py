"""Tracking is the only package of pax that imports matplotlib or wandb."""

import ast

from tests.unit.test_structure import import_nodes, module_files

PLOTTING_AND_WANDB = ("matplotlib", "wandb")


def imported_roots(path) -> set[str]:
    """Top-level names of the external modules a file imports."""
    roots = set()
    for node in import_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif not node.level and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_tracking_imports_matplotlib_or_wandb():
    offenders = {
        name: sorted(set(PLOTTING_AND_WANDB) & imported_roots(path))
        for name, path in module_files().items()
        if not name.startswith("pax.tracking")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
