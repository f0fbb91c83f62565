"""Run in-process codes (tblite, PySCF, MACE, EMT) in a child process we can kill.

A crash, a hang past `dft.timeout_s` or a kill of the child turns into a failed
label; the caller (a Parsl worker) lives on. Children are kept and reused, so
the per-call overhead is a pickle over a pipe (well under a millisecond), and a
child keeps its imports and cached calculators between calls. A child is
started with `python -c "...serve()"`, inherits the caller's environment
(OMP_NUM_THREADS included) and ends when its stdin closes (its parent died or
called `shutdown`).
"""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pax.dft.labelled import Labelled

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<Q")  # payload length in bytes
_READY = b"R"
_START_TIMEOUT_S = 120.0  # a fresh child imports numpy/ase; a loaded node is slow
# A child keeps the thread settings it started with; when they change, start anew.
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

_lock = threading.Lock()
_idle: list[_Child] = []
_busy: set[_Child] = set()


class _Child:
    """One worker process speaking length-prefixed pickles over its stdin/stdout."""

    def __init__(self) -> None:
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (root, env.get("PYTHONPATH")) if p
        )
        self.owner = os.getpid()
        self.threads = _thread_env()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from pax.dft.isolation import serve; serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        if _read_exact(self.proc.stdout.fileno(), 1, _START_TIMEOUT_S) != _READY:
            self.kill()
            raise RuntimeError(
                f"calculation process did not start ({self.exit_reason()})"
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def call(self, target: str, args: tuple, timeout_s: float) -> Labelled | None:
        """Run target(*args) in the child; None when it timed out (child killed)."""
        payload = pickle.dumps((target, args), protocol=pickle.HIGHEST_PROTOCOL)
        os.write(self.proc.stdin.fileno(), _HEADER.pack(len(payload)))
        _write_all(self.proc.stdin.fileno(), payload)
        fd = self.proc.stdout.fileno()
        header = _read_exact(fd, _HEADER.size, timeout_s)
        if header is None:
            return None
        if len(header) < _HEADER.size:
            raise ChildDied(self.exit_reason())
        (size,) = _HEADER.unpack(header)
        data = _read_exact(fd, size, _START_TIMEOUT_S)
        if data is None or len(data) < size:
            raise ChildDied(self.exit_reason())
        return pickle.loads(data)

    def kill(self) -> None:
        """Kill the child and reap it."""
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - unkillable (D state)
            log.warning("calculation process %d did not die", self.pid)

    def close(self) -> None:
        """Ask the child to end (EOF on stdin), then make sure it did."""
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def exit_reason(self) -> str:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "calculation process stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = "unknown signal"
            return f"calculation process killed by signal {-code} ({name})"
        return f"calculation process exited with code {code}"


class ChildDied(RuntimeError):
    """The calculation process ended without sending a result."""


def run_isolated(target: str, args: tuple, timeout_s: float) -> Labelled:
    """Run `target(*args)` in a reusable child process, killed past timeout_s.

    Args:
        target: "module:function" of a function returning a Labelled; it may raise.
        args: its picklable arguments.
        timeout_s: wall-clock limit of the calculation (s); the child is killed past it.

    Returns:
        The function's Labelled, or a failed one naming the timeout, the signal
        that killed the child, its exit code, or the exception it raised.
    """
    try:
        child = _acquire()
    except Exception as exc:  # noqa: BLE001 - any start failure is a failed label
        return Labelled.failed(f"could not start the calculation process: {exc}")
    keep = False
    try:
        result = child.call(target, args, timeout_s)
        if result is None:
            return Labelled.failed(
                f"timeout: no result after {timeout_s:g} s (dft.timeout_s); "
                "calculation process killed"
            )
        keep = True
        result.info["calc_pid"] = child.pid
        return result
    except (ChildDied, OSError) as exc:
        return Labelled.failed(
            str(exc) if isinstance(exc, ChildDied) else child.exit_reason()
        )
    finally:
        if not keep:
            child.kill()
        _release(child, keep)


def busy_pids() -> list[int]:
    """Process ids of the children running a calculation right now."""
    with _lock:
        return [c.pid for c in _busy]


def shutdown() -> None:
    """End the idle children of this process (they restart on the next call)."""
    with _lock:
        children, _idle[:] = list(_idle), []
    for child in children:
        if child.owner == os.getpid():
            child.close()


def _acquire() -> _Child:
    found, stale = None, []
    with _lock:
        while _idle and found is None:
            child = _idle.pop()
            if child.owner != os.getpid():
                continue  # inherited through a fork: not ours to use or kill
            if child.proc.poll() is None and child.threads == _thread_env():
                found = child
            else:
                stale.append(child)
        if found is not None:
            _busy.add(found)
    for child in stale:
        child.close()
    if found is None:
        found = _Child()
        with _lock:
            _busy.add(found)
    return found


def _release(child: _Child, keep: bool) -> None:
    with _lock:
        _busy.discard(child)
        if keep and child.proc.poll() is None:
            _idle.append(child)


def _thread_env() -> tuple:
    return tuple(os.environ.get(name) for name in _THREAD_VARS)


def _read_exact(fd: int, size: int, timeout_s: float | None) -> bytes | None:
    """Read size bytes (timeout None: wait forever); None on timeout, fewer on EOF."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    chunks, got = [], 0
    while got < size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return None
        chunk = os.read(fd, min(size - got, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def serve() -> None:
    """Child side: answer requests until stdin closes."""
    out = os.dup(1)
    os.dup2(2, 1)  # codes that print (tblite, PySCF) must not corrupt the pipe
    sys.stdout = sys.stderr
    os.write(out, _READY)
    while True:
        header = _read_exact(0, _HEADER.size, None)
        if not header or len(header) < _HEADER.size:
            return
        (size,) = _HEADER.unpack(header)
        target, args = pickle.loads(_read_exact(0, size, None))
        cpu_start = time.process_time()
        try:
            result = _resolve(target)(*args)
        except Exception as exc:  # noqa: BLE001 - reported as a failed label
            result = Labelled.failed(f"{type(exc).__name__}: {exc}")
        result.info["cpu_s"] = time.process_time() - cpu_start  # all threads
        payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        _write_all(out, _HEADER.pack(len(payload)) + payload)


def _resolve(target: str) -> Any:
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


atexit.register(shutdown)
