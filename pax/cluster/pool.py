"""ReferencePool: asynchronous reference labels on Parsl workers, kept in a ledger."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from ase import Atoms
from parsl.app.app import python_app
from parsl.dataflow.dflow import DataFlowKernel
from parsl.executors.errors import BadStateException
from parsl.jobs.errors import TooManyJobFailuresError

from pax.cluster.config import ClusterConfig, SlurmClusterConfig
from pax.cluster.ledger import (
    FINAL,
    Ledger,
    atoms_from_dict,
    geometry_hash,
    labelled_from_dict,
)
from pax.cluster.monitor import WorkerMonitor
from pax.cluster.parsl_config import kill_leftovers, make_parsl_config, run_label
from pax.cluster.slurm import cancel_jobs_of_run
from pax.cluster.task import label_on_worker
from pax.dft.labelled import Labelled
from pax.errors import PaxError

log = logging.getLogger(__name__)

_BAD_STATE = (
    "cluster: Parsl cannot start reference workers; check cluster.partition, "
    "cluster.account, cluster.qos, cluster.mem_per_node_GB, cluster.scheduler_options "
    "and cluster.worker_init (the block's output is under <run dir>/parsl). Parsl says:"
)


@dataclass
class Completed:
    """A finished reference calculation, as the workflow receives it."""

    ticket: str
    tag: dict
    atoms: Atoms
    result: Labelled


@dataclass
class _Flight:
    tag: dict
    atoms: Atoms
    hash: str
    waiters: list[tuple[dict, Atoms]] = field(default_factory=list)
    """Later submits of the same geometry while it runs: (tag, atoms)."""


class ReferencePool:
    """Reference calculations running on Parsl workers while the caller carries on.

    Use as a context manager: entering starts Parsl (and the Slurm blocks);
    leaving shuts Parsl down and cancels every block of the run, also on
    exceptions and Ctrl-C. Every result is written to `run_dir/ledger.jsonl`
    (fsync'ed) in the thread that receives it, before the caller sees it.
    """

    def __init__(self, cluster_cfg: ClusterConfig, dft_cfg, run_dir: Path) -> None:
        """Prepare a pool; nothing starts before `open()` / `with`."""
        self.cluster_cfg = cluster_cfg
        self.dft_cfg = dft_cfg
        self.run_dir = Path(run_dir).resolve()
        self.label = run_label(self.run_dir)
        self.monitor = WorkerMonitor(
            cluster_cfg, self.run_dir, self.label, waiting=lambda: self.in_flight
        )
        self._lock = threading.Condition()
        self._flights: dict[str, _Flight] = {}
        self._inflight_by_hash: dict[str, str] = {}
        self._done: list[Completed] = []
        self._recovered: list[Completed] = []
        self._ledger: Ledger | None = None
        self._dfk: DataFlowKernel | None = None
        self._done_by_hash: dict[str, tuple[str, Labelled]] = {}
        self._next = 0
        self._closing = False
        self._fatal: PaxError | None = None

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> ReferencePool:
        self.open()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def open(self) -> None:
        """Read the ledger, start Parsl, resubmit what an earlier run left running."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._ledger = Ledger(self.run_dir / "ledger.jsonl")
        entries = list(self._ledger.entries.values())
        self._recovered = [
            Completed(
                e.ticket, e.tag, atoms_from_dict(e.atoms), labelled_from_dict(e.result)
            )
            for e in entries
            if e.state in FINAL
        ]
        self._done_by_hash = {
            h: (e.ticket, labelled_from_dict(e.result))
            for h, e in self._ledger.done_by_hash().items()
        }
        self._next = len(entries)
        try:
            config = make_parsl_config(self.cluster_cfg, self.run_dir)
            if self._is_slurm:  # blocks of a killed earlier process of this run
                cancel_jobs_of_run(self.label, self.cluster_cfg.cmd_timeout_s)
            if left := kill_leftovers(self.run_dir):
                log.warning("killed Parsl processes an earlier process left: %s", left)
            self._dfk = DataFlowKernel(config)
        except BaseException:
            self.close()
            raise
        self._app = python_app(
            label_on_worker, data_flow_kernel=self._dfk, executors=[self.label]
        )
        self.monitor.start(self._dfk.executors[self.label])
        unfinished = [e for e in entries if e.state == "submitted"]
        for entry in unfinished:
            self._ledger.append({"event": "resubmitted", "ticket": entry.ticket})
            atoms = atoms_from_dict(entry.atoms)
            with self._lock:
                self._register(entry.ticket, entry.tag, atoms, entry.hash)
            self._launch(entry.ticket, atoms)
        log.info(
            "reference pool %s open: %d finished in the ledger, %d resubmitted",
            self.label,
            len(self._recovered),
            len(unfinished),
        )

    def close(self) -> None:
        """Stop Parsl, its processes and Slurm jobs; unfinished work stays submitted.

        Safe to call twice and after a failed open().
        """
        self._closing = True
        self.monitor.stop()
        try:
            if self._dfk is not None:
                self._dfk.cleanup()
        finally:
            self._dfk = None
            kill_leftovers(self.run_dir)  # worker pools still exiting
            if self._is_slurm:
                left = cancel_jobs_of_run(self.label, self.cluster_cfg.cmd_timeout_s)
                if left:
                    log.warning("cancelled Slurm jobs Parsl left behind: %s", left)
            if self._ledger is not None:
                self._ledger.close()

    # ------------------------------------------------------------ work
    def submit(self, atoms: Atoms, tag: dict) -> str:
        """Hand one geometry to a worker; returns its ticket at once.

        A geometry the ledger already holds as done is not recomputed: its
        stored result comes back through `completed()` with this tag. One that
        is running already is not started twice: both submits get its result.

        Args:
            atoms: the geometry to label.
            tag: small JSON-able dict the caller uses to route the result.

        Returns:
            The ticket that the Completed will carry.
        """
        if self._dfk is None or self._ledger is None:
            raise PaxError(
                "ReferencePool.submit called outside 'with ReferencePool(...)'"
            )
        atoms = atoms.copy()
        atoms.calc = None
        hash_ = geometry_hash(atoms)
        with self._lock:
            done = self._done_by_hash.get(hash_)
            if done is not None:
                self._done.append(Completed(done[0], tag, atoms, done[1]))
                self._lock.notify_all()
                return done[0]
            ticket = self._inflight_by_hash.get(hash_)
            if ticket is not None:
                self._flights[ticket].waiters.append((tag, atoms))
                return ticket
            ticket = f"{self._next:06d}"
            self._next += 1
            self._ledger.submitted(ticket, tag, atoms, hash_)
            self._register(ticket, tag, atoms, hash_)
        self._launch(ticket, atoms)
        return ticket

    def _register(self, ticket: str, tag: dict, atoms: Atoms, hash_: str) -> None:
        """Note a calculation as in flight (caller holds the lock)."""
        self._flights[ticket] = _Flight(tag, atoms, hash_)
        self._inflight_by_hash[hash_] = ticket

    def _launch(self, ticket: str, atoms: Atoms) -> None:
        kwargs = {}
        if self.cluster_cfg.task_walltime_s > 0:
            kwargs["walltime"] = self.cluster_cfg.task_walltime_s
        future = self._app(atoms, self.dft_cfg, str(self.run_dir), **kwargs)
        future.add_done_callback(partial(self._on_done, ticket))

    def _on_done(self, ticket: str, future) -> None:
        """Runs in Parsl's thread: ledger first (fsync), then the caller's queue."""
        try:
            result = future.result()
        except (BadStateException, TooManyJobFailuresError) as exc:  # no workers
            with self._lock:
                self._fatal = PaxError(f"{_BAD_STATE} {exc}")
                self._lock.notify_all()
            return  # stays 'submitted': a restart with a fixed config runs it
        except Exception as exc:  # noqa: BLE001 - lost worker after all retries, etc.
            if self._closing:
                return  # cut off by close(): stays 'submitted', resubmitted next time
            result = Labelled.failed(
                f"{type(exc).__name__}: {exc}", error=type(exc).__name__
            )
        try:
            self._ledger.finished(ticket, result)
        except (OSError, ValueError) as exc:
            log.error("could not record ticket %s in the ledger: %s", ticket, exc)
        start, end = result.info.get("worker_start"), result.info.get("worker_end")
        if start is not None and end is not None:
            self.monitor.add_busy(end - start)
        with self._lock:
            flight = self._flights.pop(ticket)
            self._inflight_by_hash.pop(flight.hash, None)
            if result.ok:
                self._done_by_hash.setdefault(flight.hash, (ticket, result))
            for tag, atoms in [(flight.tag, flight.atoms), *flight.waiters]:
                self._done.append(Completed(ticket, tag, atoms, result))
            self._lock.notify_all()

    def completed(self) -> list[Completed]:
        """Results that arrived since the last call (never blocks).

        Raises:
            PaxError: when the executor cannot run tasks (sbatch refused the
                blocks, worker_init failed); the message names the settings.
        """
        self._raise_fatal()
        with self._lock:
            done, self._done = self._done, []
        return done

    def drain(self, timeout_s: float) -> list[Completed]:
        """Wait until nothing is in flight or `timeout_s` passes; return what came."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._flights and self._fatal is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    log.warning(
                        "drain: %d calculations still running", len(self._flights)
                    )
                    break
                self._lock.wait(min(left, 1.0))
        return self.completed()

    def recovered(self) -> list[Completed]:
        """Every done/failed record the ledger held when the pool opened."""
        return list(self._recovered)

    # ------------------------------------------------------------ accounting
    def ledger_counts(self) -> dict[str, int]:
        """Calculations of the run by ledger state: submitted, done, failed."""
        counts = {"submitted": 0, "done": 0, "failed": 0}
        if self._ledger is not None:
            for entry in list(self._ledger.entries.values()):
                counts[entry.state] = counts.get(entry.state, 0) + 1
        return counts

    @property
    def in_flight(self) -> int:
        """Calculations submitted and not yet finished."""
        with self._lock:
            return len(self._flights)

    def in_flight_tickets(self) -> set[str]:
        """Tickets of the calculations running now (resubmitted ones included)."""
        with self._lock:
            return set(self._flights)

    @property
    def workers(self) -> int:
        """Reference workers connected now, or planned while none are (count)."""
        return self.monitor.workers

    @property
    def connected_workers(self) -> int:
        """Workers connected to Parsl at the last check (checked every second or so)."""
        return self.monitor.connected

    @property
    def busy_s(self) -> float:
        """Worker-seconds spent in calculations finished since the pool opened."""
        return self.monitor.busy_s

    @property
    def mean_label_s(self) -> float | None:
        """Mean worker-seconds per finished calculation; None before the first."""
        return self.monitor.mean_label_s

    def utilisation(self) -> float:
        """Busy worker-seconds over connected worker-seconds since the pool opened."""
        return self.monitor.utilisation()

    def _raise_fatal(self) -> None:
        if self._fatal is not None:
            raise self._fatal

    @property
    def _is_slurm(self) -> bool:
        return isinstance(self.cluster_cfg, SlurmClusterConfig)
