"""Run one function per ensemble member at once, in threads sharing the torch threads.

Members are independent (own weights, optimiser, batches), so K of them can
train side by side; torch releases the GIL inside its kernels. Measured on 2
CPU cores (mace_small, 4 members, 40 aspirin frames): 3.25 s per epoch in 2
threads, 3.63 s one after the other on 2 torch threads, 5.88 s on one thread
(scripts/bench/members.py, docs/mlff.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

T = TypeVar("T")


def width(setting: int, n_items: int, threads: int) -> int:
    """How many members run at once: mlff.parallel_members (0: one per thread)."""
    return max(1, min(n_items, setting or threads))


def map_members(
    fn: Callable[[int], T], members: Sequence[int], setting: int = 0
) -> list[T]:
    """fn(k) for every member k, `width` at a time, results in the members' order.

    Each thread gets torch.get_num_threads() // width intra-op threads (at least
    one); the count is restored afterwards. With width 1 this is a plain loop.
    """
    threads = torch.get_num_threads()
    n = width(setting, len(members), threads)
    if n == 1:
        return [fn(k) for k in members]
    torch.set_num_threads(max(1, threads // n))
    try:
        with ThreadPoolExecutor(n, thread_name_prefix="pax-member") as pool:
            return list(pool.map(fn, members))
    finally:
        torch.set_num_threads(threads)
