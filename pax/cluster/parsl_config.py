"""The Parsl configuration for a run: local worker processes or Slurm blocks."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.jobs.error_handlers import windowed_error_handler
from parsl.launchers import SingleNodeLauncher, SrunLauncher
from parsl.providers import LocalProvider, SlurmProvider

from pax.cluster.config import ClusterConfig, LocalClusterConfig, SlurmClusterConfig
from pax.cluster.slurm import slurm_partitions
from pax.errors import ConfigError


class PollingSlurmProvider(SlurmProvider):
    """SlurmProvider that polls Slurm every `poll_interval_s` seconds.

    Parsl's SlurmProvider polls every 60 s (a hard-coded property), so a
    cancelled block would be replaced only a minute later.
    """

    def __init__(self, *args, poll_interval_s: int = 5, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._poll_interval_s = poll_interval_s

    @property
    def status_polling_interval(self) -> int:
        """Seconds between two squeue/sacct polls."""
        return self._poll_interval_s


def run_label(run_dir: Path) -> str:
    """The executor label of a run: 'pax-' and a hash of its directory.

    Parsl names every Slurm job 'parsl.<label>.block-<n>.<time>', so the label
    finds the jobs of one run in squeue.
    """
    digest = hashlib.sha1(str(Path(run_dir).resolve()).encode()).hexdigest()[:10]
    return f"pax-{digest}"


def make_parsl_config(cfg: ClusterConfig, run_dir: Path) -> Config:
    """A Parsl Config that runs reference calculations as `cfg` says.

    Args:
        cfg: the `cluster` group (local or slurm).
        run_dir: the run directory; Parsl's own files go to run_dir/parsl.

    Returns:
        A Config with one HighThroughputExecutor labelled `run_label(run_dir)`.

    Raises:
        ConfigError: naming the key, when the machine cannot honour the config
            (no sbatch on PATH, an unknown Slurm partition, too few cores).
    """
    put_env_on_path()
    run_dir = Path(run_dir).resolve()
    if isinstance(cfg, SlurmClusterConfig):
        executor = _slurm_executor(cfg, run_dir)
    elif isinstance(cfg, LocalClusterConfig):
        executor = _local_executor(cfg, run_dir)
    else:
        raise ConfigError("cluster", type(cfg).__name__, "pick cluster=local|slurm")
    return Config(
        executors=[executor],
        run_dir=str(run_dir / "parsl"),
        retries=cfg.retries,
        strategy="simple",
        strategy_period=cfg.strategy_period_s,
        max_idletime=getattr(cfg, "max_idletime_s", 120.0),
        usage_tracking=0,
    )


def put_env_on_path() -> None:
    """Put this Python environment's bin/ first on PATH.

    Local workers run `process_worker_pool.py` by name, found on PATH even
    when the environment was not activated (e.g. `.venv/bin/pax ...`).
    """
    env_bin = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[0] != env_bin:
        os.environ["PATH"] = env_bin + os.pathsep + path


def thread_exports(cores_per_worker: int) -> str:
    """Shell line giving each worker `cores_per_worker` OpenMP/MKL threads."""
    n = int(cores_per_worker)
    return f"export OMP_NUM_THREADS={n} MKL_NUM_THREADS={n} OPENBLAS_NUM_THREADS={n}"


def _htex_common(cfg: ClusterConfig, run_dir: Path) -> dict:
    return {
        "label": run_label(run_dir),
        "cores_per_worker": float(cfg.cores_per_worker),
        "heartbeat_period": int(cfg.heartbeat_period_s),
        "heartbeat_threshold": int(cfg.heartbeat_threshold_s),
        "worker_logdir_root": str(run_dir / "parsl" / "workers"),
        "interchange_launch_cmd": interchange_command(),
    }


def interchange_command() -> list[str]:
    """Parsl's interchange, started so that it ends when this process dies."""
    return [sys.executable, "-m", "pax.cluster.interchange", str(os.getpid())]


def local_workers(cfg: LocalClusterConfig) -> int:
    """Workers a local pool runs: max_workers, at most cores // cores_per_worker."""
    return min(cfg.max_workers, (os.cpu_count() or 1) // cfg.cores_per_worker)


def kill_leftovers(run_dir: Path, wait_s: float = 10.0) -> list[int]:
    """Kill the Parsl processes of this run still alive, and wait until they are dead.

    After a SIGKILL of pax alone (the OOM killer, `kill -9 PID`) its interchange
    and blocks end by themselves (pax.cluster.interchange), but only seconds
    later, and a rerun may come first; after a clean shutdown the worker pools
    may still be exiting. Interchanges are found by
    their log under run_dir/parsl, worker pools by their log folder. A process
    counts as dead once it is a zombie: its reaping is up to its parent.

    Returns:
        The process ids killed.
    """
    import psutil

    parsl_dir = str(Path(run_dir).resolve() / "parsl") + os.sep
    marker = f"--logdir={parsl_dir}workers{os.sep}"
    killed: list[psutil.Process] = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        try:
            ours = any(part.startswith(marker) for part in cmdline) or (
                cmdline[:1] == ["parsl: HTEX interchange"]
                and any(f.path.startswith(parsl_dir) for f in proc.open_files())
            )
            if ours:
                for member in [*proc.children(recursive=True), proc]:
                    member.kill()
                    killed.append(member)
        except psutil.Error:
            continue
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and any(_alive(p) for p in killed):
        time.sleep(0.05)
    return [p.pid for p in killed]


def _alive(proc) -> bool:
    import psutil

    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:  # gone
        return False


def _local_executor(cfg: LocalClusterConfig, run_dir: Path) -> HighThroughputExecutor:
    if local_workers(cfg) < 1:
        raise ConfigError(
            "cluster.cores_per_worker",
            cfg.cores_per_worker,
            f"this machine has only {os.cpu_count()} cores",
        )
    provider = LocalProvider(
        init_blocks=1,
        min_blocks=1,
        max_blocks=1,
        worker_init=thread_exports(cfg.cores_per_worker),
    )
    return HighThroughputExecutor(
        provider=provider,
        address="127.0.0.1",
        max_workers_per_node=cfg.max_workers,
        # A killed worker pool is replaced; only 3 failed blocks in a row are fatal
        # (Parsl's default gives up when the one local block fails).
        block_error_handler=windowed_error_handler,
        **_htex_common(cfg, run_dir),
    )


def _slurm_executor(cfg: SlurmClusterConfig, run_dir: Path) -> HighThroughputExecutor:
    check_slurm(cfg)
    provider = PollingSlurmProvider(
        partition=cfg.partition,
        account=cfg.account,
        qos=cfg.qos,
        nodes_per_block=cfg.nodes_per_block,
        cores_per_node=cfg.workers_per_node * cfg.cores_per_worker,
        mem_per_node=cfg.mem_per_node_GB,
        init_blocks=cfg.init_blocks,
        min_blocks=cfg.min_blocks,
        max_blocks=cfg.max_blocks,
        parallelism=cfg.parallelism,
        walltime=cfg.walltime,
        scheduler_options=scheduler_lines(cfg.scheduler_options),
        worker_init=slurm_worker_init(cfg),
        exclusive=cfg.exclusive,
        launcher=SrunLauncher() if cfg.launcher == "srun" else SingleNodeLauncher(),
        cmd_timeout=cfg.cmd_timeout_s,
        poll_interval_s=cfg.poll_interval_s,
    )
    return HighThroughputExecutor(
        provider=provider,
        address=cfg.address,
        max_workers_per_node=cfg.workers_per_node,
        **_htex_common(cfg, run_dir),
    )


def scheduler_lines(options: list[str]) -> str:
    """Extra batch-script lines; a bare option ('--constraint=cpu') gets '#SBATCH '."""
    lines = []
    for option in options:
        option = option.strip()
        if option:
            lines.append(option if option.startswith("#") else f"#SBATCH {option}")
    return "\n".join(lines)


def slurm_worker_init(cfg: SlurmClusterConfig) -> str:
    """The block's setup: the user's lines, then pax's environment and threads."""
    lines = [cfg.worker_init.strip()] if cfg.worker_init.strip() else []
    if cfg.activate_env:
        activate = Path(sys.prefix) / "bin" / "activate"
        if activate.is_file():
            lines.append(f"source {activate}")
        lines.append(f"export PATH={Path(sys.executable).parent}:$PATH")
    lines.append(thread_exports(cfg.cores_per_worker))
    return "\n".join(lines)


def check_slurm(cfg: SlurmClusterConfig) -> None:
    """Fail early, naming the key, when Slurm cannot take this config's blocks.

    Raises:
        ConfigError: no sbatch on PATH (key `cluster`), or a partition Slurm
            does not know (key `cluster.partition`).
    """
    if shutil.which("sbatch") is None:
        raise ConfigError(
            "cluster", "slurm", "sbatch is not on PATH: is this a Slurm login node?"
        )
    if cfg.partition is None:
        return
    known = slurm_partitions(cfg.cmd_timeout_s)
    if known is not None and cfg.partition not in known:
        raise ConfigError(
            "cluster.partition",
            cfg.partition,
            f"Slurm has no such partition (known: {', '.join(sorted(known))})",
        )
