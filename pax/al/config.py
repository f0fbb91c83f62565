"""Schema of the `al` group: initial dataset generation and active learning."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from pax.al.idg_config import IDGConfig, PretrainConfig
from pax.al.selection import RULES
from pax.al.uncertainty import MEASURES
from pax.errors import ConfigError


class Replay(str, Enum):
    """What the ensemble trains on between AL labels."""

    full_dataset = "full_dataset"
    random_subset = "random_subset"


class FullQueue(str, Enum):
    """What a trajectory does when its geometry is wanted but no label slot is free."""

    run_on = "run_on"
    pause = "pause"


class ValidationSplit(str, Enum):
    """How a label is chosen for validation."""

    arrival = "arrival"
    hash = "hash"


class StartFrom(str, Enum):
    """Where each AL trajectory starts."""

    geometry = "geometry"
    idg_end = "idg_end"


class ConvergeWhich(str, Enum):
    """Which members are converged at the end."""

    best = "best"
    all = "all"
    none = "none"


@dataclass
class SanityConfig:
    """The gate's limits (`al.sanity.*`); a limit of 0 disables its check."""

    enabled: bool = False
    """Check every AL geometry before it is labelled."""
    fused_fraction: float = 0.5
    """Atoms closer than this times the sum of their covalent radii are fused."""
    bond_factor: float = 1.25
    """Atoms within this times the sum of covalent radii are bonded; 0 disables
    the bond-graph check (use 0 for reactive systems)."""
    bonds_in_periodic: bool = False
    """Check the bond graph of periodic cells too; off by default: in metals,
    liquids and crystals atoms change neighbours thermally (fcc copper at 800 K
    crosses 1.25 x its covalent distance all the time)."""
    max_force: float = 20.0
    """Largest predicted atomic force norm allowed, eV/Å."""
    max_energy_per_atom: float = 1.0
    """Largest predicted energy above the trajectory's start allowed, eV/atom."""

    def __post_init__(self) -> None:
        limits = ("fused_fraction", "bond_factor", "max_force", "max_energy_per_atom")
        for key in limits:
            if getattr(self, key) < 0:
                raise ConfigError(
                    f"al.sanity.{key}", getattr(self, key), "must be >= 0 (0 disables)"
                )


@dataclass
class ALConfig:
    """Parallel active learning settings (names follow aims-PAX)."""

    uncertainty: str = "max_atomic_sd"
    """Uncertainty measure compared with the threshold: max_atomic_sd (aims-PAX,
    eV/Å), mean_atomic_sd (eV/Å) or energy_sd_per_atom (eV/atom)."""
    selection: str = "threshold"
    """Selection rule (pax/al/selection.py): threshold (aims-PAX: uncertainty above
    (1 + c_x) x its running mean), trust_window (trust_lo < uncertainty <
    trust_hi, DP-GEN) or diverse (wanted as by threshold; picks the wanted
    geometry maximising uncertainty x descriptor distance to what the model knows)."""
    diverse_random_share: float = 0.0
    """diverse: share of picks drawn at random from the wanted geometries."""
    trust_lo: float = 0.0
    """trust_window: lower level (units of al.uncertainty, eV/Å for force
    measures); 0 derives it: trust_lo_factor x desired_acc, scaled by the labels'
    median uncertainty / prospective force MAE once trust_calibration_labels came
    back."""
    trust_hi: float = 0.0
    """trust_window: at or above this (units of al.uncertainty) the trajectory rolls
    back to its checkpoint with fresh velocities, nothing labelled; 0: no limit."""
    trust_lo_factor: float = 1.0
    """trust_window with trust_lo=0: the derived lower level's factor."""
    trust_calibration_labels: int = 5
    """trust_window with trust_lo=0: labels that must come back before their
    uncertainty / error ratio scales the lower level; 0: never."""
    min_steps_between_labels: int = 0
    """Least MD steps a trajectory runs between two of its labels (a wanted
    geometry sooner than that is not labelled and its trajectory runs on)."""
    full_queue: FullQueue = FullQueue.run_on
    """A wanted geometry with no free label slot: run_on (aims-PAX: the trajectory
    runs on unlabelled) or pause (it waits at that geometry for a free slot)."""
    c_x: float = 0.0
    """Threshold factor: threshold = (1 + c_x) * mean(recent uncertainties)."""
    desired_acc: float = 0.1
    """Stop when the validation force MAE (eV/Å) falls below this."""
    prospective_window: int = 0
    """When > 0, the accuracy stop also needs the prospective force MAE (eV/Å) below
    desired_acc: the mean, over the last this many AL labels, of each label's force
    MAE predicted before the ensemble trained on it. 0 disables (aims-PAX)."""
    desired_acc_energy: float = 0.0
    """Also require validation energy MAE <= this (meV/atom) to stop; 0 disables."""
    valid_ratio: float = 0.1
    """Fraction of labels kept for validation."""
    validation_split: ValidationSplit = ValidationSplit.arrival
    """arrival: a label goes to validation while validation holds under valid_ratio
    of all points (aims-PAX; depends on the order labels arrive); hash: by a hash
    of its ticket with probability valid_ratio (stable under restarts and order)."""
    min_valid_size: int = 1
    """No accuracy stop (IDG or AL) before validation holds this many frames."""
    bootstrap_members: bool = False
    """Each member trains on its own bootstrap resample of its frames (Poisson(1)
    copies of each, decided by label and member; stable as the data grow)."""
    num_trajectories: int = 8
    """MD trajectories explored at once (geometries cycled over them)."""
    start_from: StartFrom = StartFrom.geometry
    """Where trajectory i starts: geometry (its system's, aims-PAX) or idg_end (a
    distinct late frame of the IDG sampler's trajectory of its system, velocities
    drawn anew; the geometry when there was no IDG)."""
    temperatures_K: list[float] = field(default_factory=list)
    """Trajectory i runs at temperatures_K[i % len] (K); empty: md.temperature_K."""
    skip_step_mlff: int = 25
    """MD steps between uncertainty checks."""
    threshold_window: int = 400
    """Number of recent uncertainties the threshold averages."""
    threshold_warmup: int = 10
    """Nothing crosses until the threshold's history holds more than this many
    uncertainties (one per running trajectory and check, per threshold key)."""
    threshold_per_system: bool = True
    """One threshold per system (True) or one shared by all."""
    threshold_floor: float = 0.0
    """Lower bound of the threshold (eV/Å); 0 disables."""
    threshold_ceiling: float = 0.0
    """Upper bound of the threshold (eV/Å); 0 disables."""
    freeze_threshold_dataset: int = 1_000_000
    """Stop updating the threshold (trust_window: its calibration) once the training
    set reaches this size."""
    uncert_not_crossed_limit: int = 50_000
    """A trajectory quiet (no crossing) this many MD steps restarts from its start."""
    analysis_every_steps: int = 0
    """Analysis mode (aims-PAX's analysis): every this many MD steps (rounded up to
    skip_step_mlff) a trajectory's geometry is also labelled when a worker is free,
    to record its true force error next to its uncertainty; never added to the data.
    0: off."""
    stops_before_label: int = 2
    """A trajectory stopped by an MD guard this many times since its last label has
    its checkpoint (its last calm geometry) labelled: the model fails
    there. Calm checks in between do not reset the count, so a trajectory that
    stops again a few steps after each restart is labelled, not restarted forever."""
    epochs_per_worker: int = 2
    """Epochs trained for each label that arrives."""
    intermediate_epochs_al: int = 1
    """Epochs per training chunk interleaved with MD."""
    replay: Replay = Replay.full_dataset
    """Train on the full set, or on the new points (labels whose epochs are still
    due) plus a random subset of the older ones."""
    train_subset_size: int = 50
    """Size of the random replay subset (points, new ones not counted)."""
    valid_subset_size: int = 0
    """replay=random_subset: validate each training chunk on this many validation
    frames drawn at random (aims-PAX's valid_subset_size); 0: all of them. An
    accuracy stop is confirmed on the whole validation set."""
    max_train_set_size: int = 1000
    """AL stops when the training set reaches this size."""
    max_MD_steps: int = 100_000
    """AL stops when every trajectory has run this many steps."""
    max_labels_in_flight: int = 0
    """Most labels waiting at once; 0 means twice the reference workers."""
    synchronous: bool = False
    """Barrier mode for comparison: label a whole batch, then train, then go on
    (IDG rounds; in AL all trajectories wait while any label is out)."""
    drain_timeout_s: float = 600.0
    """At the stop, wait this long for labels still in flight (s)."""
    converge: ConvergeWhich = ConvergeWhich.best
    """Converge the best member, all members, or none at the end."""
    convergence_patience: int = 20
    """Convergence stops after this many epochs without improvement."""
    convergence_margin: float = 0.002
    """Relative improvement that counts as progress."""
    max_convergence_epochs: int = 200
    """Upper limit of convergence epochs."""
    idg: IDGConfig = field(default_factory=IDGConfig)
    """Initial dataset generation."""
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    """Pretraining on cheap labels before IDG."""
    sanity: SanityConfig = field(default_factory=SanityConfig)
    """Physical-sanity gate before each AL label (off: aims-PAX labels everything)."""

    def __post_init__(self) -> None:
        if self.c_x <= -1:
            raise ConfigError(
                "al.c_x", self.c_x, "must be > -1 (threshold must stay positive)"
            )
        if self.uncertainty not in MEASURES:
            choices = ", ".join(MEASURES)
            raise ConfigError(
                "al.uncertainty", self.uncertainty, f"choose one of {choices}"
            )
        if self.selection not in RULES:
            choices = ", ".join(RULES)
            raise ConfigError(
                "al.selection", self.selection, f"choose one of {choices}"
            )
        if not 0 <= self.diverse_random_share <= 1:
            raise ConfigError(
                "al.diverse_random_share",
                self.diverse_random_share,
                "must be in [0, 1]",
            )
        for key in (
            "trust_lo",
            "trust_hi",
            "min_steps_between_labels",
            "analysis_every_steps",
            "valid_subset_size",
        ):
            if getattr(self, key) < 0:
                raise ConfigError(f"al.{key}", getattr(self, key), "must be >= 0")
        if 0 < self.trust_hi <= self.trust_lo:
            raise ConfigError("al.trust_hi", self.trust_hi, "must be > al.trust_lo")
        if self.trust_lo_factor <= 0:
            raise ConfigError("al.trust_lo_factor", self.trust_lo_factor, "must be > 0")
        if self.trust_calibration_labels < 0:
            raise ConfigError(
                "al.trust_calibration_labels",
                self.trust_calibration_labels,
                "must be >= 0 (0: never calibrate)",
            )
        if self.desired_acc <= 0:
            raise ConfigError("al.desired_acc", self.desired_acc, "must be > 0 (eV/Å)")
        if self.prospective_window < 0:
            raise ConfigError(
                "al.prospective_window", self.prospective_window, "must be >= 0"
            )
        if self.desired_acc_energy < 0:
            raise ConfigError(
                "al.desired_acc_energy",
                self.desired_acc_energy,
                "must be >= 0 (meV/atom; 0 disables the energy target)",
            )
        if not 0 < self.valid_ratio < 1:
            raise ConfigError("al.valid_ratio", self.valid_ratio, "must be in (0, 1)")
        for key in (
            "num_trajectories",
            "skip_step_mlff",
            "threshold_window",
            "epochs_per_worker",
            "intermediate_epochs_al",
            "max_train_set_size",
            "max_MD_steps",
            "train_subset_size",
            "stops_before_label",
            "min_valid_size",
        ):
            if getattr(self, key) < 1:
                raise ConfigError(f"al.{key}", getattr(self, key), "must be >= 1")
        if self.threshold_warmup < 0:
            raise ConfigError(
                "al.threshold_warmup", self.threshold_warmup, "must be >= 0"
            )
        if any(t <= 0 for t in self.temperatures_K):
            raise ConfigError(
                "al.temperatures_K", list(self.temperatures_K), "must all be > 0 (K)"
            )
        if self.threshold_ceiling and self.threshold_ceiling < self.threshold_floor:
            raise ConfigError(
                "al.threshold_ceiling",
                self.threshold_ceiling,
                "must be >= al.threshold_floor",
            )
