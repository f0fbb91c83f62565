"""The workers of a reference pool: how many are connected, how busy, starved."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pax.cluster.config import ClusterConfig, SlurmClusterConfig
from pax.cluster.parsl_config import local_workers
from pax.cluster.slurm import job_states

log = logging.getLogger(__name__)


def planned_workers(cfg: ClusterConfig) -> int:
    """Workers the config asks for at the start (count)."""
    if isinstance(cfg, SlurmClusterConfig):
        per_block = cfg.nodes_per_block * cfg.workers_per_node
        return max(cfg.init_blocks, 1) * per_block
    return local_workers(cfg)


class WorkerMonitor:
    """Counts the connected workers about once a second and integrates them.

    While started, a daemon thread asks the executor for its connected
    workers; utilisation is busy worker-seconds over connected worker-seconds.
    While labels wait and no worker is connected it warns every
    `cluster.no_worker_warning_s`, naming the run's Slurm jobs or worker logs.
    """

    def __init__(
        self,
        cfg: ClusterConfig,
        run_dir: Path,
        label: str,
        waiting: Callable[[], int],
    ) -> None:
        """Prepare a monitor; nothing runs before `start()`.

        Args:
            cfg: the `cluster` group.
            run_dir: the run directory (worker logs are under run_dir/parsl).
            label: the executor label, which names the run's Slurm jobs.
            waiting: how many labels wait for a worker now.
        """
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.label = label
        self._waiting = waiting
        self._planned = planned_workers(cfg)
        self._lock = threading.Lock()
        self._busy_s = 0.0
        self._finished = 0
        self._available_s = 0.0
        self._connected = 0
        self._t_sample = time.monotonic()
        self._stop = threading.Event()
        self._starved_since: float | None = None
        self._last_warning = 0.0

    def start(self, executor) -> None:
        """Watch `executor` (a Parsl HighThroughputExecutor) until `stop()`."""
        self._t_sample = time.monotonic()
        threading.Thread(
            target=self._watch, args=(executor,), name="pax-pool-workers", daemon=True
        ).start()

    def stop(self) -> None:
        """End the watching thread (within a second)."""
        self._stop.set()

    def add_busy(self, seconds: float) -> None:
        """Count worker-seconds of one finished calculation."""
        with self._lock:
            self._busy_s += seconds
            self._finished += 1

    @property
    def connected(self) -> int:
        """Workers connected at the last check (count)."""
        with self._lock:
            return self._connected

    @property
    def workers(self) -> int:
        """Workers connected now, or planned while none are (count)."""
        return self.connected or self._planned

    @property
    def busy_s(self) -> float:
        """Worker-seconds spent in calculations finished since the start."""
        with self._lock:
            return self._busy_s

    @property
    def mean_label_s(self) -> float | None:
        """Mean worker-seconds of the calculations finished so far; None before one."""
        with self._lock:
            return self._busy_s / self._finished if self._finished else None

    def utilisation(self) -> float:
        """Busy worker-seconds over connected worker-seconds since the start."""
        with self._lock:
            now = time.monotonic()
            available = self._available_s + self._connected * (now - self._t_sample)
            busy = self._busy_s
        if available <= 0 and busy > 0:
            # work finished before the first count: assume the planned workers
            available = max(1, self.workers) * (now - self._t_sample)
        return min(1.0, busy / available) if available > 0 else 0.0

    def _watch(self, executor) -> None:
        period = min(1.0, float(getattr(self.cfg, "poll_interval_s", 1)))
        while not self._stop.wait(period):
            try:
                managers = executor.connected_managers()
                count = sum(
                    m["worker_count"] for m in managers if m.get("active", True)
                )
            except Exception as exc:  # noqa: BLE001 - interchange busy or shutting down
                log.debug("could not count connected workers: %s", exc)
                continue
            now = time.monotonic()
            with self._lock:
                self._available_s += self._connected * (now - self._t_sample)
                self._connected, self._t_sample = count, now
            self.watch_starvation(count, self._waiting(), now)

    def watch_starvation(self, connected: int, waiting: int, now: float) -> None:
        """Warn, every no_worker_warning_s, while labels wait and no worker is there."""
        limit = self.cfg.no_worker_warning_s
        if connected or not waiting or limit <= 0:
            self._starved_since = None
            return
        if self._starved_since is None:
            self._starved_since = self._last_warning = now
            return
        if now - self._last_warning < limit:
            return
        self._last_warning = now
        where = f"worker logs under {self.run_dir / 'parsl'}"
        if isinstance(self.cfg, SlurmClusterConfig):
            jobs = job_states(self.label, self.cfg.cmd_timeout_s)
            where = (
                "Slurm jobs of this run: "
                + ", ".join(f"{j} {state} ({reason})" for j, state, reason in jobs)
                if jobs
                else "no Slurm job of this run is queued"
            ) + f"; {where}"
        log.warning(
            "%d reference label(s) waited %.0f s with no worker connected; %s",
            waiting,
            now - self._starved_since,
            where,
        )
