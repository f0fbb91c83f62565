"""Failures are contained: timeout, a killed child, an exception, NaN; info is stamped."""

import math
import multiprocessing
import pickle
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from ase.build import bulk

import pax.dft
from pax.dft import METHODS, isolation, label
from pax.dft.emt import EMTConfig
from pax.dft.labelled import Labelled, finish
from tests.conftest import ROOT


@pytest.fixture
def copper():
    return bulk("Cu", cubic=True)


def test_registry_matches_the_presets():
    assert set(METHODS) == {p.stem for p in (ROOT / "conf" / "dft").glob("*.yaml")}
    for kind, method in METHODS.items():
        assert method.schema.kind == kind
    for fn in [label, *(method.label for method in METHODS.values())]:
        assert pickle.loads(pickle.dumps(fn)) is fn


def test_ok_label_has_origin(copper, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    result = label(copper, EMTConfig(), ".")
    assert result.ok and result.stress.shape == (6,)
    assert result.info["slurm_job_id"] == "4242"
    assert {"host", "pid"} <= set(result.info)
    assert result.wall_s > 0


def test_timeout_returns_failed_quickly(copper):
    label(copper, EMTConfig(), ".")  # warm child: startup is not part of the limit
    start = time.perf_counter()
    result = label(copper, EMTConfig(delay_s=30, timeout_s=0.5), ".")
    assert not result.ok
    assert "timeout" in result.reason and "dft.timeout_s" in result.reason
    assert time.perf_counter() - start < 10
    assert label(copper, EMTConfig(), ".").ok  # a fresh child takes over


def test_killed_calculation_returns_failed(copper):
    label(copper, EMTConfig(), ".")
    box = {}
    worker = threading.Thread(
        target=lambda: box.setdefault("r", label(copper, EMTConfig(delay_s=60), "."))
    )
    worker.start()
    deadline = time.monotonic() + 10
    while not isolation.busy_pids() and time.monotonic() < deadline:
        time.sleep(0.01)
    (pid,) = isolation.busy_pids()
    import os
    import signal

    os.kill(pid, signal.SIGKILL)
    worker.join(timeout=20)
    assert not worker.is_alive()
    assert box["r"].status == "failed"
    assert "SIGKILL" in box["r"].reason
    assert label(copper, EMTConfig(), ".").ok


def test_exception_in_the_calculation_is_a_failed_label():
    uranium = bulk("U", "bcc", a=3.4)  # EMT has no parameters for U
    result = label(uranium, EMTConfig(), ".")
    assert not result.ok and "NotImplementedError" in result.reason


@pytest.mark.parametrize(
    ("energy", "forces", "fragment"),
    [
        (math.nan, np.zeros((2, 3)), "non-finite energy"),
        (1.0, np.full((2, 3), np.inf), "non-finite forces"),
        (1.0, np.zeros((3, 3)), "shape"),
    ],
)
def test_bad_numbers_become_failed(energy, forces, fragment):
    result = finish(Labelled("ok", energy, forces), 0.1, n_atoms=2)
    assert not result.ok and fragment in result.reason
    assert "host" in result.info


def test_unknown_kind_does_not_raise(copper, monkeypatch):
    monkeypatch.setitem(pax.dft.METHODS, "emt", None)
    result = label(copper, EMTConfig(), ".")
    assert not result.ok and "emt raised" in result.reason


def test_label_runs_in_a_spawned_worker(copper):
    """Like a Parsl worker: pickled function, fresh interpreter, nested child."""
    with ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        result = pool.submit(label, copper, EMTConfig(), ".").result(timeout=120)
    assert result.ok
    direct = label(copper, EMTConfig(), ".")
    assert result.energy == pytest.approx(direct.energy, abs=1e-12)


def test_child_is_reused_until_thread_settings_change(copper, monkeypatch):
    first = label(copper, EMTConfig(), ".").info["calc_pid"]
    assert label(copper, EMTConfig(), ".").info["calc_pid"] == first
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert label(copper, EMTConfig(), ".").info["calc_pid"] != first
