"""Command-line entry points; the only module that sees Hydra's DictConfig."""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from pax.config import register_configs, resolved_yaml, to_run_config
from pax.errors import PaxError
from pax.paths import CONF_DIR

log = logging.getLogger(__name__)

register_configs()


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


def _run_and_report(func):
    """Replacement for Hydra's reporter: user errors as one line, exit code 2."""
    try:
        return func()
    except Exception as exc:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        message = one_line_error(exc)
        if message is None:
            raise
        sys.stderr.write(f"pax: error: {message}\n")
        sys.exit(2)


def _install_reporter() -> None:
    # Hydra prints multi-line reports for composition errors; pax promises one
    # line that names the key. _run_hydra looks this global up at call time.
    import hydra._internal.utils as hydra_utils

    hydra_utils.run_and_report = _run_and_report


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _job(cfg: DictConfig, stage: str) -> float | None:
    # User errors leave as SystemExit, which Hydra's job runner does not wrap
    # in its own multi-line report.
    # SIGTERM (scancel, kill) unwinds like Ctrl-C, so the reference pool closes
    # its Parsl workers and Slurm blocks; finished labels are in the ledger.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return _run_job(cfg, stage)
    except KeyboardInterrupt:
        sys.stderr.write("pax: interrupted; rerun the same command to resume\n")
        sys.exit(130)
    except PaxError as exc:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        sys.stderr.write(f"pax: error: {exc}\n")
        sys.exit(2)


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
    _install_reporter()
    _main_all()


def main_idg() -> None:
    """`pax-idg`: initial dataset generation only."""
    _install_reporter()
    _main_idg()


def main_al() -> None:
    """`pax-al`: active learning from a finished IDG in the same run directory."""
    _install_reporter()
    _main_al()


def _plain_main(func) -> None:
    try:
        func()
    except PaxError as exc:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        sys.stderr.write(f"pax: error: {exc}\n")
        sys.exit(2)


def main_eval() -> None:
    """`pax-eval MODEL_OR_RUN_DIR TEST.extxyz`: errors and parity plots."""
    from pax.mlff.evaluate import main as eval_main

    _plain_main(eval_main)


def main_compare() -> None:
    """`pax-compare DIR...`: compare runs or sweeps from their metrics files."""
    from pax.compare import main as compare_main

    _plain_main(compare_main)
