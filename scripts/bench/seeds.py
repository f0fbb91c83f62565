"""Seed registry of the label-efficiency benchmark: one disjoint block per role.

Every random stream the benchmark starts takes its seed from here, so the test
sets can never share a seed with an arm (tests/unit/bench/test_seeds.py).
A seed is ROLE_BLOCK * (role index + 1) + REPLICATE_BLOCK * replicate + offset.
"""

from __future__ import annotations

ROLES = (
    "test",  # test-set reference MD (replicate = temperature index)
    "pax",  # pax runs: md.seed block and mlff.seed at offset MLFF_OFFSET
    "uniform",  # independent reference MD of the uniform arm
    "equal_cost",  # reference MD of the equal-cost arm
    "mlff_md",  # frames from pax's MLFF trajectories (replayed MD, draw)
    "draw",  # random frame orders of the uniform arms
    "train",  # mlff.seed of the retrained ensembles
    "stability",  # MLFF MD runs that test each final model
    "cheap",  # GFN1 sampler MD of the expensive-labels benchmark (pretraining)
)
ROLE_BLOCK = 100_000_000
REPLICATE_BLOCK = 1_000_000
MLFF_OFFSET = 500_000
"""Offset of mlff.seed inside a pax replicate's block (md seeds stay below it)."""


def seed(role: str, replicate: int = 0, offset: int = 0) -> int:
    """The seed of one stream: role, replicate (seed index) and offset in the block."""
    if role not in ROLES:
        raise KeyError(f"unknown seed role {role!r}; known: {ROLES}")
    if not 0 <= replicate < ROLE_BLOCK // REPLICATE_BLOCK:
        raise ValueError(f"replicate {replicate} outside 0..99")
    if not 0 <= offset < REPLICATE_BLOCK:
        raise ValueError(f"offset {offset} outside the replicate block")
    return ROLE_BLOCK * (ROLES.index(role) + 1) + REPLICATE_BLOCK * replicate + offset


def block(role: str) -> range:
    """Every seed a role may use."""
    start = seed(role)
    return range(start, start + ROLE_BLOCK)


def role_of(value: int) -> str:
    """The role whose block holds this seed (for checks on recorded seeds)."""
    for role in ROLES:
        if value in block(role):
            return role
    raise KeyError(f"seed {value} is in no registered block")
