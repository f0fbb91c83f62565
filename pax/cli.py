"""Command-line entry points; the only module that sees Hydra's DictConfig.

Hydra composes the config and runs the jobs; this module turns the composed
DictConfig into PaxConfig dataclasses and reports user errors as one line.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from pax.config import register_configs, to_run_config
from pax.errors import PaxError
from pax.paths import CONF_DIR

log = logging.getLogger(__name__)

register_configs()

T = TypeVar("T")

_USER_FULL_ERROR = "PAX_USER_HYDRA_FULL_ERROR"
"""HYDRA_FULL_ERROR as the user set it, before pax set it (jobs inherit both)."""


def resolved_yaml(cfg: DictConfig) -> str:
    """The resolved config as YAML, with secrets dropped."""
    text = OmegaConf.to_yaml(cfg, resolve=True)
    key = os.environ.get("WANDB_API_KEY")
    return text.replace(key, "***") if key else text


def one_line_error(exc: BaseException) -> str | None:
    """A one-line message for a user error, or None for a bug (show the traceback)."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(exc, PaxError):
        return str(exc)
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    for err in chain:
        if isinstance(err, PaxError):
            return str(err)
    for err in chain:  # e.g. Hydra cannot create hydra.run.dir
        if isinstance(err, PermissionError | NotADirectoryError | FileExistsError) or (
            isinstance(err, OSError) and err.errno == errno.EROFS
        ):
            return f"{err.filename} is not writable ({err.strerror})"
    for err in chain:
        if isinstance(err, OmegaConfBaseException):
            key = getattr(err, "full_key", None) or ""
            msg = str(getattr(err, "msg", None) or err).splitlines()[0]
            value = getattr(err, "value", None)
            shown = f"{key}={value!r}" if key and value is not None else key
            if "not in struct" in msg:
                msg = "unknown key (check spelling; `pax --cfg job` lists the keys)"
            return f"{shown}: {msg}" if shown else msg
    if isinstance(exc, HydraException):
        text = str(exc).split("Config search path")[0]
        words = [w for w in text.split() if not w.endswith("_schema")]
        return " ".join(words)
    return None


def _traceback_wanted() -> bool:
    """Whether the user set HYDRA_FULL_ERROR=1: tracebacks instead of one line."""
    return os.environ.get(_USER_FULL_ERROR, os.environ.get("HYDRA_FULL_ERROR")) == "1"


def _exit_on_user_error(func: Callable[[], T]) -> T:
    """Run func; a user error ends as one line on stderr and exit code 2."""
    try:
        return func()
    except Exception as exc:
        message = None if _traceback_wanted() else one_line_error(exc)
        if message is None:
            raise
        sys.stderr.write(f"pax: error: {message}\n")
        sys.exit(2)


def _run_hydra(hydra_main: Callable[[], object]) -> None:
    """Run a Hydra entry point with pax's one-line errors.

    Hydra prints its own multi-line report of an error unless HYDRA_FULL_ERROR=1,
    in which case it re-raises: pax sets it and reports errors itself.
    """
    os.environ.setdefault(_USER_FULL_ERROR, os.environ.get("HYDRA_FULL_ERROR", ""))
    os.environ["HYDRA_FULL_ERROR"] = "1"
    _exit_on_user_error(hydra_main)


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _job(cfg: DictConfig, stage: str) -> float | None:
    # User errors leave as SystemExit, which Hydra's job runner does not catch:
    # a sweep stops at its first bad job, and a Slurm job's log says why in a line.
    # SIGTERM (scancel, kill) unwinds like Ctrl-C, so the reference pool closes
    # its Parsl workers and Slurm blocks; finished labels are in the ledger.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return _exit_on_user_error(lambda: _run_job(cfg, stage))
    except KeyboardInterrupt:
        sys.stderr.write("pax: interrupted; rerun the same command to resume\n")
        sys.exit(130)


def _run_job(cfg: DictConfig, stage: str) -> float | None:
    from pax.run import run

    for noisy in ("matplotlib", "wandb", "urllib3", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Parsl sets its logger to DEBUG and writes its own log under the run dir;
    # keep that out of the console.
    logging.getLogger("parsl").propagate = False
    run_cfg = to_run_config(cfg)
    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    sweep = OmegaConf.select(hc, "job.num", default=None) is not None
    group = Path(hc.sweep.dir).name if sweep else None
    return run(
        run_cfg,
        run_dir=run_dir,
        stage=stage,
        resolved_config=resolved_yaml(cfg),
        sweep_group=group,
    )


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def _main_all(cfg: DictConfig) -> float | None:
    return _job(cfg, "all")


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def _main_idg(cfg: DictConfig) -> float | None:
    return _job(cfg, "idg")


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def _main_al(cfg: DictConfig) -> float | None:
    return _job(cfg, "al")


def main() -> None:
    """`pax`: the whole run, initial dataset generation then active learning."""
    if sys.argv[1:] == ["--version"]:
        from pax.provenance import version_line

        print(version_line())
        return
    _run_hydra(_main_all)


def main_idg() -> None:
    """`pax-idg`: initial dataset generation only."""
    _run_hydra(_main_idg)


def main_al() -> None:
    """`pax-al`: active learning from a finished IDG in the same run directory."""
    _run_hydra(_main_al)


def main_eval() -> None:
    """`pax-eval MODEL_OR_RUN_DIR TEST.extxyz`: errors and parity plots."""
    from pax.mlff.evaluate import main as eval_main

    _exit_on_user_error(eval_main)


def main_relabel() -> None:
    """`pax-relabel DATA dft=... cluster=...`: recompute a set's labels, resumably."""
    from pax.relabel import main as relabel_main

    _exit_on_user_error(relabel_main)


def main_compare() -> None:
    """`pax-compare DIR...`: compare runs or sweeps from their metrics files."""
    from pax.tracking.compare import main as compare_main

    _exit_on_user_error(compare_main)
