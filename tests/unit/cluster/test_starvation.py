"""The pool warns while labels wait with no worker, and stops when one connects."""

import logging

from pax.cluster import ReferencePool
from pax.cluster.config import LocalClusterConfig
from tests.conftest import build


def test_warning_every_period_while_starved_then_quiet(tmp_path, caplog):
    cfg = LocalClusterConfig(no_worker_warning_s=10)
    pool = ReferencePool(cfg, build().dft, tmp_path)  # not opened: no Parsl needed
    with caplog.at_level(logging.WARNING, logger="pax.cluster.pool"):
        pool._watch_starvation(connected=0, waiting=2, now=100.0)  # starts the clock
        pool._watch_starvation(connected=0, waiting=2, now=105.0)
        assert caplog.text == ""
        pool._watch_starvation(connected=0, waiting=2, now=110.0)
        assert (
            "2 reference label(s) waited 10 s with no worker connected" in caplog.text
        )
        assert str(tmp_path / "parsl") in caplog.text
        pool._watch_starvation(connected=0, waiting=2, now=115.0)
        assert caplog.text.count("waited") == 1  # not before another period
        pool._watch_starvation(connected=0, waiting=3, now=120.0)
        assert "3 reference label(s) waited 20 s" in caplog.text
        caplog.clear()
        pool._watch_starvation(connected=1, waiting=3, now=125.0)  # a worker came
        pool._watch_starvation(connected=0, waiting=3, now=126.0)
        pool._watch_starvation(connected=0, waiting=3, now=130.0)
        assert caplog.text == ""


def test_no_warning_when_nothing_waits_or_turned_off(tmp_path, caplog):
    for cfg, waiting in (
        (LocalClusterConfig(), 0),
        (LocalClusterConfig(no_worker_warning_s=0), 5),
    ):
        pool = ReferencePool(cfg, build().dft, tmp_path)
        with caplog.at_level(logging.WARNING, logger="pax.cluster.pool"):
            for now in (0.0, 1000.0, 2000.0):
                pool._watch_starvation(connected=0, waiting=waiting, now=now)
    assert caplog.text == ""
