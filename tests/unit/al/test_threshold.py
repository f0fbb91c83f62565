import numpy as np
import pytest

from pax.al.decisions import al_stop, goes_to_validation, idg_stop
from pax.al.threshold import Threshold


def test_no_threshold_during_warmup():
    th = Threshold(c_x=0.0, warmup=3)
    for u in (0.1, 0.2, 0.3):
        th.observe("a", u)
        assert th.value("a") is None
        assert not th.crossed("a", 100.0)
    th.observe("a", 0.4)
    assert th.value("a") == pytest.approx(0.25)


@pytest.mark.parametrize(("c_x", "expected"), [(0.0, 0.25), (-0.2, 0.2), (1.0, 0.5)])
def test_threshold_is_scaled_mean(c_x, expected):
    th = Threshold(c_x=c_x, warmup=0)
    for u in (0.1, 0.2, 0.3, 0.4):
        th.observe("a", u)
    assert th.value("a") == pytest.approx(expected)
    assert th.crossed("a", expected + 1e-6) and not th.crossed("a", expected - 1e-6)


def test_window_keeps_recent_values_and_keys_are_separate():
    th = Threshold(c_x=0.0, window=2, warmup=0)
    for u in (10.0, 1.0, 3.0):
        th.observe("a", u)
    th.observe("b", 7.0)
    assert th.value("a") == pytest.approx(2.0)
    assert th.value("b") == pytest.approx(7.0)


def test_floor_ceiling_freeze_and_state():
    th = Threshold(c_x=0.0, warmup=0, floor=0.5, ceiling=2.0)
    th.observe("a", 0.1)
    assert th.value("a") == 0.5
    th.observe("a", 100.0)
    assert th.value("a") == 2.0
    th.freeze()
    th.observe("a", 1000.0)
    assert th.value("a") == 2.0
    th2 = Threshold(c_x=0.0, warmup=0, floor=0.5, ceiling=2.0)
    th2.load_state_dict(th.state_dict())
    assert th2.value("a") == 2.0
    th.observe("a", np.nan)


def test_validation_share():
    n_train = n_valid = 0
    for _ in range(100):
        if goes_to_validation(n_train, n_valid, 0.1):
            n_valid += 1
        else:
            n_train += 1
    assert n_valid == 10 and n_train == 90


def test_stop_rules():
    assert idg_stop(0.5, 1.0, 10, 100, 5, 200) is not None
    assert idg_stop(1.5, 1.0, 10, 100, 5, 200) is None
    assert idg_stop(0.5, 1.0, 10, 100, 5, 200, min_size=20) is None
    assert "max_initial_set_size" in idg_stop(None, 1.0, 100, 100, 5, 200)
    assert "max_initial_epochs" in idg_stop(2.0, 1.0, 10, 100, 200, 200)
    assert al_stop(0.09, 0.1, 10, 100, 0, 10) is not None
    assert al_stop(0.1, 0.1, 10, 100, 0, 10) is None
    assert "max_train_set_size" in al_stop(None, 0.1, 100, 100, 0, 10)
    assert "max_MD_steps" in al_stop(None, 0.1, 10, 100, 10, 10)


def test_energy_target_joins_the_accuracy_stop():
    # off by default: forces alone decide
    assert al_stop(0.09, 0.1, 10, 100, 0, 10, valid_e_mae_mev=50.0) is not None
    # on: accurate forces with a large energy error go on
    assert al_stop(0.09, 0.1, 10, 100, 0, 10, 50.0, 5.0) is None
    assert al_stop(0.09, 0.1, 10, 100, 0, 10, None, 5.0) is None
    reason = al_stop(0.09, 0.1, 10, 100, 0, 10, 4.0, 5.0)
    assert "energy MAE 4.00 <= desired_acc_energy 5.0 meV/atom" in reason
    # accurate energies never stop a run whose forces are not
    assert al_stop(0.2, 0.1, 10, 100, 0, 10, 1.0, 5.0) is None
    # the size limit still stops a run that misses the energy target
    assert "max_train_set_size" in al_stop(0.09, 0.1, 100, 100, 0, 10, 50.0, 5.0)


def test_validation_by_hash_is_a_share_of_tickets_and_order_free():
    from pax.al.decisions import valid_by_hash

    tickets = [f"{i:06d}" for i in range(20000)]
    chosen = {t for t in tickets if valid_by_hash(t, 0.1)}
    # binomial(20000, 0.1): SD 42; 5 SD either side
    assert abs(len(chosen) - 2000) < 5 * 42
    shuffled = sorted(tickets, key=lambda t: t[::-1])  # another arrival order
    assert {t for t in shuffled if valid_by_hash(t, 0.1)} == chosen
    assert not any(valid_by_hash(t, 0.0) for t in tickets[:100])


def test_no_accuracy_stop_before_enough_validation():
    from pax.al.decisions import enough_validation

    assert enough_validation(0.05, 2, 3) is None
    assert enough_validation(0.05, 3, 3) == 0.05
    assert al_stop(enough_validation(0.05, 2, 3), 0.1, 10, 100, 0, 10) is None


def test_prospective_error_must_agree_with_validation():
    # validation says accurate, the new labels' errors before training do not
    assert al_stop(0.05, 0.1, 10, 100, 0, 10, None, 0.0, 0.3, True) is None
    assert al_stop(0.05, 0.1, 10, 100, 0, 10, None, 0.0, None, True) is None
    reason = al_stop(0.05, 0.1, 10, 100, 0, 10, None, 0.0, 0.08, True)
    assert "prospective force MAE 0.0800" in reason
    # off: validation alone decides, as in aims-PAX
    assert al_stop(0.05, 0.1, 10, 100, 0, 10, None, 0.0, 0.3, False) is not None
