"""What Slurm says: its partitions, and the jobs of a run (named by its label)."""

from __future__ import annotations

import getpass
import logging
import shutil
import subprocess

log = logging.getLogger(__name__)

_ENDING = {"CG", "CD", "CA", "F", "TO", "NF", "PR", "OOM", "BF", "DL"}
"""squeue state codes of jobs that are finishing or over (completing, cancelled...)."""


def jobs_of_run(label: str, timeout_s: float = 30) -> list[str]:
    """Ids of this user's live Slurm jobs that Parsl started for executor `label`.

    Parsl names a block's job 'parsl.<label>.block-<n>.<time>'.
    """
    return [
        job for job, state, _ in job_states(label, timeout_s) if state not in _ENDING
    ]


def job_states(label: str, timeout_s: float = 30) -> list[tuple[str, str, str]]:
    """(id, squeue state code, reason) of each queued job of executor `label`."""
    if shutil.which("squeue") is None:
        return []
    out = _stdout(
        ["squeue", "-h", "-u", getpass.getuser(), "-o", "%i|%t|%r|%j"],
        timeout_s,
        f"squeue failed; cannot list the jobs of {label}",
    )
    if out is None:
        return []
    prefix = f"parsl.{label}."
    rows = (line.split("|", maxsplit=3) for line in out.splitlines())
    return [
        (row[0], row[1], row[2])
        for row in rows
        if len(row) == 4 and row[3].startswith(prefix)
    ]


def cancel_jobs_of_run(label: str, timeout_s: float = 30) -> list[str]:
    """Cancel (scancel) every job of executor `label`; returns the ids it cancelled."""
    ids = jobs_of_run(label, timeout_s)
    if ids:
        log.info("cancelling Slurm jobs of %s: %s", label, " ".join(ids))
        try:
            subprocess.run(["scancel", *ids], timeout=timeout_s, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            log.error("scancel %s failed: %s", " ".join(ids), exc)
    return ids


def slurm_partitions(timeout_s: float) -> set[str] | None:
    """Names of the partitions Slurm reports, or None when sinfo cannot tell."""
    out = _stdout(
        ["sinfo", "-h", "-o", "%R"],
        timeout_s,
        "could not list Slurm partitions; not checking cluster.partition",
    )
    if out is None:
        return None
    return {line.strip() for line in out.splitlines() if line.strip()}


def _stdout(command: list[str], timeout_s: float, failure: str) -> str | None:
    """The standard output of a Slurm command; None (and a warning) when it fails."""
    try:
        return subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("%s (%s)", failure, exc)
        return None
