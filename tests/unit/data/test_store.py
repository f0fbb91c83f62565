import numpy as np
import pytest
from ase.build import molecule

from pax.data import DatasetStore, geometry_hash, labelled_atoms
from pax.dft import Labelled
from pax.errors import PaxError


def _frame(i, periodic=False):
    atoms = molecule("H2O")
    atoms.positions[0, 0] += 0.01 * i
    if periodic:
        atoms.cell = [5, 5, 5]
        atoms.pbc = True
    result = Labelled(
        "ok", -10.0 - i, np.full((3, 3), float(i)), np.arange(6.0) if periodic else None
    )
    return labelled_atoms(atoms, result, f"id{i}")


def test_round_trip_and_dedupe(tmp_path):
    store = DatasetStore(tmp_path)
    store.add("train", _frame(0))
    store.add("train", _frame(0))
    store.add("valid", _frame(1, periodic=True))
    again = DatasetStore(tmp_path)
    assert again.size("train") == 1 and again.size("valid") == 1
    assert again.label_ids() == {"id0", "id1"}
    frame = again.get("valid")[0]
    assert frame.info["REF_energy"] == -11.0
    np.testing.assert_allclose(frame.arrays["REF_forces"], 1.0)
    np.testing.assert_allclose(frame.info["REF_stress"], np.arange(6.0))
    assert frame.info["geometry_hash"] == geometry_hash(frame)


def test_corrupt_file_is_named(tmp_path):
    store = DatasetStore(tmp_path)
    store.add("train", _frame(0))
    store.add("train", _frame(1))
    path = tmp_path / "train.extxyz"
    path.write_text(path.read_text()[:-60])
    with pytest.raises(PaxError, match="train.extxyz"):
        DatasetStore(tmp_path)


def test_no_temp_file_left(tmp_path):
    store = DatasetStore(tmp_path)
    store.add("train", _frame(0))
    assert [p.name for p in tmp_path.iterdir()] == ["train.extxyz"]


def test_numeric_looking_ids_stay_text(tmp_path):
    store = DatasetStore(tmp_path)
    frame = _frame(0)
    frame.info["label_id"] = "000009"
    frame.info["geometry_hash"] = "12e45"
    store.add("train", frame)
    again = DatasetStore(tmp_path)
    info = again.get("train")[0].info
    assert info["label_id"] == "000009" and info["geometry_hash"] == "12e45"
    assert "000009" in again
