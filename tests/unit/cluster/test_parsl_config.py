"""make_parsl_config builds the executor the config describes (nothing started)."""

import sys
from pathlib import Path

import pytest

from pax.cluster import parsl_config
from pax.cluster.config import LocalClusterConfig, SlurmClusterConfig
from pax.cluster.parsl_config import (
    PollingSlurmProvider,
    make_parsl_config,
    run_label,
    scheduler_lines,
    slurm_worker_init,
)
from pax.errors import ConfigError


@pytest.fixture
def fake_slurm(monkeypatch):
    """Pretend sbatch exists and Slurm knows partitions 'debug' and 'compute'.

    A test double for the Slurm commands, so these unit tests run anywhere;
    tests/integration/test_slurm.py checks the same against a real Slurm.
    """
    monkeypatch.setattr(parsl_config.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(
        parsl_config, "slurm_partitions", lambda timeout_s: {"debug", "compute"}
    )


def test_run_label_is_stable_and_distinct(tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_label(a) == run_label(a) != run_label(b)
    assert run_label(a).startswith("pax-")


def test_local_config(tmp_path: Path):
    cfg = LocalClusterConfig(max_workers=2, cores_per_worker=1, retries=3)
    config = make_parsl_config(cfg, tmp_path)
    (executor,) = config.executors
    assert executor.label == run_label(tmp_path)
    assert executor.max_workers_per_node == 2
    assert "OMP_NUM_THREADS=1" in executor.provider.worker_init
    assert "MKL_NUM_THREADS=1" in executor.provider.worker_init
    assert config.retries == 3
    assert Path(config.run_dir) == tmp_path.resolve() / "parsl"
    assert executor.heartbeat_threshold == cfg.heartbeat_threshold_s
    # the interchange is started by name: this environment's bin/ leads PATH
    assert (
        str(Path(sys.executable).parent)
        == __import__("os").environ["PATH"].split(":")[0]
    )


def test_local_refuses_more_cores_than_the_machine(tmp_path: Path):
    with pytest.raises(ConfigError, match="cluster.cores_per_worker"):
        make_parsl_config(LocalClusterConfig(cores_per_worker=10_000), tmp_path)


def test_slurm_config(tmp_path: Path, fake_slurm):
    cfg = SlurmClusterConfig(
        partition="compute",
        account="proj1",
        walltime="02:00:00",
        workers_per_node=4,
        cores_per_worker=2,
        max_blocks=3,
        poll_interval_s=3,
        scheduler_options=["--constraint=cpu", "#SBATCH --gres=gpu:1"],
        worker_init="module load aims",
        launcher="single_node",
    )
    (executor,) = make_parsl_config(cfg, tmp_path).executors
    provider = executor.provider
    assert isinstance(provider, PollingSlurmProvider)
    assert provider.status_polling_interval == 3
    assert (provider.partition, provider.account, provider.walltime) == (
        "compute",
        "proj1",
        "02:00:00",
    )
    assert provider.max_blocks == 3 and provider.cores_per_node == 8
    assert executor.max_workers_per_node == 4
    assert "#SBATCH --constraint=cpu" in provider.scheduler_options
    assert "#SBATCH --gres=gpu:1" in provider.scheduler_options
    assert type(provider.launcher).__name__ == "SingleNodeLauncher"
    init = provider.worker_init
    assert init.index("module load aims") < init.index(str(Path(sys.executable).parent))
    assert "OMP_NUM_THREADS=2" in init


def test_worker_init_without_env_activation():
    cfg = SlurmClusterConfig(worker_init="source /opt/env.sh", activate_env=False)
    init = slurm_worker_init(cfg)
    assert init.splitlines()[0] == "source /opt/env.sh"
    assert sys.prefix not in init


def test_scheduler_lines():
    assert (
        scheduler_lines(["--mem=0", " ", "#SBATCH -C cpu"])
        == "#SBATCH --mem=0\n#SBATCH -C cpu"
    )


def test_unknown_partition_names_the_key(tmp_path: Path, fake_slurm):
    with pytest.raises(ConfigError) as info:
        make_parsl_config(SlurmClusterConfig(partition="nope"), tmp_path)
    assert info.value.key == "cluster.partition"
    assert "compute" in str(info.value) and "debug" in str(info.value)


def test_no_sbatch_is_a_clear_error(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(parsl_config.shutil, "which", lambda name: None)
    with pytest.raises(ConfigError, match="sbatch is not on PATH"):
        make_parsl_config(SlurmClusterConfig(), tmp_path)
