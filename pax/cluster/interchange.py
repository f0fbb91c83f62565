"""Parsl's HTEX interchange, ended when the pax process that started it dies.

Parsl's interchange never looks at its parent: after a SIGKILL of pax alone
(the OOM killer, `kill -9 PID`) it runs on, and the worker pools that
heartbeat to it run on too: a local block holds its cores, a Slurm block its
allocation until the walltime. pax starts the interchange through this module
(`python -m pax.cluster.interchange PID`), which runs Parsl's own interchange
and exits within PARENT_POLL_S once PID is no longer its parent; the worker
pools then miss its heartbeats and exit after cluster.heartbeat_threshold_s.
"""

from __future__ import annotations

import os
import runpy
import sys
import threading
import time

PARENT_POLL_S = 1.0
"""Seconds between two checks of the parent process."""


def exit_when_orphaned(parent: int, poll_s: float = PARENT_POLL_S) -> None:
    """Block while `parent` is this process's parent, then end the process."""
    while os.getppid() == parent:
        time.sleep(poll_s)
    os._exit(0)


def main() -> None:
    """Run Parsl's interchange under a watch on the pid given as argument."""
    parent = int(sys.argv[1])
    threading.Thread(target=exit_when_orphaned, args=(parent,), daemon=True).start()
    runpy.run_module("parsl.executors.high_throughput.interchange", run_name="__main__")


if __name__ == "__main__":
    main()
