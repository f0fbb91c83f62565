"""Resume after a SIGKILL with AL labels in flight: waiting, label counts, compare.

One tiny water run (EMT slowed down, so labels stay in flight for a while) is
SIGKILLed right after AL saved its state while a trajectory waited for a label
that the ledger does not hold yet; the same command then finishes it. The
tests read that run's records.
"""

import json
from pathlib import Path

import pytest
import torch

from pax.cluster.ledger import FINAL, read_records
from pax.tracking import compare
from tests.integration.workflow_helpers import events, kill_when, run_pax

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

RUN = [
    "dft=emt",
    "dft.delay_s=5",
    "cluster.max_workers=2",
    "al.max_MD_steps=600",
    "al=aims_pax",  # distinct member sets: AL needs ~10 labels to reach 14 per member
    "al.sanity.enabled=false",  # EMT water breaks its bonds: the gate refuses all
]
"""Labels take 5 s on two workers, so AL saves its state (every 10 s) with labels
out even when its trajectories fly apart and it ends after a few labels."""


def finished_tickets(run_dir: Path) -> set[str]:
    """Tickets with a done or failed record in the ledger."""
    path = run_dir / "ledger.jsonl"
    records = read_records(path) if path.exists() else []
    return {r["ticket"] for r in records if r["event"] in FINAL}


def saved_waiting(run_dir: Path) -> dict[int, str]:
    """trajectory -> ticket that state/al.pt says waits for its label."""
    state = torch.load(run_dir / "state" / "al.pt", weights_only=False)
    return {int(k): v for k, v in state["waiting"].items()}


class WaitingInFlight:
    """kill_when predicate: al.pt has a trajectory waiting for an unfinished label."""

    def __init__(self) -> None:
        self.seen_mtime = None

    def __call__(self, run_dir: Path) -> bool:
        path = run_dir / "state" / "al.pt"
        if not path.exists() or path.stat().st_mtime == self.seen_mtime:
            return False
        self.seen_mtime = path.stat().st_mtime
        try:
            waiting = saved_waiting(run_dir)
        except Exception:  # noqa: BLE001 - caught between write and rename
            return False
        return bool(set(waiting.values()) - finished_tickets(run_dir))


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    """(run dir, waiting at the kill, tickets in flight at the kill), run finished."""
    run_dir = tmp_path_factory.mktemp("labels") / "run"
    assert kill_when(run_dir, WaitingInFlight(), 300, *RUN), "AL had no label out"
    waiting = saved_waiting(run_dir)
    in_flight = set(waiting.values()) - finished_tickets(run_dir)
    assert in_flight
    proc = run_pax(run_dir, *RUN, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run_dir, waiting, in_flight


def after_resume(run_dir: Path) -> list[dict]:
    """The records since the resumed session started AL."""
    rows = events(run_dir)
    starts = [
        i
        for i, r in enumerate(rows)
        if r["kind"] == "phase" and r["phase"] == "al" and r["event"] == "start"
    ]
    assert len(starts) == 2, "expected one AL start per session"
    return rows[starts[-1] :]


def test_waiting_trajectories_wait_for_their_labels_after_resume(resumed):
    run_dir, waiting, in_flight = resumed
    rows = after_resume(run_dir)
    for traj, ticket in waiting.items():
        if ticket not in in_flight:
            continue
        arrived = [
            i
            for i, r in enumerate(rows)
            if r["kind"] == "sampling" and r.get("ticket") == ticket
        ]
        assert arrived, f"trajectory {traj}'s label {ticket} never came back"
        moved = [
            r
            for r in rows[: arrived[0]]
            if r["kind"] == "uncertainty" and r["traj"] == traj
        ]
        assert not moved, f"trajectory {traj} ran on before its label {ticket} came"
        assert rows[arrived[0]]["traj"] == traj


def test_logged_labels_equal_the_ledger(resumed):
    run_dir, _, _ = resumed
    ledger = {
        r["ticket"]: r["event"]
        for r in read_records(run_dir / "ledger.jsonl")
        if r["event"] in FINAL
    }
    sampling = events(run_dir, "sampling")
    tickets = [r["ticket"] for r in sampling]
    assert len(tickets) == len(set(tickets)), "a label was logged twice"
    assert set(tickets) == set(ledger)
    summary = events(run_dir, "summary")[-1]
    assert summary["labels_total"] == sum(e == "done" for e in ledger.values())
    assert summary["labels_failed"] == sum(e == "failed" for e in ledger.values())


def test_compare_learning_curve_on_a_real_run(resumed, tmp_path):
    run_dir, _, _ = resumed
    _, rows = compare.compare([run_dir])
    sizes = [n for n, _ in rows[0]["curve"]]
    assert len(sizes) >= 2, "the learning-curve panel is empty"
    assert sizes == sorted(sizes) and sizes[0] >= 1
    summary = json.loads((run_dir / "results" / "summary.json").read_text())
    assert sizes[-1] == summary["n_train"]
    assert compare.main([str(run_dir), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "compare.png").stat().st_size > 0
