"""The al schema's settings that aims-PAX hard-codes: defaults and range checks."""

import pytest

from pax.al.config import ALConfig, IDGConfig
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
    ],
)
def test_out_of_range_names_the_key(make, key):
    with pytest.raises(ConfigError, match=key):
        make()
