"""Members that start from a pretrained MACE (mlff.init=finetune).

Every member is a copy of the foundation model (its architecture, elements,
r_max, scale and shift); what is trained follows mlff.finetune.method:
naive (every weight), freeze (named blocks fixed) or lora (mace-torch's
low-rank adapters, merged into the weights when a member is exported, so
.model files stay plain mace-torch). The member's seed draws what differs
between members: the readout weights (naive, freeze) or the adapters (lora).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from pax.errors import ConfigError
from pax.mlff.build import DTYPES, ModelStats, build_model
from pax.mlff.config import E0Source, FinetuneMethod, MLFFConfig

log = logging.getLogger(__name__)

KEY = "mlff.foundation_model"


@functools.lru_cache(maxsize=2)
def _read(path: Path) -> torch.nn.Module:
    try:
        model = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a truncated file or another format
        raise ConfigError(KEY, str(path), f"cannot be read ({exc})") from None
    if not all(hasattr(model, a) for a in ("atomic_energies_fn", "readouts", "r_max")):
        raise ConfigError(KEY, str(path), "is not a MACE model file")
    return model


def load_foundation(cfg: MLFFConfig) -> torch.nn.Module:
    """A fresh copy of the foundation model, in cfg's precision, on the CPU."""
    from pax.dft.teacher import resolve_model

    path = resolve_model(cfg.foundation_model, key=KEY)
    model = copy.deepcopy(_read(path))
    return model.to(DTYPES[cfg.default_dtype.value])


def adapted_config(cfg: MLFFConfig) -> MLFFConfig:
    """The config with the foundation model's cutoff (the model is the architecture)."""
    r_max = float(_read_resolved(cfg).r_max)
    if r_max != cfg.r_max:
        log.info(
            "mlff.r_max=%.2f Å: the foundation model's (was %.2f)", r_max, cfg.r_max
        )
    return dataclasses.replace(cfg, r_max=r_max)


def _read_resolved(cfg: MLFFConfig) -> torch.nn.Module:
    from pax.dft.teacher import resolve_model

    return _read(resolve_model(cfg.foundation_model, key=KEY))


def foundation_stats(
    cfg: MLFFConfig, needed: Sequence[int], e0s: dict[int, float] | None
) -> ModelStats:
    """The foundation model's elements and statistics; E0s as mlff.e0s says.

    Args:
        cfg: the mlff config (init=finetune).
        needed: atomic numbers the data hold; each must be one the model knows.
        e0s: the reference's isolated-atom energies (eV), used unless
            mlff.e0s=foundation; None (least_squares) keeps the model's until
            pax's offset re-fit on the data.
    """
    model = _read_resolved(cfg)
    zs = [int(z) for z in model.atomic_numbers]
    missing = sorted(set(int(z) for z in needed) - set(zs))
    if missing:
        raise ConfigError(
            KEY, cfg.foundation_model, f"knows elements {zs}, not {missing}"
        )
    own = model.atomic_energies_fn.atomic_energies.detach().double().reshape(-1)
    energies = {z: float(own[i]) for i, z in enumerate(zs)}
    if e0s is not None and cfg.e0s != E0Source.foundation:
        energies.update(
            {int(z): float(e) for z, e in e0s.items() if int(z) in energies}
        )
    scale_shift = getattr(model, "scale_shift", None)
    scale = float(scale_shift.scale.mean()) if scale_shift is not None else 1.0
    shift = float(scale_shift.shift.mean()) if scale_shift is not None else 0.0
    return ModelStats(
        atomic_numbers=zs,
        e0s=energies,
        avg_num_neighbors=float(model.interactions[0].avg_num_neighbors),
        shift=shift,
        scale=scale,
    )


def starting_model(cfg: MLFFConfig, stats: ModelStats, seed: int) -> torch.nn.Module:
    """A member's starting model: drawn from `seed`, or the foundation model."""
    if cfg.init.value == "finetune":
        return member_model(cfg, stats, seed)
    return build_model(cfg, stats, seed)


def member_model(cfg: MLFFConfig, stats: ModelStats, seed: int) -> torch.nn.Module:
    """A member: the foundation model with stats' E0s, prepared for cfg.finetune."""
    model = load_foundation(cfg)
    buf = model.atomic_energies_fn.atomic_energies
    values = torch.tensor([stats.e0s[z] for z in stats.atomic_numbers], dtype=buf.dtype)
    buf.copy_(values.reshape(buf.shape))
    ft = cfg.finetune
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if ft.method == FinetuneMethod.lora:
            _inject_lora(model, ft.lora_rank, ft.lora_alpha)
            return model
        if ft.redraw_readouts:
            _redraw(model.readouts)
    if ft.method == FinetuneMethod.freeze:
        freeze(model, ft.freeze)
    return model


def plain_model(cfg: MLFFConfig, stats: ModelStats, state: dict) -> torch.nn.Module:
    """A plain mace-torch module with a member's weights (adapters merged), CPU."""
    from mace.modules.lora import merge_lora_weights

    model = member_model(cfg, stats, seed=0)
    model.load_state_dict(state)
    if cfg.finetune.method == FinetuneMethod.lora:
        merge_lora_weights(model)
    for p in model.parameters():
        p.requires_grad_(True)
    return model.to("cpu").eval()


def freeze(model: torch.nn.Module, names: Sequence[str]) -> None:
    """Stop gradients of the parameters under each module name (a prefix).

    Raises:
        ConfigError: naming mlff.finetune.freeze when no module has that name.
    """
    modules = {name for name, _ in model.named_modules() if name}
    for name in names:
        if not any(m == name or m.startswith(f"{name}.") for m in modules):
            blocks = sorted({m.split(".")[0] for m in modules})
            raise ConfigError(
                "mlff.finetune.freeze", name, f"names no block; blocks: {blocks}"
            )
        for key, p in model.named_parameters():
            if key.startswith(f"{name}."):
                p.requires_grad_(False)


def _redraw(readouts: torch.nn.Module) -> None:
    """e3nn's initialisation: weights from N(0, 1), biases zero."""
    with torch.no_grad():
        for name, p in readouts.named_parameters():
            if name.endswith("bias"):
                p.zero_()
            else:
                p.normal_()


def _inject_lora(model: torch.nn.Module, rank: int, alpha: float) -> None:
    from mace.modules.lora import (
        LoRADenseLinear,
        LoRAFCLayer,
        LoRAO3Linear,
        inject_LoRAs,
    )

    inject_LoRAs(model, rank=rank, alpha=alpha)
    for module in model.modules():
        if isinstance(module, (LoRADenseLinear, LoRAFCLayer, LoRAO3Linear)):
            module.register_forward_pre_hook(_drop_cached_weights)


def _drop_cached_weights(module: torch.nn.Module, args) -> None:
    """Forget an adapter's merged weights before each call.

    mace-torch caches them whenever gradients are off; pax changes weights in
    place (EMA, offset re-fits), so a cached copy may be stale.
    """
    module._cached_merged_weight = None
    module._cached_delta = None
