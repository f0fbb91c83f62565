"""Torch threads of the main process, following what the local workers use.

With run.torch_threads=0 and local reference workers, the main process (MD,
training) takes every core while no label is computed and leaves each busy
worker its cores.per_worker while labels run: no core idles while the
reference waits, and none is shared (sharing cores slows torch down 10-30x,
shared/STACK.md). A fixed run.torch_threads, or workers on other machines,
keep one count throughout.
"""

from __future__ import annotations

import os

from pax.mlff.parallel import width


class ThreadPolicy:
    """Sets torch's thread count from the number of labels in flight."""

    def __init__(self, cfg) -> None:
        self.cores = os.cpu_count() or 1
        self.fixed = cfg.run.torch_threads if cfg.run.torch_threads > 0 else None
        local = cfg.cluster.kind == "local"
        self.max_workers = cfg.cluster.max_workers if local else 0
        self.per_worker = cfg.cluster.cores_per_worker if local else 0
        self.current: int | None = None
        self.parallel_members = cfg.mlff.parallel_members
        self.ensemble_size = cfg.mlff.ensemble_size

    def threads(self, in_flight: int) -> int:
        """Threads for the main process while `in_flight` labels are out."""
        if self.fixed is not None:
            return self.fixed
        busy = min(in_flight, self.max_workers)
        return max(1, self.cores - busy * self.per_worker)

    def update(self, in_flight: int) -> int:
        """Apply threads(in_flight) when it changed; return it."""
        n = self.threads(in_flight)
        if n != self.current:
            import torch

            torch.set_num_threads(n)
            self.current = n
        return n

    def describe(self) -> str:
        """One line for the plan."""
        if self.fixed is not None:
            text = f"main process: {self.fixed} torch thread(s) (run.torch_threads)"
        elif not self.max_workers:
            text = f"main process: {self.cores} torch thread(s)"
        else:
            low = max(1, self.cores - self.max_workers * self.per_worker)
            text = (
                f"main process: {self.cores} torch thread(s) while no label runs "
                f"here, {low} while all {self.max_workers} local worker(s) compute"
            )
        most = self.threads(0)
        at_once = width(self.parallel_members, self.ensemble_size, most)
        return f"{text}; up to {at_once} member(s) trained at once"
