"""Schema of initial dataset generation (`al.idg`) and pretraining (`al.pretrain`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from pax.dft.xtb import XTBMethod
from pax.errors import ConfigError


class Sampler(str, Enum):
    """What drives the MD that samples the initial dataset."""

    xtb = "xtb"
    foundation = "foundation"
    aimd = "aimd"


@dataclass
class PretrainConfig:
    """Cheap-to-expensive pretraining: before IDG, the ensemble learns xTB labels.

    The frames come from the IDG sampler; their labels never enter the datasets
    or the validation set of the expensive reference.
    """

    enabled: bool = False
    """Pretrain before IDG."""
    xtb_method: XTBMethod = XTBMethod.GFN1
    """The cheap method (tblite xTB, in this process)."""
    n_frames: int = 200
    """Sampler frames labelled by the cheap method."""
    valid_ratio: float = 0.1
    """Share of those frames that validates the pretraining."""
    epochs: int = 60
    """Training epochs on the cheap labels."""

    def __post_init__(self) -> None:
        for key in ("n_frames", "epochs"):
            if getattr(self, key) < 1:
                raise ConfigError(
                    f"al.pretrain.{key}", getattr(self, key), "must be >= 1"
                )
        if not 0 < self.valid_ratio < 1:
            raise ConfigError(
                "al.pretrain.valid_ratio", self.valid_ratio, "must be in (0, 1)"
            )


@dataclass
class IDGConfig:
    """Initial dataset generation (aims-PAX's IDG)."""

    sampler: Sampler = Sampler.xtb
    """MD driver: xtb (tblite), foundation (a pretrained potential, foundation_model)
    or aimd (the reference)."""
    sampler_xtb_method: XTBMethod = XTBMethod.GFN1
    """xTB Hamiltonian for the xtb sampler."""
    foundation_model: str = "mace-mp-small"
    """sampler=foundation: a MACE file, mace-mp-*|mace-off-* (local cache), chgnet or
    ani-1x (pax[foundation]), or module:function returning an ASE calculator."""
    dispersion: bool = False
    """sampler=foundation: add DFT-D3 dispersion to the pretrained potential (the
    dftd3 package of pax[foundation]; aims-PAX's foundational dispersion)."""
    dispersion_xc: str = "pbe"
    """Functional whose D3 parameters are used (e.g. pbe, the MACE-MP level)."""
    dispersion_damping: str = "d3bj"
    """D3 damping: d3bj, d3zero, d3bjm, d3zerom, d3op."""
    trajectories_per_system: int = 1
    """Sampler trajectories per system, each from its geometry with its own
    velocities, handing out frames in turn; a MACE sampler (file or cached
    mace-mp/mace-off, no dispersion) propagates them together in one batched MD,
    the others one after the other. 1: aims-PAX."""
    skip_step_initial: int = 25
    """MD steps between sampled frames (when sample_interval_fs is 0)."""
    sample_interval_fs: float = 0.0
    """Least sampler MD time between frames (fs), rounded up to md.timestep_fs
    steps; 0: skip_step_initial steps (aims-PAX)."""
    equilibration_fs: float = 0.0
    """Sampler MD time (fs) before the first frame of each geometry; 0: none."""
    friction_per_fs: float = 0.0
    """Langevin friction of the sampler (1/fs); 0: md.friction_per_fs (aims-PAX)."""
    n_points_per_sampling_step: int = 2
    """Frames sampled per member and geometry in each sampling round."""
    distinct_member_sets: bool = True
    """Each member trains on its own frames (True) or all share them."""
    intermediate_epochs: int = 5
    """Epochs trained between sampling rounds."""
    desired_acc_scale_idg: float = 10.0
    """IDG stops at validation force MAE <= al.desired_acc * this."""
    min_initial_set_size: int = 20
    """IDG never stops on accuracy before each member has this many training points
    (a tiny first set gives models that drive AL into unphysical geometries)."""
    max_initial_set_size: int = 100
    """IDG stops when the training set (per member) reaches this size."""
    max_initial_epochs: int = 200
    """IDG stops after this many training epochs."""
    converge_initial: bool = False
    """Converge the ensemble at the end of IDG."""
    max_failed_in_a_row: int = 20
    """IDG stops with an error when this many reference labels in a row failed."""

    def __post_init__(self) -> None:
        for key in ("sample_interval_fs", "equilibration_fs", "friction_per_fs"):
            if getattr(self, key) < 0:
                raise ConfigError(f"al.idg.{key}", getattr(self, key), "must be >= 0")
        if self.min_initial_set_size > self.max_initial_set_size:
            raise ConfigError(
                "al.idg.min_initial_set_size",
                self.min_initial_set_size,
                "must be <= al.idg.max_initial_set_size",
            )
        for key in (
            "trajectories_per_system",
            "skip_step_initial",
            "n_points_per_sampling_step",
            "intermediate_epochs",
            "max_initial_set_size",
            "max_initial_epochs",
            "max_failed_in_a_row",
        ):
            if getattr(self, key) < 1:
                raise ConfigError(f"al.idg.{key}", getattr(self, key), "must be >= 1")
        if self.desired_acc_scale_idg <= 0:
            raise ConfigError(
                "al.idg.desired_acc_scale_idg",
                self.desired_acc_scale_idg,
                "must be > 0",
            )

    def sampler_steps(self, timestep_fs: float) -> tuple[int, int]:
        """(equilibration, between frames) sampler MD steps of timestep_fs each.

        Raises:
            ConfigError: sample_interval_fs is set but shorter than one step.
        """
        if not self.sample_interval_fs:
            interval = self.skip_step_initial
        elif self.sample_interval_fs < timestep_fs * (1 - 1e-9):
            raise ConfigError(
                "al.idg.sample_interval_fs",
                self.sample_interval_fs,
                f"is under one md.timestep_fs ({timestep_fs} fs)",
            )
        else:
            interval = _steps(self.sample_interval_fs, timestep_fs)
        return _steps(self.equilibration_fs, timestep_fs), interval


def _steps(time_fs: float, timestep_fs: float) -> int:
    """MD steps that last at least time_fs (a rounding error short counts)."""
    return math.ceil(time_fs / timestep_fs - 1e-9)
