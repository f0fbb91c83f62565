"""Central finite differences of a method's own energies (shared by the dft tests)."""

import numpy as np


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
