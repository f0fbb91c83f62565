"""An ASE calculator for a whole committee (Ensemble or exported model files)."""

from __future__ import annotations

import logging

import numpy as np
import torch
from ase.calculators.calculator import Calculator, all_changes

from pax.al.uncertainty import Committee, committee_uncertainty

log = logging.getLogger(__name__)


class EnsembleCalculator(Calculator):
    """Committee-mean energy and forces with the spread, named as MACECalculator does.

    Results: energy (eV), free_energy, forces (n, 3) eV/Å (committee mean),
    energy_comm = energies (K,) eV, energy_var, forces_comm (K, n, 3) per-member
    forces (MACECalculator's convention; Ensemble.predict's forces_comm is the mean),
    forces_var (n, 3) variance; the uncertainty measures of pax.al.uncertainty
    (max_atomic_sd, mean_atomic_sd in eV/Å, energy_sd_per_atom in eV/atom: the
    same definitions as in AL); stress (6 Voigt, eV/Å^3) for periodic cells.

    Args:
        predictor: anything with predict(atoms_list, compute_stress) -> dict, such as
            pax.mlff.ensemble.Ensemble or pax.mlff.predict.ModelFiles.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, predictor, **kwargs) -> None:
        super().__init__(**kwargs)
        self.predictor = predictor

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        """Run every member on one structure."""
        super().calculate(atoms, properties, system_changes)
        periodic = bool(self.atoms.pbc.any())
        out = self.predictor.predict([self.atoms], compute_stress=periodic)
        forces = out["forces"]  # (K, n, 3) eV/Å
        var = out["forces_var"]  # (n, 3) eV²/Å²
        self.results = {
            "energy": float(out["energy"][0]),
            "free_energy": float(out["energy"][0]),
            "forces": out["forces_comm"],
            "energies": out["energies"][:, 0],
            "energy_comm": out["energies"][:, 0],
            "energy_var": float(out["energy_var"][0]),
            "forces_comm": forces,
            "forces_var": var,
        }
        from pax.md.molecules import molecule_ids

        committee = Committee(
            torch.from_numpy(forces),
            torch.from_numpy(out["energies"][:, :1]),
            torch.zeros(len(forces[0]), dtype=torch.int64),
            1,
            torch.from_numpy(molecule_ids(self.atoms)),
            torch.from_numpy(self.atoms.positions),
            torch.from_numpy(self.atoms.get_masses()),
            torch.from_numpy(self.atoms.cell.array[None]),
            torch.from_numpy(self.atoms.pbc[None]),
        )
        for name, value in committee_uncertainty(committee).items():
            if value.shape == (1,):
                self.results[name] = float(value[0])
        if periodic:
            s = out["stress"][0]  # (3, 3) eV/Å^3
            self.results["stress"] = np.array(
                [s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]]
            )
