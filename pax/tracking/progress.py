"""Live progress of long work: a rich display on a terminal, log lines elsewhere.

Fields the workflow passes (all optional, numbers unless told):
  done, total   labels done of the labels planned (IDG) or wanted (AL);
                labels is taken as done when done is not given
  mae, target   current validation force MAE and the MAE that ends the phase (eV/Å)
  e_mae         current validation energy MAE (meV/atom)
  prospective_f_mae  mean force MAE of the last AL labels before training on them (eV/Å)
  n_train       training set size (labels)
  threshold     current uncertainty threshold (eV/Å)
  in_flight     labels being computed
Any other keyword is shown as key=value.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import IO, Any

log = logging.getLogger(__name__)

_UNITS = {"threshold": " eV/Å", "prospective_f_mae": " eV/Å"}


def describe(phase: str, fields: dict[str, Any]) -> str:
    """One line that shows a phase's progress fields.

    Args:
        phase: Phase name (idg, al, converge, ...).
        fields: Progress fields (see the module docstring).

    Returns:
        A line such as "idg: labels 40/100, F-MAE 0.312 (target 1.000) eV/Å,
        E-MAE 12.5 meV/atom".
    """
    parts = []
    done, total = fields.get("done"), fields.get("total")
    if done is not None:
        parts.append(f"labels {done}/{total}" if total else f"labels {done}")
    mae, target = fields.get("mae"), fields.get("target")
    if mae is not None:
        goal = f" (target {_fmt(target)})" if target is not None else ""
        parts.append(f"F-MAE {_fmt(mae)}{goal} eV/Å")
    if fields.get("e_mae") is not None:
        parts.append(f"E-MAE {_fmt(fields['e_mae'])} meV/atom")
    for key, value in fields.items():
        shown = ("done", "total", "mae", "target", "e_mae")
        if key not in shown and value is not None:
            parts.append(f"{key}={_fmt(value)}{_UNITS.get(key, '')}")
    return f"{phase}: " + ", ".join(parts)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.3e}"
    return str(value)


class ProgressDisplay:
    """Shows progress per phase; never raises into the run.

    On a terminal a rich progress bar per phase (refreshed at most every
    refresh_s); otherwise a log line per phase at most every interval_s, and
    always when a phase starts.
    """

    def __init__(
        self,
        interval_s: float = 30.0,
        stream: IO[str] | None = None,
        rich: bool | None = None,
        refresh_s: float = 0.25,
    ) -> None:
        """Pick the display.

        Args:
            interval_s: Least time between two plain log lines of one phase (s).
            stream: Where the rich display draws (default stderr).
            rich: Force (True) or refuse (False) the rich display; None: rich
                when the stream is a terminal.
            refresh_s: Least time between two redraws of the rich display (s).
        """
        self.interval_s = interval_s
        self.refresh_s = refresh_s
        self._stream = stream if stream is not None else sys.stderr
        if rich is None:
            rich = bool(getattr(self._stream, "isatty", lambda: False)())
        self._use_rich = rich
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        self._last_line: dict[str, float] = {}
        self._last_refresh = 0.0

    @property
    def is_rich(self) -> bool:
        """Whether the rich display is in use."""
        return self._use_rich

    def update(self, phase: str, **fields: Any) -> None:
        """Show the current state of a phase (see the module docstring for fields)."""
        if "done" not in fields and "labels" in fields:
            fields["done"] = fields.pop("labels")
        try:
            if self._use_rich:
                self._rich_update(phase, fields)
            else:
                self._plain_update(phase, fields)
        except Exception as exc:  # a display must never stop a run
            log.warning("progress display failed (%s); continuing without it", exc)
            self._use_rich = False

    def close(self) -> None:
        """Draw the last state and release the terminal."""
        if self._progress is not None:
            try:
                self._progress.refresh()
                self._progress.stop()
            except Exception as exc:
                log.debug("closing the progress display failed: %s", exc)
            self._progress = None

    def _plain_update(self, phase: str, fields: dict[str, Any]) -> None:
        now = time.monotonic()
        last = self._last_line.get(phase)
        if last is not None and now - last < self.interval_s:
            return
        self._last_line[phase] = now
        log.info("%s", describe(phase, fields))

    def _rich_update(self, phase: str, fields: dict[str, Any]) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        if self._progress is None:
            console = Console(file=self._stream, force_terminal=True)
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[info]}"),
                console=console,
                auto_refresh=False,
            )
            self._progress.start()
        info = describe(phase, fields).split(": ", 1)[1]
        done = fields.get("done", fields.get("n_train"))
        total = fields.get("total")
        if phase not in self._tasks:
            self._tasks[phase] = self._progress.add_task(phase, total=total, info=info)
        self._progress.update(
            self._tasks[phase], completed=done or 0, total=total, info=info
        )
        now = time.monotonic()
        if now - self._last_refresh >= self.refresh_s:
            self._last_refresh = now
            self._progress.refresh()
