"""Schema of the `mlff` group: the MACE ensemble and how it trains."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from pax.errors import ConfigError, coerce_enums


class Dtype(str, Enum):
    """Floating-point precision of the models."""

    float32 = "float32"
    float64 = "float64"


class Device(str, Enum):
    """Where the models live; auto takes CUDA when available."""

    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Optimizer(str, Enum):
    """Optimizers for training."""

    adam = "adam"
    adamw = "adamw"


class Scheduler(str, Enum):
    """Learning-rate schedules."""

    ReduceLROnPlateau = "ReduceLROnPlateau"
    ExponentialLR = "ExponentialLR"


class PeriodicLoss(str, Enum):
    """Which cell quantity periodic structures add to the loss."""

    stress = "stress"
    virials = "virials"


class E0Source(str, Enum):
    """Where the isolated-atom energies come from."""

    reference = "reference"
    least_squares = "least_squares"
    foundation = "foundation"


class Init(str, Enum):
    """How the members' weights start: drawn at random, or a pretrained MACE."""

    scratch = "scratch"
    finetune = "finetune"


class FinetuneMethod(str, Enum):
    """What of a foundation model is trained."""

    naive = "naive"
    freeze = "freeze"
    lora = "lora"


@dataclass
class FinetuneConfig:
    """How members fine-tune the foundation model (mlff.init=finetune)."""

    method: FinetuneMethod = FinetuneMethod.naive
    """naive: train every weight; freeze: keep the blocks in `freeze` fixed;
    lora: train low-rank adapters only (merged into the weights on export)."""
    freeze: list[str] = field(
        default_factory=lambda: ["node_embedding", "radial_embedding"]
    )
    """method=freeze: module names (prefixes such as interactions.0) kept fixed."""
    lora_rank: int = 4
    """method=lora: rank of the adapters."""
    lora_alpha: float = 1.0
    """method=lora: adapter scale (the update is alpha / rank x B A)."""
    redraw_readouts: bool = True
    """naive and freeze: draw each member's readout weights from its own seed, so
    the committee disagrees from the start (identical copies have no spread)."""

    def __post_init__(self) -> None:
        coerce_enums(self, "mlff.finetune", {"method": FinetuneMethod})
        if self.lora_rank < 1:
            raise ConfigError("mlff.finetune.lora_rank", self.lora_rank, "must be >= 1")
        if self.lora_alpha <= 0:
            raise ConfigError(
                "mlff.finetune.lora_alpha", self.lora_alpha, "must be > 0"
            )


@dataclass
class MLFFConfig:
    """A committee of MACE models with distinct seeds."""

    ensemble_size: int = 4
    """Number of ensemble members (>= 2: the spread is the uncertainty)."""
    seed: int = 42
    """Seed of member 0; member k uses seed + k."""
    init: Init = Init.scratch
    """scratch: weights drawn at random from the architecture below; finetune:
    every member starts from foundation_model (its architecture and r_max)."""
    foundation_model: str = ""
    """init=finetune: a MACE model file, or mace-mp-*|mace-off-* in the local cache."""
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    """init=finetune: what is trained."""
    # architecture
    r_max: float = 5.0
    """Cutoff radius (Å)."""
    num_channels: int = 32
    """Feature channels per irrep."""
    max_L: int = 1
    """Highest angular momentum of the equivariant features."""
    correlation: int = 3
    """Body order of the products."""
    num_interactions: int = 2
    """Message-passing layers."""
    radial_MLP: list[int] = field(default_factory=lambda: [16, 16, 16])
    """Hidden sizes of the radial network."""
    num_radial_basis: int = 8
    """Bessel functions in the radial basis."""
    num_cutoff_basis: int = 5
    """Polynomial cutoff order."""
    max_ell: int = 3
    """Highest degree of the edge spherical harmonics."""
    MLP_irreps: str = "16x0e"
    """Hidden irreps of the non-linear readout."""
    e0s: E0Source = E0Source.reference
    """Isolated-atom energies: computed by the reference, least squares on data, or
    (init=finetune) the foundation model's. pax re-fits per-element offsets on the
    training data either way (forces unchanged)."""
    default_dtype: Dtype = Dtype.float32
    """Model precision."""
    device: Device = Device.auto
    """Device for training, prediction and MD."""
    element_contraction: bool = True
    """Train and predict with the element-wise product basis (same numbers, faster;
    exported .model files are plain mace-torch either way)."""
    parallel_members: int = 0
    """Members trained and validated at once, each in its own thread on its share
    of the torch threads; 0: one per torch thread (so a single thread trains them
    one after the other, as aims-PAX does); 1: always one after the other."""
    # training
    batch_size: int = 2
    """Training batch size (structures); aims-PAX uses 5, 2 reached the same
    accuracy sooner on small data (README Results)."""
    valid_batch_size: int = 10
    """Validation batch size (structures)."""
    lr: float = 0.01
    """Initial learning rate."""
    optimizer: Optimizer = Optimizer.adam
    """Adam or AdamW (both with amsgrad)."""
    amsgrad: bool = True
    """Use the AMSGrad variant."""
    weight_decay: float = 5e-7
    """L2 weight decay."""
    scheduler: Scheduler = Scheduler.ReduceLROnPlateau
    """Learning-rate schedule."""
    lr_factor: float = 0.8
    """Plateau: factor applied to lr when validation stalls."""
    scheduler_patience: int = 5
    """Plateau: epochs without improvement before lowering lr."""
    lr_scheduler_gamma: float = 0.9993
    """Exponential: lr decay per epoch."""
    ema: bool = True
    """Keep an exponential moving average of the weights for evaluation."""
    ema_decay: float = 0.99
    """EMA decay per step."""
    clip_grad: float | None = 10.0
    """Gradient-norm clip; None disables."""
    energy_weight: float = 1.0
    """Loss weight of energies (per atom)."""
    forces_weight: float = 1000.0
    """Loss weight of forces."""
    stress_weight: float = 1.0
    """Loss weight of stresses or virials (periodic systems)."""
    stage_two_energy_weight: float = 1000.0
    """Loss weight of energies in the convergence phase (mace-torch's stage two;
    its swa_energy_weight default)."""
    stage_two_forces_weight: float = 1000.0
    """Loss weight of forces in the convergence phase (mace-torch's swa_forces_weight
    is 100: with pax's weights that cost force accuracy, so forces keep theirs)."""
    warn_energy_spread: float = 0.005
    """Warn at the end of a run when the members' energy SD per atom, averaged
    over the validation set, exceeds this (eV/atom)."""
    warn_energy_mae_ratio: float = 2.0
    """Warn at the end of a run when the worst member's validation energy MAE
    exceeds the best one's by more than this factor."""
    periodic_loss: PeriodicLoss = PeriodicLoss.stress
    """Cell term for periodic structures: stress (eV/Å^3) or virials (eV)."""
    valid_skip: int = 1
    """Validate every this many epochs."""

    def __post_init__(self) -> None:
        coerce_enums(
            self,
            "mlff",
            {
                "default_dtype": Dtype,
                "device": Device,
                "optimizer": Optimizer,
                "scheduler": Scheduler,
                "e0s": E0Source,
                "init": Init,
                "periodic_loss": PeriodicLoss,
            },
        )
        if self.ensemble_size < 2:
            raise ConfigError(
                "mlff.ensemble_size",
                self.ensemble_size,
                "must be >= 2 (the spread is the uncertainty)",
            )
        for key in ("r_max", "lr", "lr_factor", "lr_scheduler_gamma"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"mlff.{key}", getattr(self, key), "must be > 0")
        for key in (
            "num_channels",
            "num_interactions",
            "batch_size",
            "valid_batch_size",
            "correlation",
            "valid_skip",
        ):
            if getattr(self, key) < 1:
                raise ConfigError(f"mlff.{key}", getattr(self, key), "must be >= 1")
        for key in (
            "max_L",
            "weight_decay",
            "energy_weight",
            "forces_weight",
            "stress_weight",
            "stage_two_energy_weight",
            "stage_two_forces_weight",
            "warn_energy_spread",
            "scheduler_patience",
            "parallel_members",
        ):
            if getattr(self, key) < 0:
                raise ConfigError(f"mlff.{key}", getattr(self, key), "must be >= 0")
        if self.max_ell < 1:
            raise ConfigError("mlff.max_ell", self.max_ell, "must be >= 1")
        if any(int(h) < 1 for h in self.radial_MLP):
            raise ConfigError(
                "mlff.radial_MLP", self.radial_MLP, "hidden sizes must be >= 1"
            )
        if self.clip_grad is not None and self.clip_grad <= 0:
            raise ConfigError("mlff.clip_grad", self.clip_grad, "must be > 0 or null")
        if self.warn_energy_mae_ratio < 1:
            raise ConfigError(
                "mlff.warn_energy_mae_ratio", self.warn_energy_mae_ratio, "must be >= 1"
            )
        if not 0 < self.ema_decay < 1:
            raise ConfigError("mlff.ema_decay", self.ema_decay, "must be in (0, 1)")
        if self.init == Init.finetune and not self.foundation_model:
            raise ConfigError(
                "mlff.foundation_model",
                self.foundation_model,
                "init=finetune needs a MACE model file or a cached foundation name",
            )
        if self.e0s == E0Source.foundation and self.init != Init.finetune:
            raise ConfigError("mlff.e0s", "foundation", "needs mlff.init=finetune")
        if isinstance(self.finetune, dict):
            self.finetune = FinetuneConfig(**self.finetune)
