"""A committee of MACE models: build, incremental training, batched prediction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from mace.tools import AtomicNumberTable

from pax.errors import PaxError
from pax.mlff import checkpoint
from pax.mlff.build import DTYPES, ModelStats, dataset_stats
from pax.mlff.config import Device, Init, MLFFConfig
from pax.mlff.fast_product import use_element_contractions
from pax.mlff.foundation import adapted_config, foundation_stats, starting_model
from pax.mlff.graphs import GraphCache, geometry_key, torch_dtype
from pax.mlff.metrics import committee_errors, error_metrics, reference_arrays
from pax.mlff.offsets import refit_offsets, set_fingerprint
from pax.mlff.parallel import map_members
from pax.mlff.predict import committee_predict
from pax.mlff.train import (
    Losses,
    Member,
    current_lr,
    evaluate_member,
    make_member,
    scheduler_step,
    sync_eval_model,
    train_one_epoch,
)

log = logging.getLogger(__name__)

TrainSets = Sequence[Sequence[Atoms]] | Sequence[Atoms]


def resolve_device(device: str | Device | None) -> torch.device:
    """Auto (or None) -> cuda when available, else cpu."""
    name = device.value if isinstance(device, Device) else (device or "auto")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        from pax.errors import ConfigError

        raise ConfigError("mlff.device", name, "CUDA is not available on this machine")
    return torch.device(name)


class Ensemble:
    """K MACE models with distinct seeds, trained together, predicting together.

    Use `Ensemble.build` or `Ensemble.load`; the constructor takes built parts.
    `models` holds the evaluation weights (EMA averages when enabled) in eval mode:
    they are updated in place after each `train` call, so MD can keep references.
    """

    def __init__(
        self,
        cfg: MLFFConfig,
        stats: ModelStats,
        members: list[Member],
        device: torch.device,
    ) -> None:
        self.cfg, self.stats, self.members, self.device = cfg, stats, members, device
        self.dtype = DTYPES[cfg.default_dtype.value]
        self.r_max = float(cfg.r_max)
        self.atomic_numbers = list(stats.atomic_numbers)
        self.epoch = 0
        self.last_valid: list[dict] = []
        self.offsets_fit_on: list[str | None] = [None] * len(members)
        """Fingerprint of each member's training set at its last (training-weights)
        offset re-fit."""
        self.cache = GraphCache(
            AtomicNumberTable(self.atomic_numbers), self.r_max, self.dtype
        )
        self.losses = Losses(cfg, device, self.dtype)

    # construction -------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        cfg: MLFFConfig,
        train_sets: TrainSets,
        e0s: dict[int, float] | None,
        device: str | None = None,
        atomic_numbers: Sequence[int] = (),
    ) -> Ensemble:
        """Fresh models whose statistics come from the training data.

        Args:
            cfg: the mlff config (architecture, training, seeds).
            train_sets: one list of labelled Atoms per member, or one shared list.
            e0s: isolated-atom energies (eV) by atomic number; None fits least squares.
            device: cpu, cuda or auto; None takes cfg.device.
            atomic_numbers: extra elements the models must know beyond the data's.
        """
        sets = split_sets(train_sets, cfg.ensemble_size)
        unique = {geometry_key(a): a for s in sets for a in s}
        frames = list(unique.values())
        zs = sorted(
            {int(z) for a in frames for z in a.numbers}
            | {int(z) for z in atomic_numbers}
        )
        if cfg.init == Init.finetune:
            cfg = adapted_config(cfg)
            stats = foundation_stats(cfg, zs, e0s)
        else:
            stats = dataset_stats(frames, zs, e0s, cfg.r_max)
        log.info(
            "MACE stats: Z=%s avg_neighbors=%.2f shift=%.4f eV scale=%.4f eV/Å",
            zs,
            stats.avg_num_neighbors,
            stats.shift,
            stats.scale,
        )
        return cls.from_stats(cfg, stats, device if device is not None else cfg.device)

    @classmethod
    def from_stats(cls, cfg: MLFFConfig, stats: ModelStats, device) -> Ensemble:
        """Fresh members (seeds cfg.seed + k) from known statistics."""
        dev = resolve_device(device)
        members = []
        for k in range(cfg.ensemble_size):
            model = starting_model(cfg, stats, seed=cfg.seed + k)
            if cfg.element_contraction:
                use_element_contractions(model)
            members.append(make_member(cfg, model, seed=cfg.seed + k, device=dev))
        return cls(cfg, stats, members, dev)

    @property
    def models(self) -> list[torch.nn.Module]:
        """The evaluation models (eval mode, EMA weights when enabled)."""
        return [m.eval_model for m in self.members]

    # training -----------------------------------------------------------------------
    def train(
        self,
        train_sets: TrainSets,
        valid: Sequence[Atoms],
        epochs: int,
        phase: str = "",
        on_epoch: Callable[[dict], None] | None = None,
        members: Sequence[int] | None = None,
    ) -> list[dict]:
        """Continue training for `epochs` on the current data, keeping optimiser state.

        Validates every cfg.valid_skip epochs (counted over the ensemble's life).
        Per-element energy offsets (forces unchanged): a member whose training
        set changed since its last re-fit (the data grew) is re-fit first; the
        evaluation weights are re-fit after the last epoch, before its validation.

        Returns:
            One record per member and validated epoch, plus member="mean" for the
            ensemble-mean prediction: epoch, member, phase, train_loss,
            valid_e_mae_per_atom, valid_e_rmse_per_atom (eV/atom), valid_f_mae,
            valid_f_rmse (eV/Å), lr.
        """
        sets = split_sets(train_sets, len(self.members))
        chosen = list(range(len(self.members))) if members is None else list(members)
        if any(len(sets[k]) == 0 for k in chosen):
            raise PaxError("a member has an empty training set")
        self.refit_if_grown(sets, chosen)
        records: list[dict] = []
        with torch_dtype(self.dtype):
            loaders = {
                k: self.cache.loader(
                    sets[k],
                    self.cfg.batch_size,
                    shuffle=True,
                    generator=self.members[k].generator,
                )
                for k in chosen
            }
            valid_batches = self._batches(valid)

            def epoch_of(k: int) -> float:
                member = self.members[k]
                loss = train_one_epoch(
                    member, loaders[k], self.losses, self.cfg.clip_grad, self.device
                )
                sync_eval_model(member)
                return loss

            for epoch in range(epochs):
                self.epoch += 1
                par = self.cfg.parallel_members
                losses = dict(zip(chosen, map_members(epoch_of, chosen, par)))
                if epoch == epochs - 1:
                    self.refit_offsets(sets, chosen, models=("eval_model",))
                if self.epoch % self.cfg.valid_skip == 0:
                    new = self._validate(valid, valid_batches, losses, chosen, phase)
                    records.extend(new)
                    if on_epoch is not None:
                        for rec in new:
                            on_epoch(rec)
                else:
                    for k in chosen:
                        if not _is_plateau(self.members[k]):
                            scheduler_step(self.members[k], None)
        return records

    def _batches(self, atoms_list: Sequence[Atoms]) -> list:
        size = self.cfg.valid_batch_size
        return [
            self.cache.batch(atoms_list[i : i + size], self.device)
            for i in range(0, len(atoms_list), size)
        ]

    def _validate(self, valid, batches, train_losses, chosen, phase) -> list[dict]:
        records = []
        if not valid:
            for k in chosen:
                scheduler_step(self.members[k], train_losses[k])
                lr = current_lr(self.members[k])
                records.append(self._record(k, phase, train_losses[k], None, None, lr))
            return records
        ref_e, ref_f, n_atoms = reference_arrays(valid)
        energies, forces = [], []
        outs = map_members(
            lambda k: evaluate_member(self.members[k], batches, self.losses),
            chosen,
            self.cfg.parallel_members,
        )
        for k, (loss, e, f) in zip(chosen, outs):
            scheduler_step(self.members[k], loss)
            energies.append(e)
            forces.append(f)
            m = error_metrics(e, ref_e, n_atoms, f, ref_f)
            records.append(
                self._record(
                    k, phase, train_losses[k], loss, m, current_lr(self.members[k])
                )
            )
        mean = error_metrics(
            np.mean(energies, 0), ref_e, n_atoms, np.mean(forces, 0), ref_f
        )
        records.append(
            self._record(
                "mean",
                phase,
                float(np.mean([train_losses[k] for k in chosen])),
                float(np.mean([r["valid_loss"] for r in records])),
                mean,
                float(np.mean([r["lr"] for r in records])),
            )
        )
        self.last_valid = records
        return records

    def _record(self, member, phase, train_loss, valid_loss, m, lr) -> dict:
        keys = ("e_mae_per_atom", "e_rmse_per_atom", "f_mae", "f_rmse")
        return {
            "epoch": self.epoch,
            "member": member,
            "phase": phase,
            "train_loss": float(train_loss),
            "valid_loss": None if valid_loss is None else float(valid_loss),
            **{f"valid_{key}": None if m is None else m[key] for key in keys},
            "lr": float(lr),
        }

    def refit_offsets(
        self,
        train_sets: TrainSets,
        members: Sequence[int] | None = None,
        models: Sequence[str] = ("model", "eval_model"),
    ) -> list[np.ndarray]:
        """Least-squares re-fit of members' per-element energy offsets.

        On each member's training set; forces do not change (pax.mlff.offsets).
        """
        sets = split_sets(train_sets, len(self.members))
        return refit_offsets(self, sets, members, models)

    def refit_if_grown(
        self, train_sets: TrainSets, members: Sequence[int] | None = None
    ) -> None:
        """Re-fit the offsets of members whose training set changed since their fit."""
        sets = split_sets(train_sets, len(self.members))
        chosen = range(len(self.members)) if members is None else members
        stale = [
            k for k in chosen if self.offsets_fit_on[k] != set_fingerprint(sets[k])
        ]
        if stale:
            self.refit_offsets(sets, stale, models=("model",))

    def best_member(self) -> int:
        """Index of the member with the lowest last validation loss."""
        rows = [
            r
            for r in self.last_valid
            if r["member"] != "mean" and r["valid_loss"] is not None
        ]
        if not rows:
            raise PaxError(
                "best_member needs a validation first (train with a validation set)"
            )
        return int(min(rows, key=lambda r: r["valid_loss"])["member"])

    def converge(self, *args: object, **kwargs: object) -> dict:
        """Train until validation stops improving.

        The arguments are those of pax.mlff.converge.converge after the ensemble:
        train, valid, patience, margin, max_epochs, members.
        """
        from pax.mlff.converge import converge

        return converge(self, *args, **kwargs)

    # prediction ---------------------------------------------------------------------
    def predict(
        self, atoms_list: Sequence[Atoms], compute_stress: bool = False
    ) -> dict:
        """Per-member and committee predictions over all systems (pax.mlff.predict).

        Returns numpy arrays: energies (K, N) eV, forces (K, n_atoms_total, 3) eV/Å,
        energy (N) and energy_var (N), forces_comm (n_atoms_total, 3) mean and
        forces_var (n_atoms_total, 3) variance over members, ptr (N+1) atom offsets;
        with compute_stress also stresses (K, N, 3, 3) and stress (N, 3, 3) eV/Å^3.
        """
        return committee_predict(
            self.models, self.cache, atoms_list, self.device, compute_stress
        )

    def descriptors(self, atoms_list: Sequence[Atoms]) -> np.ndarray:
        """(N, d) structure descriptors under member 0's evaluation weights."""
        from pax.mlff.descriptors import structure_descriptors

        return structure_descriptors(
            self.models[0], self.cache, atoms_list, self.device
        )

    def evaluate(self, atoms_list: Sequence[Atoms]) -> dict:
        """Errors of the committee mean and of each member against REF_ labels.

        Returns:
            {"mean": metrics, "members": [metrics per member]} with e_mae_per_atom,
            e_rmse_per_atom (eV/atom), e_mae, e_rmse (eV per structure), f_mae,
            f_rmse (eV/Å); "mean" also has e_spread_per_atom, the members' energy
            SD per atom (eV/atom) averaged over the structures.
        """
        return committee_errors(self.predict(atoms_list), atoms_list)

    # persistence --------------------------------------------------------------------
    def save(self, path: str | Path, keep_prev: bool = False) -> Path:
        """Write the full training state atomically (keep_prev: old one as .prev)."""
        return checkpoint.save(self, Path(path), keep_prev)

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> Ensemble:
        """Restore an ensemble saved by `save`; training continues where it stopped."""
        return checkpoint.load(cls, Path(path), device)

    def export(self, directory: str | Path) -> list[Path]:
        """One `.model` file per member, loadable by mace's MACECalculator."""
        return checkpoint.export(self, Path(directory))

    def calculator(self):
        """An ASE calculator for the whole committee."""
        from pax.mlff.calculator import EnsembleCalculator

        return EnsembleCalculator(self)


def split_sets(train_sets: TrainSets, n_members: int) -> list[list[Atoms]]:
    """One training list per member from per-member lists or one shared list."""
    if len(train_sets) > 0 and isinstance(train_sets[0], Atoms):
        return [list(train_sets)] * n_members
    sets = [list(s) for s in train_sets]
    if len(sets) == 1:
        return sets * n_members
    if len(sets) != n_members:
        raise PaxError(
            f"got {len(sets)} training sets for {n_members} members "
            "(give one per member or one shared list)"
        )
    return sets


def _is_plateau(member: Member) -> bool:
    return isinstance(member.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
