"""The monitor warns while labels wait with no worker, and stops when one connects."""

import logging

from pax.cluster.config import LocalClusterConfig
from pax.cluster.monitor import WorkerMonitor


def _monitor(cfg, run_dir):
    return WorkerMonitor(cfg, run_dir, "pax-test", waiting=lambda: 0)  # not started


def test_warning_every_period_while_starved_then_quiet(tmp_path, caplog):
    cfg = LocalClusterConfig(no_worker_warning_s=10)
    monitor = _monitor(cfg, tmp_path)
    with caplog.at_level(logging.WARNING, logger="pax.cluster.monitor"):
        monitor.watch_starvation(connected=0, waiting=2, now=100.0)  # starts the clock
        monitor.watch_starvation(connected=0, waiting=2, now=105.0)
        assert caplog.text == ""
        monitor.watch_starvation(connected=0, waiting=2, now=110.0)
        assert (
            "2 reference label(s) waited 10 s with no worker connected" in caplog.text
        )
        assert str(tmp_path / "parsl") in caplog.text
        monitor.watch_starvation(connected=0, waiting=2, now=115.0)
        assert caplog.text.count("waited") == 1  # not before another period
        monitor.watch_starvation(connected=0, waiting=3, now=120.0)
        assert "3 reference label(s) waited 20 s" in caplog.text
        caplog.clear()
        monitor.watch_starvation(connected=1, waiting=3, now=125.0)  # a worker came
        monitor.watch_starvation(connected=0, waiting=3, now=126.0)
        monitor.watch_starvation(connected=0, waiting=3, now=130.0)
        assert caplog.text == ""


def test_no_warning_when_nothing_waits_or_turned_off(tmp_path, caplog):
    for cfg, waiting in (
        (LocalClusterConfig(), 0),
        (LocalClusterConfig(no_worker_warning_s=0), 5),
    ):
        monitor = _monitor(cfg, tmp_path)
        with caplog.at_level(logging.WARNING, logger="pax.cluster.monitor"):
            for now in (0.0, 1000.0, 2000.0):
                monitor.watch_starvation(connected=0, waiting=waiting, now=now)
    assert caplog.text == ""
