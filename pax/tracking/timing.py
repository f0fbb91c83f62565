"""Where a run's wall time goes: named sections of the main process, timed.

Sections nest; each counts only its own time (a test evaluation inside a
training chunk counts as evaluation, not training), so the sections and the
unaccounted rest add up to the wall time. The reference workers' busy time is
counted apart: it runs in other processes, overlapped with the main process
except while the main process waits (`reference_wait`).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections import defaultdict
from collections.abc import Iterator


def process_start() -> float:
    """When this process started (epoch seconds); now if the OS does not say."""
    try:
        import psutil

        return float(psutil.Process().create_time())
    except Exception:  # psutil comes with Parsl; without it start-up is not timed
        return time.time()


class TimeBudget:
    """Exclusive wall time per section since `start` (epoch seconds)."""

    def __init__(self, start: float | None = None) -> None:
        self.start = time.time() if start is None else start
        self.sections: dict[str, float] = defaultdict(float)
        self.reference_busy_s = 0.0
        self._stack: list[list] = []  # [name, entered_at, time of inner sections]

    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[None]:
        """Count the block's wall time, less its inner sections', under name."""
        frame = [name, time.perf_counter(), 0.0]
        self._stack.append(frame)
        try:
            yield
        finally:
            self._stack.pop()
            elapsed = time.perf_counter() - frame[1]
            self.sections[name] += elapsed - frame[2]
            if self._stack:
                self._stack[-1][2] += elapsed

    def add(self, name: str, seconds: float) -> None:
        """Count time measured elsewhere (outside any open section)."""
        self.sections[name] += seconds

    def report(self) -> dict:
        """The budget so far.

        Returns:
            wall_s, sections_s (name -> s), unaccounted_s, reference_busy_s
            (worker-seconds of the labels that arrived) and reference_overlapped_s
            (the part of them not spent waiting by the main process).
        """
        wall, now = time.time() - self.start, time.perf_counter()
        totals = defaultdict(float, self.sections)
        inner = 0.0  # sections still open count up to now, innermost first
        for name, entered, done_inside in reversed(self._stack):
            totals[name] += now - entered - done_inside - inner
            inner = now - entered
        wait = totals.get("reference_wait", 0.0)
        return {
            "wall_s": round(wall, 3),
            "sections_s": {k: round(v, 3) for k, v in sorted(totals.items())},
            "unaccounted_s": round(wall - sum(totals.values()), 3),
            "reference_busy_s": round(self.reference_busy_s, 3),
            "reference_overlapped_s": round(max(0.0, self.reference_busy_s - wait), 3),
        }


def summary_line(report: dict) -> str:
    """One line: the biggest sections as shares of the wall time."""
    wall = report["wall_s"] or 1.0
    parts = sorted(report["sections_s"].items(), key=lambda kv: -kv[1])
    text = ", ".join(f"{k} {v:.0f} s ({100 * v / wall:.0f}%)" for k, v in parts[:6])
    return f"time {wall:.0f} s: {text}; unaccounted {report['unaccounted_s']:.0f} s"


def timed(name: str):
    """Method decorator: the call counts under `name` in self.ctx.budget."""

    def wrap(method):
        @functools.wraps(method)
        def inner(self, *args, **kwargs):
            with self.ctx.budget.section(name):
                return method(self, *args, **kwargs)

        return inner

    return wrap
