"""FHI-aims as the reference: write inputs, run launch_str, parse aims.out."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

from ase import Atoms

from pax.dft.aims_io import OUTPUT_NAME, AimsConfig, read_output, write_inputs
from pax.dft.labelled import Labelled, finish

log = logging.getLogger(__name__)

_TERM_GRACE_S = 10.0  # after SIGTERM (srun forwards it to the tasks), then SIGKILL
_TAIL_LINES = 5


def label(atoms: Atoms, cfg: AimsConfig, workdir: str) -> Labelled:
    """Run FHI-aims on one geometry in its own folder under dft.calc_dir.

    Args:
        atoms: the geometry (Å); periodic cells need dft.k_grid and get stress.
        cfg: FHI-aims settings, with charge and multiplicity filled in.
        workdir: the run directory; a relative dft.calc_dir lives under it.

    Returns:
        The label. A launch that exits non-zero or is killed, dft.timeout_s, an
        unconverged SCF or an unreadable aims.out give a failed label; the
        folder is then kept (and named in info["calc_dir"]) for inspection.
    """
    start = time.perf_counter()
    base = Path(cfg.calc_dir)
    directory = (base if base.is_absolute() else Path(workdir) / base) / (
        f"calc_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    )
    result = _run(atoms, cfg, directory)
    result.info["calc_dir"] = str(directory)
    if result.ok and cfg.clean_dirs:
        shutil.rmtree(directory, ignore_errors=True)
    return finish(result, time.perf_counter() - start, len(atoms))


def _run(atoms: Atoms, cfg: AimsConfig, directory: Path) -> Labelled:
    try:
        directory.mkdir(parents=True)
        write_inputs(atoms, cfg, directory)
    except Exception as exc:  # noqa: BLE001 - a bad input is this label's failure
        return Labelled.failed(f"could not write FHI-aims inputs: {exc}")
    problem = _launch(cfg, directory)
    if problem:
        return Labelled.failed(f"{problem}; {_tail(directory)}")
    try:
        results = read_output(directory)
    except Exception as exc:  # noqa: BLE001 - unconverged or truncated output
        return Labelled.failed(
            f"could not read {OUTPUT_NAME}: {exc}; {_tail(directory)}"
        )
    stress = results.get("stress") if atoms.pbc.all() else None
    if atoms.pbc.all() and stress is None:
        return Labelled.failed(f"no stress tensor in {OUTPUT_NAME} for a periodic cell")
    return Labelled("ok", float(results["energy"]), results.get("forces"), stress)


def _launch(cfg: AimsConfig, directory: Path) -> str:
    """Run launch_str in directory; '' on success, else why it failed."""
    with open(directory / "launch.log", "wb") as log_file:
        proc = subprocess.Popen(
            cfg.launch_str,
            shell=True,
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as a whole
        )
        try:
            code = proc.wait(timeout=cfg.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return (
                f"timeout: FHI-aims still running after {cfg.timeout_s:g} s "
                "(dft.timeout_s), killed"
            )
    if code < 0:
        return f"launch_str killed by signal {-code} ({signal.Signals(-code).name})"
    if code != 0:
        return f"launch_str exited with code {code} ({cfg.launch_str!r})"
    if not (directory / OUTPUT_NAME).is_file():
        return (
            f"no {OUTPUT_NAME} written: launch_str must redirect FHI-aims' output to it"
        )
    return ""


def _kill_group(proc: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGTERM, _TERM_GRACE_S), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue
    log.warning("FHI-aims process group %d survived SIGKILL", proc.pid)


def _tail(directory: Path) -> str:
    for name in (OUTPUT_NAME, "launch.log"):
        path = directory / name
        if path.is_file() and path.stat().st_size:
            lines = path.read_text(errors="replace").strip().splitlines()[-_TAIL_LINES:]
            return f"last lines of {name}: " + " | ".join(
                line.strip() for line in lines
            )
    return "no output written"
