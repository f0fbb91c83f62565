"""Plain-PyTorch training of one MACE model: optimizer, schedule, EMA, steps, epochs."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import torch
from mace.modules.loss import (
    WeightedEnergyForcesLoss,
    WeightedEnergyForcesStressLoss,
    WeightedEnergyForcesVirialsLoss,
)
from mace.tools.scripts_utils import get_params_options
from mace.tools.torch_geometric import Batch
from torch_ema import ExponentialMovingAverage

from pax.mlff.config import MLFFConfig, Optimizer, PeriodicLoss, Scheduler

log = logging.getLogger(__name__)


@dataclass
class Member:
    """One ensemble member and everything that continues its training."""

    model: torch.nn.Module
    """Weights being optimised."""
    eval_model: torch.nn.Module
    """Weights used for prediction and MD (EMA average when enabled), eval mode."""
    optimizer: torch.optim.Optimizer
    scheduler: (
        torch.optim.lr_scheduler.LRScheduler
        | torch.optim.lr_scheduler.ReduceLROnPlateau
    )
    ema: ExponentialMovingAverage | None
    generator: torch.Generator
    """Shuffles this member's training batches."""
    seed: int


class Losses:
    """mace-torch's weighted losses; periodic batches add stress or virials.

    stage_two takes the convergence phase's energy and force weights.
    """

    def __init__(
        self,
        cfg: MLFFConfig,
        device: torch.device,
        dtype: torch.dtype,
        stage_two: bool = False,
    ) -> None:
        energy_weight, forces_weight = (
            (cfg.stage_two_energy_weight, cfg.stage_two_forces_weight)
            if stage_two
            else (cfg.energy_weight, cfg.forces_weight)
        )
        self.plain = WeightedEnergyForcesLoss(energy_weight, forces_weight)
        cls = (
            WeightedEnergyForcesStressLoss
            if cfg.periodic_loss == PeriodicLoss.stress
            else WeightedEnergyForcesVirialsLoss
        )
        kwargs = {
            "stress_weight"
            if cfg.periodic_loss == PeriodicLoss.stress
            else "virials_weight": cfg.stress_weight
        }
        self.periodic = cls(energy_weight, forces_weight, **kwargs)
        self.plain.to(device=device, dtype=dtype)
        self.periodic.to(device=device, dtype=dtype)
        self.kind = cfg.periodic_loss

    def flags(self, batch: Batch) -> dict[str, bool]:
        """Forward flags: stress/virials only when a cell in the batch is periodic."""
        periodic = bool(batch.pbc.any())
        return {
            "compute_stress": periodic and self.kind == PeriodicLoss.stress,
            "compute_virials": periodic and self.kind == PeriodicLoss.virials,
        }

    def __call__(self, pred: dict, batch: Batch) -> torch.Tensor:
        """The loss of one batch."""
        fn = self.periodic if bool(batch.pbc.any()) else self.plain
        return fn(pred=pred, ref=batch)


def make_member(
    cfg: MLFFConfig, model: torch.nn.Module, seed: int, device: torch.device
) -> Member:
    """Optimizer (mace-torch's parameter groups), scheduler and EMA for a model."""
    model = model.to(device)
    args = SimpleNamespace(
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        amsgrad=cfg.amsgrad,
        beta=0.9,
        lr_params_factors="{}",
        freeze=None,
    )
    options = get_params_options(args, model)
    optimizer = (
        torch.optim.AdamW(**options)
        if cfg.optimizer == Optimizer.adamw
        else torch.optim.Adam(**options)
    )
    if cfg.scheduler == Scheduler.ExponentialLR:
        scheduler = torch.optim.lr_scheduler.ExponentialLR(
            optimizer, gamma=cfg.lr_scheduler_gamma
        )
    else:
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=cfg.lr_factor, patience=cfg.scheduler_patience
        )
    ema = (
        ExponentialMovingAverage(model.parameters(), decay=cfg.ema_decay)
        if cfg.ema
        else None
    )
    eval_model = copy.deepcopy(model).eval()
    for p in eval_model.parameters():
        p.requires_grad_(False)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return Member(model, eval_model, optimizer, scheduler, ema, generator, seed)


def sync_eval_model(member: Member) -> None:
    """Copy the EMA average (or the raw weights) into the evaluation model, in place."""
    if member.ema is not None:
        member.ema.copy_to(member.eval_model.parameters())
    else:
        for dst, src in zip(member.eval_model.parameters(), member.model.parameters()):
            dst.data.copy_(src.data)


def take_step(
    member: Member, batch: Batch, losses: Losses, clip_grad: float | None
) -> float:
    """One optimiser step on one batch; returns the batch loss."""
    model, optimizer = member.model, member.optimizer
    optimizer.zero_grad(set_to_none=True)
    pred = model(
        batch.to_dict(), training=True, compute_force=True, **losses.flags(batch)
    )
    loss = losses(pred, batch)
    loss.backward()
    if clip_grad is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=clip_grad)
    optimizer.step()
    if member.ema is not None:
        member.ema.update()
    return float(loss.detach())


def train_one_epoch(
    member: Member,
    loader,
    losses: Losses,
    clip_grad: float | None,
    device: torch.device,
) -> float:
    """One pass over the member's shuffled training data; the mean batch loss."""
    member.model.train()
    total, n = 0.0, 0
    for batch in loader:
        batch = batch.to(device)
        total += take_step(member, batch, losses, clip_grad) * batch.num_graphs
        n += batch.num_graphs
    return total / max(n, 1)


def forward_eval(
    model: torch.nn.Module, batch: Batch, compute_stress: bool = False
) -> dict[str, torch.Tensor]:
    """Energies (n_graphs,) eV, forces (n_atoms, 3) eV/Å (and stress), detached."""
    out = model(
        batch.to_dict(),
        training=False,
        compute_force=True,
        compute_stress=compute_stress,
    )
    result = {"energy": out["energy"].detach(), "forces": out["forces"].detach()}
    if compute_stress:
        result["stress"] = out["stress"].detach()  # (n_graphs, 3, 3) eV/Å^3
    return result


def evaluate_member(
    member: Member, batches: list[Batch], losses: Losses
) -> tuple[float, np.ndarray, np.ndarray]:
    """Validation loss and predictions of the evaluation weights over fixed batches.

    Returns:
        loss (mean over graphs), energies (n_systems,) eV,
        forces (n_atoms_total, 3) eV/Å.
    """
    model = member.eval_model
    total, n, energies, forces = 0.0, 0, [], []
    for batch in batches:
        flags = losses.flags(batch)
        out = model(batch.to_dict(), training=False, compute_force=True, **flags)
        pred = {
            k: (v.detach() if isinstance(v, torch.Tensor) else v)
            for k, v in out.items()
        }
        total += float(losses(pred, batch)) * batch.num_graphs
        n += batch.num_graphs
        energies.append(pred["energy"].cpu().numpy())
        forces.append(pred["forces"].cpu().numpy())
    return total / max(n, 1), np.concatenate(energies), np.concatenate(forces)


def current_lr(member: Member) -> float:
    """The learning rate of the first parameter group."""
    return float(member.optimizer.param_groups[0]["lr"])


def scheduler_step(member: Member, metric: float | None) -> None:
    """Advance the schedule: plateau on the validation loss, exponential per epoch."""
    sched = member.scheduler
    if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
        if metric is not None:
            sched.step(metric)
    else:
        sched.step()
