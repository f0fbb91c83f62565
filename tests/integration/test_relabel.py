"""pax-relabel: GFN1 labels recomputed with GFN2 through the real ReferencePool."""

import json

import numpy as np
import pytest
from ase.build import molecule
from ase.io import read, write

from pax.dft import label
from pax.dft.xtb import XTBConfig, XTBMethod
from pax.relabel import main

OVERRIDES = ["dft=xtb", "dft.method=GFN2", "cluster.max_workers=1"]


def gfn1_frames(n=4):
    frames = []
    for k in range(n):
        atoms = molecule("H2O")
        atoms.rattle(0.05, seed=k)
        result = label(atoms, XTBConfig(method=XTBMethod.GFN1), ".")
        atoms.info["REF_energy"] = result.energy
        atoms.arrays["REF_forces"] = result.forces
        frames.append(atoms)
    return frames


def test_relabel_writes_gfn2_labels_a_report_and_resumes(tmp_path):
    data = tmp_path / "gfn1.extxyz"
    write(data, gfn1_frames())
    run_dir, out = tmp_path / "relabel", tmp_path / "gfn2.extxyz"
    argv = [str(data), *OVERRIDES, "--run-dir", str(run_dir), "--out", str(out)]
    assert main(argv) == 0
    new = read(out, ":")
    assert len(new) == 4
    gfn2 = label(new[2], XTBConfig(method=XTBMethod.GFN2), str(tmp_path))
    assert np.allclose(new[2].arrays["REF_forces"], gfn2.forces, atol=1e-4)
    assert new[2].info["REF_energy"] == pytest.approx(gfn2.energy, abs=1e-5)
    rep = json.loads((run_dir / "relabel_report.json").read_text())
    assert rep["relabelled"] == 4 and rep["failed"] == []
    assert rep["force_change"]["mae"] > 0.01  # GFN1 and GFN2 differ
    assert abs(rep["energy_change_per_atom"]["mean"]) > 0.1
    ledger = (run_dir / "ledger.jsonl").read_text().splitlines()
    assert main(argv) == 0  # everything is in the ledger: nothing is computed again
    assert (run_dir / "ledger.jsonl").read_text().splitlines() == ledger
