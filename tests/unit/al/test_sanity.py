"""The physical-sanity gate on hand-made geometries: fused atoms, a broken bond,
an energy outlier and a force cap, each refused with its reason."""

import numpy as np
import pytest
from ase.build import molecule

from pax.al.config import SanityConfig
from pax.al.sanity import bond_graph, unphysical
from pax.errors import ConfigError

ON = SanityConfig(enabled=True)


@pytest.fixture
def ethanol():
    return molecule("CH3CH2OH")


def _hydroxyl(atoms):
    o = int(np.flatnonzero(atoms.numbers == 8)[0])
    h = min(
        (i for i in range(len(atoms)) if atoms.numbers[i] == 1),
        key=lambda i: atoms.get_distance(o, i),
    )
    return o, h


def test_equilibrium_geometry_passes(ethanol):
    forces = np.ones((len(ethanol), 3))
    assert unphysical(ethanol, ethanol, ON, forces, -10.0, -10.0) is None


def test_fused_atoms_refused(ethanol):
    bad = ethanol.copy()
    o, h = _hydroxyl(bad)
    bad.set_distance(o, h, 0.2, fix=0)
    assert "fused atoms" in unphysical(bad, ethanol, ON)


def test_broken_bond_refused_unless_reactive(ethanol):
    bad = ethanol.copy()
    o, h = _hydroxyl(bad)
    bad.set_distance(o, h, 2.0, fix=0)  # far from fused, far from bonded
    reason = unphysical(bad, ethanol, ON)
    assert "bond graph changed" in reason and f"({min(o, h)}, {max(o, h)})" in reason
    reactive = SanityConfig(enabled=True, bond_factor=0)
    assert unphysical(bad, ethanol, reactive) is None


def test_energy_outlier_refused(ethanol):
    n = len(ethanol)
    assert unphysical(ethanol, ethanol, ON, None, -10.0 + 0.5 * n, -10.0) is None
    reason = unphysical(ethanol, ethanol, ON, None, -10.0 + 2.0 * n, -10.0)
    assert "max_energy_per_atom" in reason


def test_force_cap(ethanol):
    forces = np.zeros((len(ethanol), 3))
    forces[3] = [0.0, 30.0, 0.0]
    assert "max_force" in unphysical(ethanol, ethanol, ON, forces)


def test_disabled_gate_passes_everything(ethanol):
    bad = ethanol.copy()
    bad.positions[1] = bad.positions[0]
    assert unphysical(bad, ethanol, SanityConfig(enabled=False)) is None


def test_bond_graph_of_ethanol(ethanol):
    assert len(bond_graph(ethanol, 1.25)) == 8  # C-C, C-O, O-H, 5 C-H


def test_negative_limit_names_the_key():
    with pytest.raises(ConfigError, match="al.sanity.max_force"):
        SanityConfig(max_force=-1)


def test_gated_forces_asks_the_ensemble_once(ethanol):
    from pax.al.sanity import gated_forces

    calls = []

    class Ensemble:
        def predict(self, frames):
            calls.append(len(frames))
            n = sum(len(f) for f in frames)
            return {"forces_comm": np.ones((n, 3)), "energy": np.zeros(len(frames))}

    forces, reason = gated_forces(Ensemble(), ethanol, ethanol, SanityConfig())
    assert reason is None and forces.shape == (len(ethanol), 3) and calls == [1]
    bad = ethanol.copy()
    o, h = _hydroxyl(bad)
    bad.set_distance(o, h, 0.2, fix=0)
    forces, reason = gated_forces(Ensemble(), bad, ethanol, ON)
    assert "fused atoms" in reason and forces.shape == (len(bad), 3) and calls[-1] == 2


def test_rollback_goes_to_the_start_when_the_checkpoint_broke_a_bond(ethanol):
    from pax.al.sanity import rollback_geometry

    calm = ethanol.copy()
    calm.rattle(0.01, seed=1)
    calm.set_momenta(np.ones((len(calm), 3)))
    back = rollback_geometry(calm, ethanol, ON)
    np.testing.assert_allclose(back.positions, calm.positions)
    assert back.get_momenta().any()  # the checkpoint keeps its velocities
    broken = calm.copy()
    o, h = _hydroxyl(broken)
    broken.set_distance(o, h, 2.0, fix=0)
    back = rollback_geometry(broken, ethanol, ON)
    np.testing.assert_allclose(back.positions, ethanol.positions)
    assert not back.get_momenta().any()  # new velocities at the restart
    off = rollback_geometry(broken, ethanol, SanityConfig(enabled=False))
    np.testing.assert_allclose(off.positions, broken.positions)  # gate off: as before


def test_periodic_cells_keep_their_bond_graph_unchecked_unless_asked():
    from ase.build import bulk

    start = bulk("Cu", cubic=True) * (2, 2, 2)
    hot = start.copy()
    hot.positions[0] += [0.6, 0.0, 0.0]  # a first-shell pair beyond 1.25 x 2.64 Å
    assert bond_graph(hot, 1.25) != bond_graph(start, 1.25)
    assert unphysical(hot, start, ON) is None
    asked = SanityConfig(enabled=True, bonds_in_periodic=True)
    assert "bond graph changed" in unphysical(hot, start, asked)
