"""The benchmark's reference method as an ASE calculator (for reference MD and labels).

`--reference PRESET` names a conf/dft preset; reference MD needs a calculator
that is fast per step, so presets with an ASE calculator are supported here:
xtb (tblite, the preset's method and electronic temperature) and emt.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from ase import Atoms

ROOT = Path(__file__).resolve().parents[2]
SUPPORTED = ("xtb", "emt")


def calculator(preset: str = "xtb"):
    """A fresh ASE calculator for this dft preset."""
    if preset not in SUPPORTED:
        raise SystemExit(
            f"--reference {preset}: reference MD needs an ASE calculator; "
            f"supported presets: {', '.join(SUPPORTED)}"
        )
    cfg = yaml.safe_load((ROOT / "conf" / "dft" / f"{preset}.yaml").read_text())
    if preset == "emt":
        from ase.calculators.emt import EMT

        return EMT()
    from tblite.ase import TBLite

    method = str(cfg.get("method", "GFN2"))
    method = method if method.endswith("-xTB") else f"{method}-xTB"
    return TBLite(
        method=method,
        electronic_temperature=float(cfg.get("electronic_temperature_K", 300.0)),
        verbosity=0,
    )


def label(frames: list[Atoms], preset: str = "xtb", want: int | None = None):
    """Copies of frames with REF_energy (eV) and REF_forces (eV/Å) of the reference.

    Frames the reference fails on (an SCF that does not converge) are left out, as
    pax leaves out a failed label; labelling stops once `want` succeeded. Returns
    (labelled frames, reference calls made, failures included).
    """
    from ase.calculators.calculator import CalculationFailed

    calc, out, calls = calculator(preset), [], 0
    for frame in frames:
        if want is not None and len(out) >= want:
            break
        atoms = frame.copy()
        atoms.calc = calc
        calls += 1
        try:
            energy, forces = (
                float(atoms.get_potential_energy()),
                atoms.get_forces().copy(),
            )
        except CalculationFailed:
            calc = calculator(preset)  # a fresh one: no state from the failure
            continue
        atoms.calc = None
        atoms.info["REF_energy"] = energy
        atoms.arrays["REF_forces"] = forces
        out.append(atoms)
    return out, calls


def agrees(
    frame: Atoms, preset: str = "xtb", atol_eV_A: float = 1e-3, atol_eV: float = 1e-5
) -> bool:
    """Whether a stored frame's REF_energy and REF_forces are this reference's.

    The tolerances sit above SCF noise (xTB forces of one geometry differ by
    ~1e-4 eV/Å between thread counts) and far below a wrong label.
    """
    atoms = frame.copy()
    atoms.set_constraint()
    atoms.calc = calculator(preset)
    forces = atoms.get_forces()
    return bool(
        np.allclose(forces, frame.arrays["REF_forces"], rtol=0, atol=atol_eV_A)
        and abs(atoms.get_potential_energy() - frame.info["REF_energy"]) < atol_eV
    )
