"""Ensemble checkpoints (full training state) and standard MACE model files."""

from __future__ import annotations

import dataclasses
import logging
from enum import Enum
from pathlib import Path

import torch

from pax.errors import PaxError
from pax.fileio import atomic_write
from pax.mlff.build import ModelStats, build_model
from pax.mlff.config import MLFFConfig

log = logging.getLogger(__name__)

FORMAT = 1
"""Checkpoint layout version."""


def config_to_dict(cfg) -> dict:
    """The config as plain values (Enums by value, nested dataclasses as dicts)."""
    return {f.name: _plain(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}


def _plain(value):
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value):
        return config_to_dict(value)
    return value


def config_from_dict(data: dict) -> MLFFConfig:
    """Inverse of config_to_dict (validated by MLFFConfig's checks)."""
    defaults = MLFFConfig()
    kwargs = {}
    for f in dataclasses.fields(MLFFConfig):
        if f.name not in data:
            continue
        default = getattr(defaults, f.name)
        value = data[f.name]
        kwargs[f.name] = type(default)(value) if isinstance(default, Enum) else value
    return MLFFConfig(**kwargs)


def save(ens, path: Path, keep_prev: bool = False) -> Path:
    """Models (re-fit E0s included), optimisers, schedulers, EMA, RNG and epoch.

    Also the fingerprints of the sets each member's energy offsets were fit on.
    With keep_prev the checkpoint replaced is kept as ``<name>.prev``.
    """
    state = {
        "format": FORMAT,
        "cfg": config_to_dict(ens.cfg),
        "stats": ens.stats.to_dict(),
        "epoch": ens.epoch,
        "last_valid": ens.last_valid,
        "offsets_fit_on": ens.offsets_fit_on,
        "members": [
            {
                "seed": m.seed,
                "model": m.model.state_dict(),
                "eval_model": m.eval_model.state_dict(),
                "optimizer": m.optimizer.state_dict(),
                "scheduler": m.scheduler.state_dict(),
                "ema": m.ema.state_dict() if m.ema is not None else None,
                "generator": m.generator.get_state(),
            }
            for m in ens.members
        ],
    }
    return atomic_write(path, lambda fh: torch.save(state, fh), keep_prev)


def load(cls, path: Path, device: str | None):
    """An Ensemble of class `cls` restored from a checkpoint written by `save`."""
    if not path.is_file():
        raise PaxError(f"no ensemble checkpoint at {path}")
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("format") != FORMAT:
        raise PaxError(f"{path}: unknown checkpoint format {state.get('format')!r}")
    cfg = config_from_dict(state["cfg"])
    ens = cls.from_stats(
        cfg,
        ModelStats.from_dict(state["stats"]),
        device if device is not None else cfg.device,
    )
    for member, saved in zip(ens.members, state["members"]):
        member.model.load_state_dict(saved["model"])
        member.eval_model.load_state_dict(saved["eval_model"])
        member.optimizer.load_state_dict(saved["optimizer"])
        member.scheduler.load_state_dict(saved["scheduler"])
        if member.ema is not None and saved["ema"] is not None:
            member.ema.load_state_dict(saved["ema"])
            member.ema.to(ens.device)
        member.generator.set_state(saved["generator"])
        member.seed = saved["seed"]
    ens.epoch = int(state["epoch"])
    ens.last_valid = list(state.get("last_valid", []))
    ens.offsets_fit_on = list(state.get("offsets_fit_on", ens.offsets_fit_on))
    return ens


def plain_model(cfg: MLFFConfig, stats: ModelStats, state: dict) -> torch.nn.Module:
    """A plain mace-torch module (no pax classes inside) with these weights, CPU."""
    if cfg.init.value == "finetune":
        from pax.mlff.foundation import plain_model as merged

        return merged(cfg, stats, state)
    model = build_model(cfg, stats, seed=0).eval()
    model.load_state_dict(state)
    return model.to("cpu")


def export(ens, directory: Path) -> list[Path]:
    """Write member_<k>.model (whole pickled MACE module on CPU) for each member."""
    paths = []
    for k, model in enumerate(ens.models):
        cpu = plain_model(ens.cfg, ens.stats, model.state_dict())
        path = directory / f"member_{k}.model"
        paths.append(atomic_write(path, lambda fh, m=cpu: torch.save(m, fh)))
    log.info("exported %d MACE models to %s", len(paths), directory)
    return paths
