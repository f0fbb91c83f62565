"""Shared test setup: quiet, offline, one thread per process, configs by overrides."""

import os

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def compose(overrides=(), config_name="config"):
    """The composed DictConfig for these overrides (Hydra's compose API)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from pax.config import register_configs

    register_configs()
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        return hydra_compose(config_name=config_name, overrides=list(overrides))


def build(overrides=()):
    """Validated PaxConfig dataclasses for these overrides."""
    from pax.config import compose as compose_config

    return compose_config(list(overrides))


@pytest.fixture
def pax_config():
    """Factory: pax_config(["al.c_x=0.1"]) -> PaxConfig."""
    return build


@pytest.fixture(autouse=True, scope="session")
def _torch_threads():
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
