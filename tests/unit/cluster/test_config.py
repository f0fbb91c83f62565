"""The cluster schemas reject bad values with the key in the message."""

import pytest

from pax.cluster.config import LocalClusterConfig, SlurmClusterConfig
from pax.errors import ConfigError
from tests.conftest import build


@pytest.mark.parametrize(
    ("cls", "kwargs", "key"),
    [
        (LocalClusterConfig, {"max_workers": 0}, "cluster.max_workers"),
        (LocalClusterConfig, {"cores_per_worker": 0}, "cluster.cores_per_worker"),
        (LocalClusterConfig, {"retries": -1}, "cluster.retries"),
        (LocalClusterConfig, {"task_walltime_s": -1}, "cluster.task_walltime_s"),
        (LocalClusterConfig, {"strategy_period_s": 0}, "cluster.strategy_period_s"),
        (
            LocalClusterConfig,
            {"heartbeat_period_s": 5, "heartbeat_threshold_s": 5},
            "cluster.heartbeat_threshold_s",
        ),
        (SlurmClusterConfig, {"walltime": "1h"}, "cluster.walltime"),
        (
            LocalClusterConfig,
            {"no_worker_warning_s": -1},
            "cluster.no_worker_warning_s",
        ),
        (SlurmClusterConfig, {"max_blocks": 0, "init_blocks": 0}, "cluster.max_blocks"),
        (SlurmClusterConfig, {"min_blocks": 2, "max_blocks": 1}, "cluster.max_blocks"),
        (
            SlurmClusterConfig,
            {"init_blocks": 3, "max_blocks": 2},
            "cluster.init_blocks",
        ),
        (SlurmClusterConfig, {"workers_per_node": 0}, "cluster.workers_per_node"),
        (SlurmClusterConfig, {"launcher": "mpirun"}, "cluster.launcher"),
        (SlurmClusterConfig, {"parallelism": 0}, "cluster.parallelism"),
        (SlurmClusterConfig, {"poll_interval_s": 0}, "cluster.poll_interval_s"),
    ],
)
def test_bad_values_name_their_key(cls, kwargs, key):
    with pytest.raises(ConfigError) as info:
        cls(**kwargs)
    assert info.value.key == key
    assert key in str(info.value)


@pytest.mark.parametrize("walltime", ["00:10:00", "1-00:00:00", "120:00:00"])
def test_walltime_formats_accepted(walltime):
    assert SlurmClusterConfig(walltime=walltime).walltime == walltime


def test_planned_workers():
    assert LocalClusterConfig(max_workers=3).planned_workers == 3
    cfg = SlurmClusterConfig(max_blocks=4, nodes_per_block=2, workers_per_node=8)
    assert cfg.planned_workers == 64


def test_slurm_preset_reaches_the_dataclass():
    cfg = build(
        [
            "cluster=slurm",
            "cluster.partition=compute",
            "cluster.account=proj1",
            "cluster.walltime=04:00:00",
            "cluster.max_blocks=4",
            "cluster.worker_init='module load intel-oneapi-mpi'",
            "cluster.scheduler_options=['--constraint=cpu']",
        ]
    )
    c = cfg.cluster
    assert isinstance(c, SlurmClusterConfig)
    assert (c.partition, c.account, c.walltime, c.max_blocks) == (
        "compute",
        "proj1",
        "04:00:00",
        4,
    )
    assert c.worker_init == "module load intel-oneapi-mpi"
    assert c.scheduler_options == ["--constraint=cpu"]
