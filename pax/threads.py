"""Torch threads of the main process, following what the local workers use.

With run.torch_threads=0 and local reference workers, the main process (MD,
training) takes every core while no label is computed and leaves each busy
worker its cores.per_worker while labels run: no core idles while the
reference waits, and none is shared for long (sharing cores slows torch down
10-30x, shared/STACK.md). Labels that take under FAST_LABEL_S on average (xTB
on a molecule: tens of ms) hold no core: they end long before the training
epoch or MD chunk that would run on one thread fewer. A fixed
run.torch_threads, or workers on other machines, keep one count throughout.
"""

from __future__ import annotations

import os

from pax.mlff.parallel import width

FAST_LABEL_S = 1.0
"""Labels shorter than this on average (worker-seconds) do not hold a core."""


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

    def threads(self, in_flight: int, mean_label_s: float | None = None) -> int:
        """Threads for the main process while `in_flight` labels are out.

        mean_label_s: the mean duration of the labels finished so far (None before
        the first); below FAST_LABEL_S the labels out hold no core.
        """
        if self.fixed is not None:
            return self.fixed
        fast = mean_label_s is not None and mean_label_s < FAST_LABEL_S
        busy = 0 if fast else min(in_flight, self.max_workers)
        return max(1, self.cores - busy * self.per_worker)

    def update(self, in_flight: int, mean_label_s: float | None = None) -> int:
        """Apply threads(in_flight, mean_label_s) when it changed; return it."""
        n = self.threads(in_flight, mean_label_s)
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
                f"here, {low} while all {self.max_workers} local worker(s) compute "
                f"labels of {FAST_LABEL_S:g} s or more"
            )
        most = self.threads(0)
        at_once = width(self.parallel_members, self.ensemble_size, most)
        return f"{text}; up to {at_once} member(s) trained at once"
