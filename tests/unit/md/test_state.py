"""The MD state on its own: registries, guards and save/restore without models."""

import numpy as np
import torch

from pax.md.config import Integrator, MDConfig
from pax.md.guards import GUARDS, collided, flew_apart
from pax.md.integrators import INTEGRATORS
from pax.md.persist import dump, load, splice
from pax.md.state import holds_system, new_state, place, to_atoms
from tests.unit.md.helpers import molecule


def _state(cfg: MDConfig):
    systems = [molecule("water"), molecule("ethanol")]
    return new_state(systems, [cfg] * 2, [1, 2], torch.device("cpu"))


def test_every_md_integrator_and_guard_is_registered():
    assert set(INTEGRATORS) == set(Integrator)
    assert set(GUARDS) == {"runaway_temperature", "atoms_flew_apart", "atoms_collided"}


def test_dump_load_round_trip_keeps_every_field():
    cfg = MDConfig()
    state = _state(cfg)
    state.steps[:] = [4, 7]
    state.status[1], state.reasons[1] = 2, "atoms_collided"
    saved = dump(state)
    again = dump(load(saved, [cfg] * 2, torch.device("cpu")))
    assert saved.keys() == again.keys()
    for key, value in saved.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, again[key]), key
        elif isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, again[key], err_msg=key)
    assert again["reasons"] == [None, "atoms_collided"]
    assert all(torch.equal(a, b) for a, b in zip(saved["rng"], again["rng"]))


def test_guards_and_splice_work_on_the_state():
    cfg = MDConfig(min_distance_A=0.6, max_bond_stretch_A=4.0)
    state = _state(cfg)
    assert not collided(state, cfg).any() and not flew_apart(state, cfg).any()
    aspirin = molecule("aspirin")
    assert not holds_system(state, 0, aspirin)
    splice(state, 0, aspirin, [cfg] * 2)
    place(state, 0, aspirin, cfg)
    assert holds_system(state, 0, aspirin)
    np.testing.assert_array_equal(to_atoms(state, 0).numbers, aspirin.numbers)
    np.testing.assert_array_equal(
        to_atoms(state, 1).positions, molecule("ethanol").positions
    )
    far = molecule("ethanol")
    far.positions[0] += [12.0, 0.0, 0.0]
    place(state, 1, far, cfg)
    np.testing.assert_array_equal(flew_apart(state, cfg).numpy(), [False, True])
