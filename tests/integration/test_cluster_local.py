"""ReferencePool on local Parsl workers: real HTEX processes, real labels, a real SIGKILL."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import psutil
import pytest
from ase.build import molecule

import pax.dft
from pax.cluster import ReferencePool
from pax.cluster.config import LocalClusterConfig
from pax.cluster.ledger import geometry_hash, read_records
from pax.dft.emt import EMTConfig

ROOT = Path(__file__).resolve().parents[2]


def reference(delay_s: float = 0.0):
    """xTB when pax.dft offers it (water takes ~ms), else EMT (with an optional delay).

    The delay makes EMT slow enough to kill or cancel mid-batch; xTB is not
    slowed, so the tests that need slow tasks take EMT.
    """
    if delay_s == 0.0 and "xtb" in pax.dft.METHODS:
        from pax.dft.xtb import XTBConfig

        return XTBConfig(charge=0, multiplicity=1)
    return EMTConfig(delay_s=delay_s, charge=0, multiplicity=1)


def geometries(n: int, seed: int = 0):
    """N distinct, slightly distorted water molecules."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        atoms = molecule("H2O")
        atoms.positions += rng.normal(0.0, 0.03, atoms.positions.shape)
        frames.append(atoms)
    return frames


def direct_energy(atoms, dft_cfg) -> float:
    """The label computed in this process, to compare with the pool's."""
    return pax.dft.label(atoms, dft_cfg, ".").energy


def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def test_twenty_labels_with_two_workers(tmp_path: Path):
    dft_cfg = reference()
    frames = geometries(20)
    cfg = LocalClusterConfig(max_workers=2, cores_per_worker=1)
    with ReferencePool(cfg, dft_cfg, tmp_path) as pool:
        assert pool.workers == 2
        t0 = time.monotonic()
        tickets = [
            pool.submit(a, {"phase": "test", "i": i}) for i, a in enumerate(frames)
        ]
        assert len(set(tickets)) == 20 and pool.in_flight == 20
        assert pool.mean_label_s is None  # nothing finished yet
        got = []
        while len(got) < 20 and time.monotonic() - t0 < 120:
            got += pool.completed()  # non-blocking
            time.sleep(0.01)
        elapsed = time.monotonic() - t0
        utilisation = pool.utilisation()
        assert pool.in_flight == 0
        assert pool.mean_label_s == pytest.approx(pool.busy_s / 20)
        assert 0 < pool.mean_label_s < elapsed
        # connected_workers is sampled about once a second by the pool's monitor
        wait_for(lambda: pool.connected_workers == 2, 10, "2 connected workers")
    print(
        f"\n[cluster local] {dft_cfg.kind}: 20 labels in {elapsed:.2f} s, utilisation {utilisation:.2f}"
    )
    assert sorted(c.ticket for c in got) == sorted(tickets)
    assert all(c.result.ok for c in got)
    by_i = {c.tag["i"]: c for c in got}
    for i in (0, 7, 19):
        assert by_i[i].result.energy == pytest.approx(
            direct_energy(frames[i], dft_cfg), abs=1e-6
        )
        assert by_i[i].result.forces.shape == (3, 3)
    assert len({c.result.info["pid"] for c in got}) == 2  # both workers worked
    assert {c.result.info["omp_threads"] for c in got} == {"1"}
    assert 0.0 < utilisation <= 1.0
    events = Counter(r["event"] for r in read_records(tmp_path / "ledger.jsonl"))
    assert events == {"submitted": 20, "done": 20}


def test_done_geometries_are_not_recomputed(tmp_path: Path):
    dft_cfg = reference()
    frames = geometries(3, seed=1)
    cfg = LocalClusterConfig(max_workers=2)
    with ReferencePool(cfg, dft_cfg, tmp_path) as pool:
        first = [pool.submit(a, {"round": 1}) for a in frames]
        assert len(pool.drain(60)) == 3
        same = frames[1].copy()
        same.positions += 1e-9  # below the hash's rounding
        assert pool.submit(same, {"round": 2}) == first[1]
        assert pool.in_flight == 0  # answered from the ledger, nothing started
        (cached,) = pool.completed()
        assert cached.tag == {"round": 2} and cached.result.ok
    with ReferencePool(cfg, dft_cfg, tmp_path) as pool:  # reopened: still known
        assert {c.ticket for c in pool.recovered()} == set(first)
        assert pool.submit(frames[2], {"round": 3}) == first[2]
        assert pool.in_flight == 0
    assert Counter(r["event"] for r in read_records(tmp_path / "ledger.jsonl")) == {
        "submitted": 3,
        "done": 3,
    }


def test_failed_label_is_recorded_not_raised(tmp_path: Path):
    dft_cfg = EMTConfig(charge=0, multiplicity=1)
    atoms = molecule("H2O")
    atoms.numbers[0] = 92  # uranium: EMT has no parameters, the method raises
    with ReferencePool(LocalClusterConfig(max_workers=1), dft_cfg, tmp_path) as pool:
        ticket = pool.submit(atoms, {"i": 0})
        (done,) = pool.drain(60)
    assert done.ticket == ticket and not done.result.ok and done.result.reason
    assert [r["event"] for r in read_records(tmp_path / "ledger.jsonl")] == [
        "submitted",
        "failed",
    ]


CHILD = """
import sys, time
from pathlib import Path
from pax.cluster import ReferencePool
from pax.cluster.config import LocalClusterConfig
from tests.integration.test_cluster_local import geometries, reference
with ReferencePool(LocalClusterConfig(max_workers=2), reference(0.4), Path(sys.argv[1])) as pool:
    for i, atoms in enumerate(geometries(12)):
        pool.submit(atoms, {"i": i})
    print("submitted", flush=True)
    while pool.in_flight:
        pool.completed()
        time.sleep(0.02)
"""


@pytest.mark.slow
def test_sigkill_mid_batch_then_restart_labels_each_geometry_once(tmp_path: Path):
    ledger = tmp_path / "ledger.jsonl"
    log = open(
        tmp_path / "child.log", "w"
    )  # a file, not a pipe: orphans cannot hold it
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    family = []
    try:

        def some_done():
            done = (
                sum(r["event"] == "done" for r in read_records(ledger))
                if ledger.exists()
                else 0
            )
            return 3 <= done < 12

        wait_for(some_done, 60, "3 labels from the child")
        family = psutil.Process(child.pid).children(recursive=True)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
        for proc in family:  # the orphaned interchange and workers, by pid
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        log.close()
    before = read_records(ledger)
    done_before = {r["ticket"] for r in before if r["event"] == "done"}
    assert 3 <= len(done_before) < 12, (tmp_path / "child.log").read_text()

    frames = geometries(12)
    cfg = LocalClusterConfig(max_workers=2)
    with ReferencePool(cfg, reference(0.4), tmp_path) as pool:
        recovered = pool.recovered()
        assert {c.ticket for c in recovered} == done_before
        resubmitted = pool.in_flight
        assert resubmitted == 12 - len(done_before)
        # the workflow asks for every geometry again: nothing is computed twice
        tickets = [
            pool.submit(a, {"i": i, "again": True}) for i, a in enumerate(frames)
        ]
        assert pool.in_flight == resubmitted
        got = pool.drain(60)
    assert pool.in_flight == 0
    records = read_records(ledger)
    hashes = {geometry_hash(a) for a in frames}
    submitted = {r["ticket"]: r["hash"] for r in records if r["event"] == "submitted"}
    assert set(submitted.values()) == hashes and len(submitted) == 12
    done_per_hash = Counter(
        submitted[r["ticket"]] for r in records if r["event"] == "done"
    )
    assert done_per_hash == dict.fromkeys(
        hashes, 1
    )  # every geometry labelled exactly once
    assert sum(r["event"] == "resubmitted" for r in records) == resubmitted
    # every submit of the restarted run was answered, under the tickets of the first run
    assert sorted(tickets) == sorted(submitted)
    answered = Counter(c.ticket for c in got if c.tag.get("again"))
    assert answered == dict.fromkeys(submitted, 1)
    with ReferencePool(
        cfg, reference(0.4), tmp_path
    ) as pool:  # a third start: all known
        assert len(pool.recovered()) == 12 and pool.in_flight == 0
