"""Central finite differences of a method's own energies (used by the dft tests)."""

import numpy as np
from ase.build import bulk
from ase.calculators.emt import EMT


def fd_forces(energy, atoms, step_A=1e-3):
    """-dE/dx by central differences: (n_atoms, 3) eV/Å."""
    forces = np.zeros((len(atoms), 3))
    for i in range(len(atoms)):
        for j in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[i, j] += step_A
            minus.positions[i, j] -= step_A
            forces[i, j] = -(energy(plus) - energy(minus)) / (2 * step_A)
    return forces


def test_fd_forces_reproduce_analytic_emt_forces():
    copper = bulk("Cu", cubic=True)
    copper.rattle(0.05, seed=0)

    def energy(atoms):
        atoms.calc = EMT()
        return atoms.get_potential_energy()

    analytic = copper.copy()
    analytic.calc = EMT()
    np.testing.assert_allclose(
        fd_forces(energy, copper), analytic.get_forces(), atol=1e-5
    )
