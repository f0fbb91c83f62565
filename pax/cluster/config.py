"""Schemas of the `cluster` group: where reference calculations run (Parsl)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

from pax.errors import ConfigError

_WALLTIME = re.compile(r"(\d+-)?\d{1,3}:\d{2}:\d{2}")


@dataclass
class ClusterConfig:
    """Settings shared by every executor."""

    kind: ClassVar[str] = ""

    cores_per_worker: int = 1
    """Cores (and OpenMP threads) given to each reference worker."""
    retries: int = 2
    """Times a task that failed by worker loss is run again."""
    task_walltime_s: float = 0.0
    """Parsl-side limit of one task (s); 0 leaves it to dft.timeout_s."""
    heartbeat_period_s: int = 2
    """Worker heartbeat period (s)."""
    heartbeat_threshold_s: int = 10
    """Workers silent this long are declared lost and their tasks retried (s)."""
    strategy_period_s: float = 2.0
    """How often Parsl decides whether to start or stop blocks (s)."""
    no_worker_warning_s: float = 300.0
    """Warn (and repeat) when labels wait this long with no worker connected,
    naming the run's Slurm jobs and why they wait (s); 0 turns it off."""

    def __post_init__(self) -> None:
        if self.cores_per_worker < 1:
            raise ConfigError(
                "cluster.cores_per_worker", self.cores_per_worker, "must be >= 1"
            )
        if self.retries < 0:
            raise ConfigError("cluster.retries", self.retries, "must be >= 0")
        if self.heartbeat_threshold_s <= self.heartbeat_period_s:
            raise ConfigError(
                "cluster.heartbeat_threshold_s",
                self.heartbeat_threshold_s,
                "must exceed cluster.heartbeat_period_s",
            )
        if self.task_walltime_s < 0:
            raise ConfigError(
                "cluster.task_walltime_s", self.task_walltime_s, "must be >= 0"
            )
        if self.no_worker_warning_s < 0:
            raise ConfigError(
                "cluster.no_worker_warning_s", self.no_worker_warning_s, "must be >= 0"
            )
        if self.strategy_period_s <= 0:
            raise ConfigError(
                "cluster.strategy_period_s", self.strategy_period_s, "must be > 0"
            )


@dataclass
class LocalClusterConfig(ClusterConfig):
    """Worker processes on this machine."""

    kind: ClassVar[str] = "local"

    max_workers: int = 1
    """Reference calculations running at once."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_workers < 1:
            raise ConfigError("cluster.max_workers", self.max_workers, "must be >= 1")

    @property
    def planned_workers(self) -> int:
        """Reference workers this config asks for at most (count)."""
        return self.max_workers


@dataclass
class SlurmClusterConfig(ClusterConfig):
    """Slurm blocks started and scaled by Parsl."""

    kind: ClassVar[str] = "slurm"

    partition: str | None = None
    """Slurm partition (None: the cluster default)."""
    account: str | None = None
    """Slurm account to charge."""
    qos: str | None = None
    """Slurm quality of service."""
    walltime: str = "01:00:00"
    """Walltime of each block (HH:MM:SS)."""
    nodes_per_block: int = 1
    """Nodes in each block."""
    workers_per_node: int = 1
    """Reference workers per node."""
    mem_per_node_GB: int | None = None
    """Memory per node (GB); None leaves Slurm's default."""
    init_blocks: int = 1
    """Blocks requested at start."""
    min_blocks: int = 0
    """Blocks kept even when idle."""
    max_blocks: int = 1
    """Upper limit of blocks."""
    parallelism: float = 1.0
    """Parsl's ratio of blocks to outstanding tasks (0-1)."""
    exclusive: bool = True
    """Request nodes exclusively."""
    scheduler_options: list[str] = field(default_factory=list)
    """Extra '#SBATCH ...' lines."""
    worker_init: str = ""
    """Shell lines run before workers start (module loads); pax's env comes after."""
    launcher: str = "srun"
    """How workers start on the block's nodes: srun or single_node."""
    activate_env: bool = True
    """Activate the Python environment pax runs in after worker_init (on PATH)."""
    address: str | None = None
    """Address workers use to reach this host; None tries every interface."""
    poll_interval_s: int = 5
    """How often Parsl polls Slurm for block states (s); Parsl's default is 60."""
    cmd_timeout_s: int = 30
    """Timeout of sbatch/squeue/scancel calls (s)."""
    max_idletime_s: float = 120.0
    """Idle blocks above min_blocks are released after this long (s)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_blocks < self.min_blocks:
            raise ConfigError(
                "cluster.max_blocks",
                self.max_blocks,
                f"must be >= cluster.min_blocks ({self.min_blocks})",
            )
        if not self.min_blocks <= self.init_blocks <= self.max_blocks:
            raise ConfigError(
                "cluster.init_blocks",
                self.init_blocks,
                "must lie in [min_blocks, max_blocks]",
            )
        if self.nodes_per_block < 1:
            raise ConfigError(
                "cluster.nodes_per_block", self.nodes_per_block, "must be >= 1"
            )
        if self.workers_per_node < 1:
            raise ConfigError(
                "cluster.workers_per_node", self.workers_per_node, "must be >= 1"
            )
        if self.launcher not in ("srun", "single_node"):
            raise ConfigError(
                "cluster.launcher", self.launcher, "must be srun or single_node"
            )
        if not 0 < self.parallelism <= 1:
            raise ConfigError(
                "cluster.parallelism", self.parallelism, "must be in (0, 1]"
            )
        if self.max_blocks < 1:
            raise ConfigError("cluster.max_blocks", self.max_blocks, "must be >= 1")
        if self.poll_interval_s < 1:
            raise ConfigError(
                "cluster.poll_interval_s", self.poll_interval_s, "must be >= 1"
            )
        if not _WALLTIME.fullmatch(self.walltime):
            raise ConfigError(
                "cluster.walltime",
                self.walltime,
                "must look like HH:MM:SS or D-HH:MM:SS",
            )

    @property
    def planned_workers(self) -> int:
        """Reference workers this config asks for at most (count)."""
        return self.max_blocks * self.nodes_per_block * self.workers_per_node
