"""The al schema's settings that aims-PAX hard-codes: defaults and range checks."""

import pytest

from pax.al.config import ALConfig
from pax.al.idg_config import IDGConfig
from pax.errors import ConfigError


def test_defaults_keep_the_old_constants():
    assert ALConfig().stops_before_label == 2
    assert IDGConfig().max_failed_in_a_row == 20


@pytest.mark.parametrize(
    ("make", "key"),
    [
        (lambda: ALConfig(stops_before_label=0), "al.stops_before_label"),
        (lambda: IDGConfig(max_failed_in_a_row=0), "al.idg.max_failed_in_a_row"),
        (lambda: ALConfig(desired_acc_energy=-1.0), "al.desired_acc_energy"),
        (lambda: ALConfig(uncertainty="max_sd"), "al.uncertainty"),
        (lambda: ALConfig(min_valid_size=0), "al.min_valid_size"),
        (lambda: ALConfig(prospective_window=-1), "al.prospective_window"),
        (lambda: IDGConfig(equilibration_fs=-1.0), "al.idg.equilibration_fs"),
        (lambda: IDGConfig(sample_interval_fs=-1.0), "al.idg.sample_interval_fs"),
        (lambda: IDGConfig(friction_per_fs=-0.1), "al.idg.friction_per_fs"),
        (lambda: ALConfig(temperatures_K=[300.0, 0.0]), "al.temperatures_K"),
    ],
)
def test_out_of_range_names_the_key(make, key):
    with pytest.raises(ConfigError, match=key):
        make()


@pytest.mark.parametrize(
    ("interval_fs", "equilibration_fs", "timestep_fs", "steps"),
    [
        (0.0, 0.0, 0.5, (0, 25)),  # aims-PAX: skip_step_initial steps
        (12.5, 100.0, 0.5, (200, 25)),
        (2.1, 0.2, 0.3, (1, 7)),  # 2.1 / 0.3 is 7.000000000000001
        (0.7, 0.0, 0.5, (0, 2)),  # at least 0.7 fs apart
    ],
)
def test_sampler_steps_last_at_least_the_times(
    interval_fs, equilibration_fs, timestep_fs, steps
):
    idg = IDGConfig(sample_interval_fs=interval_fs, equilibration_fs=equilibration_fs)
    assert idg.sampler_steps(timestep_fs) == steps


def test_a_sample_interval_under_one_md_step_is_refused(pax_config):
    with pytest.raises(ConfigError, match="al.idg.sample_interval_fs=0.2: is under"):
        pax_config(["al.idg.sample_interval_fs=0.2", "md.timestep_fs=0.5"])
