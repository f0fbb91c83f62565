"""Root config schema and its registration in Hydra's ConfigStore.

The command line (pax/cli.py) turns the composed DictConfig into PaxConfig.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from omegaconf import MISSING, OmegaConf

from pax.al.config import ALConfig
from pax.cluster.config import ClusterConfig, LocalClusterConfig, SlurmClusterConfig
from pax.dft import METHODS
from pax.dft.config import DFTConfig
from pax.errors import ConfigError
from pax.md.config import MDConfig
from pax.mlff.config import MLFFConfig
from pax.system.config import SystemConfig


class WandbMode(str, Enum):
    """Weights & Biases modes."""

    offline = "offline"
    online = "online"
    disabled = "disabled"


@dataclass
class WandbConfig:
    """Weights & Biases run settings (one W&B run per Hydra job)."""

    mode: WandbMode = WandbMode.offline
    """offline (sync later with `wandb sync`), online, or disabled."""
    project: str = "pax"
    """W&B project."""
    entity: str | None = None
    """W&B team or user; None takes your default."""
    name: str | None = None
    """Run name; None takes the run directory's name."""
    group: str | None = None
    """Run group; None takes the sweep's name under -m."""
    tags: list[str] = field(default_factory=list)
    """Tags shown in the W&B table."""
    notes: str = ""
    """Free text shown with the run."""
    log_model: bool = False
    """Upload the final model files as an artifact."""
    init_timeout_s: float = 60.0
    """Give up on W&B (and keep only the files) if starting it takes longer (s)."""

    def __post_init__(self) -> None:
        if self.init_timeout_s <= 0:
            raise ConfigError(
                "wandb.init_timeout_s", self.init_timeout_s, "must be > 0"
            )


@dataclass
class RunConfig:
    """How this invocation behaves (not science; excluded from directory names)."""

    name: str = "default"
    """Experiment name: runs live in outputs/<name>/<overrides>."""
    dry: bool = False
    """Validate, print the plan and exit without computing."""
    resume: bool = True
    """Resume when the run directory holds a saved state."""
    force: bool = False
    """Resume even when the saved config differs from this one."""
    torch_threads: int = 0
    """Torch threads of the main process; 0 takes the cores the local workers leave."""
    test_set: str | None = None
    """Optional extxyz test set (REF_energy, REF_forces): tracked during the run
    and evaluated with the final model; never used for training or stopping."""
    initial_dataset: str | None = None
    """pax-al without an IDG: extxyz frames with REF_energy/REF_forces to start from."""
    initial_ensemble: str | None = None
    """pax-al without an IDG: a pax ensemble checkpoint (state/ensemble.pt)."""
    test_every_labels: int = 10
    """Evaluate the test set each time this many new labels have arrived; 0: only
    the final model."""

    def __post_init__(self) -> None:
        if self.test_every_labels < 0:
            raise ConfigError(
                "run.test_every_labels",
                self.test_every_labels,
                "must be >= 0 (0: only the final model)",
            )


@dataclass
class PaxConfig:
    """Everything one pax run needs."""

    system: SystemConfig = MISSING
    dft: Any = MISSING
    mlff: MLFFConfig = MISSING
    md: MDConfig = MISSING
    cluster: Any = MISSING
    al: ALConfig = MISSING
    wandb: WandbConfig = field(default_factory=WandbConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.dft, DFTConfig):
            raise ConfigError(
                "dft",
                type(self.dft).__name__,
                f"pick a preset: dft={'|'.join(METHODS)}",
            )
        if not isinstance(self.cluster, ClusterConfig):
            raise ConfigError(
                "cluster",
                type(self.cluster).__name__,
                f"pick a preset: cluster={'|'.join(CLUSTER_SCHEMAS)}",
            )
        self.al.idg.sampler_steps(self.md.timestep_fs)  # refuses a sub-step interval
        if self.dft.charge is None:
            self.dft.charge = self.system.charge
        if self.dft.multiplicity is None:
            self.dft.multiplicity = self.system.multiplicity
        if not self.dft.periodic_ok:
            from pax.system.geometry import load_systems

            if any(a.pbc.any() for a in load_systems(self.system)):
                raise ConfigError(
                    "dft",
                    self.dft.kind,
                    f"refuses periodic systems ({self.system.geometry})",
                )


CLUSTER_SCHEMAS = {c.kind: c for c in (LocalClusterConfig, SlurmClusterConfig)}


def register_configs() -> None:
    """Register the root and every group schema in Hydra's ConfigStore."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="pax_schema", node=PaxConfig)
    cs.store(group="system", name="system_schema", node=SystemConfig)
    cs.store(group="mlff", name="mlff_schema", node=MLFFConfig)
    cs.store(group="md", name="md_schema", node=MDConfig)
    cs.store(group="al", name="al_schema", node=ALConfig)
    for kind, method in METHODS.items():
        cs.store(group="dft", name=f"{kind}_schema", node=method.schema)
    for kind, schema in CLUSTER_SCHEMAS.items():
        cs.store(group="cluster", name=f"{kind}_schema", node=schema)
    register_resolvers()


def register_resolvers() -> None:
    """Resolvers used by conf/config.yaml (safe to call twice)."""
    if not OmegaConf.has_resolver("pax_dirname"):
        OmegaConf.register_new_resolver("pax_dirname", dirname_from_overrides)


def dirname_from_overrides(override_dirname: str) -> str:
    """A run directory name from Hydra's override_dirname ('default' when empty)."""
    name = re.sub(r"[^A-Za-z0-9_.,=+\-]", "_", override_dirname or "")
    return name[:200] or "default"


def as_dict(obj: Any) -> dict:
    """A dataclass config as a plain, JSON-friendly dict (Enums as values)."""

    def convert(value: Any) -> Any:
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        return value

    return convert(dataclasses.asdict(obj))


def to_run_config(cfg) -> PaxConfig:
    """Build the validated dataclasses; ConfigError names the bad key."""
    try:
        obj = OmegaConf.to_object(cfg)
    except ConfigError:
        raise
    except Exception as exc:  # OmegaConf wraps errors raised in __post_init__
        cause = exc.__cause__ or exc.__context__
        while cause is not None and not isinstance(cause, ConfigError):
            cause = cause.__cause__ or cause.__context__
        if cause is not None:
            raise cause from None
        raise
    return obj


def compose(overrides: list[str]) -> PaxConfig:
    """The PaxConfig of pax's presets with these Hydra overrides (no Hydra run)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from pax.paths import CONF_DIR

    register_configs()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        return to_run_config(hydra_compose(config_name="config", overrides=overrides))
