"""The ledger: records survive reopening, a torn last line is dropped, hashes are stable."""

import json

import numpy as np
import pytest
from ase.build import bulk, molecule

from pax.cluster.ledger import (
    Ledger,
    atoms_from_dict,
    atoms_to_dict,
    geometry_hash,
    labelled_from_dict,
    labelled_to_dict,
    read_records,
)
from pax.dft.labelled import Labelled


def _ok(n_atoms=3):
    return Labelled(
        "ok", -1.5, np.arange(3.0 * n_atoms).reshape(n_atoms, 3), wall_s=0.1
    )


def test_hash_ignores_noise_below_the_quantum_and_sees_real_moves():
    a = molecule("H2O")
    b = a.copy()
    b.positions += 1e-8
    c = a.copy()
    c.positions[0, 0] += 1e-3
    assert geometry_hash(a) == geometry_hash(b) != geometry_hash(c)
    d = a.copy()
    d.numbers[1], d.numbers[0] = d.numbers[0], d.numbers[1]
    assert geometry_hash(d) != geometry_hash(a)
    e = bulk("Cu", cubic=True)
    f = e.copy()
    f.set_cell(e.cell * 1.01, scale_atoms=False)
    assert geometry_hash(e) != geometry_hash(f)


def test_atoms_and_labels_round_trip():
    atoms = bulk("Cu", cubic=True)
    atoms.info["note"] = "x"
    back = atoms_from_dict(json.loads(json.dumps(atoms_to_dict(atoms))))
    assert (
        np.allclose(back.positions, atoms.positions) and (back.pbc == atoms.pbc).all()
    )
    assert back.info["note"] == "x" and geometry_hash(back) == geometry_hash(atoms)
    result = Labelled(
        "ok", -3.0, np.ones((4, 3)), np.arange(6.0), 0.2, info={"n": np.int64(3)}
    )
    again = labelled_from_dict(json.loads(json.dumps(labelled_to_dict(result))))
    assert again.energy == -3.0 and np.array_equal(again.stress, np.arange(6.0))
    assert again.info["n"] == 3 and again.forces.shape == (4, 3)


def test_reopen_sees_every_state(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)
    water = molecule("H2O")
    for ticket in ("000000", "000001", "000002"):
        ledger.submitted(ticket, {"traj": int(ticket)}, water, f"h{ticket}")
    ledger.finished("000000", _ok())
    ledger.finished("000001", Labelled.failed("SCF not converged"))
    ledger.close()

    again = Ledger(path)
    states = {t: e.state for t, e in again.entries.items()}
    assert states == {"000000": "done", "000001": "failed", "000002": "submitted"}
    assert again.entries["000002"].tag == {"traj": 2}
    assert list(again.done_by_hash()) == ["h000000"]
    assert [r["event"] for r in read_records(path)] == ["submitted"] * 3 + [
        "done",
        "failed",
    ]
    again.close()


@pytest.mark.parametrize("cut", [1, 17, -2])
def test_a_torn_last_line_is_dropped_and_appending_goes_on(tmp_path, cut):
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)
    ledger.submitted("000000", {}, molecule("H2O"), "h0")
    ledger.finished("000000", _ok())
    ledger.close()
    intact = path.read_bytes()
    last = intact[: intact.rstrip(b"\n").rfind(b"\n") + 1]  # without the 'done' line
    torn = intact[len(last) :][:cut]
    path.write_bytes(last + torn)  # as a SIGKILL mid-write leaves it

    again = Ledger(path)
    assert again.entries["000000"].state == "submitted"
    again.finished("000000", _ok())
    again.close()
    assert path.read_bytes().endswith(b"\n")
    assert [r["event"] for r in read_records(path)] == ["submitted", "done"]
    assert Ledger(path).entries["000000"].state == "done"
