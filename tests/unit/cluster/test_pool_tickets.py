"""ReferencePool.in_flight_tickets: what a resumed AL keeps waiting for."""

from ase.build import molecule

from pax.cluster import ReferencePool
from pax.cluster.config import LocalClusterConfig
from tests.conftest import build


def test_in_flight_tickets_are_the_running_calculations(tmp_path):
    pool = ReferencePool(LocalClusterConfig(), build().dft, tmp_path)  # not opened
    assert pool.in_flight_tickets() == set()
    with pool._lock:
        pool._register("000003", {"phase": "al", "traj": 0}, molecule("H2O"), "h3")
        pool._register("000007", {"phase": "al", "traj": 1}, molecule("H2O"), "h7")
    assert pool.in_flight_tickets() == {"000003", "000007"}
    assert pool.in_flight == 2
