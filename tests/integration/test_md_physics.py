"""Physics of the batched MD on aspirin with a MACE model fitted to GFN2-xTB.

The model is a small real MACE (8 channels) fitted for a few epochs to xTB
forces of a short 600 K trajectory: not accurate, but a bound, smooth,
physical potential energy surface, which is what these tests need.
"""

import numpy as np
import pytest
import torch
from ase import units
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

from pax.md import BatchedMD
from pax.md.config import Integrator, MDConfig
from tests.unit.md.helpers import molecule, tiny_mace

pytestmark = pytest.mark.slow


def _xtb_frames(n_steps=200, every=8):
    from tblite.ase import TBLite

    atoms = molecule("aspirin")
    atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
    MaxwellBoltzmannDistribution(atoms, temperature_K=600, rng=np.random.default_rng(0))
    dyn = Langevin(
        atoms,
        0.5 * units.fs,
        temperature_K=600,
        friction=0.02 / units.fs,
        rng=np.random.default_rng(1),
    )
    frames = []

    def grab():
        frame = atoms.copy()
        frame.info["E"] = atoms.get_potential_energy()
        frame.arrays["F"] = atoms.get_forces()
        frames.append(frame)

    dyn.attach(grab, interval=every)
    dyn.run(n_steps)
    return frames


def _fit(frames, epochs=12):
    from mace import data as mace_data
    from mace.tools import torch_geometric, utils

    forces = np.concatenate([f.arrays["F"] for f in frames])
    model = tiny_mace(0, scale=float(np.sqrt((forces**2).mean())))
    e0 = np.mean([f.info["E"] for f in frames]) / len(frames[0])
    model.atomic_energies_fn.atomic_energies[:] = e0
    keys = mace_data.KeySpecification(
        info_keys={"energy": "E"}, arrays_keys={"forces": "F"}
    )
    table = utils.AtomicNumberTable([1, 6, 8])
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        data = [
            mace_data.AtomicData.from_config(
                mace_data.config_from_atoms(f, key_specification=keys),
                z_table=table,
                cutoff=5.0,
            )
            for f in frames
        ]
    finally:
        torch.set_default_dtype(default)
    loader = torch_geometric.dataloader.DataLoader(data, batch_size=8, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    n = len(frames[0])
    for _ in range(epochs):
        for batch in loader:
            d = batch.to_dict()
            out = model(d, training=True)
            loss = ((out["energy"] - d["energy"]) / n).square().mean()
            loss = loss + 10 * (out["forces"] - d["forces"]).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def aspirin_model():
    torch.manual_seed(0)
    return _fit(_xtb_frames())


def test_nve_energy_drift_on_aspirin(aspirin_model):
    """1000 steps of 0.5 fs, velocity Verlet, float64 model.

    Bound: velocity Verlet is symplectic, so the total energy oscillates around
    a conserved shadow energy without drift; the oscillation for dt = 0.5 fs and
    C-H stretches (period ~11 fs, (omega dt)^2 ~ 0.08) is a few meV. We allow
    the linear drift over the 500 fs to reach 1 meV/atom (21 meV), a common
    acceptance for production NVE, and fluctuations of 2 meV/atom; a wrong
    force sign, a missing half kick or forces inconsistent with the energy
    break either bound by orders of magnitude at 300 K (kT per mode 26 meV).
    """
    cfg = MDConfig(integrator=Integrator.nve, temperature_K=300, timestep_fs=0.5)
    md = BatchedMD(cfg, [aspirin_model], [molecule("aspirin")], seeds=[11])
    md.advance(1)
    energies = []
    for _ in range(100):
        md.advance(10)
        energies.append(md.total_energies_eV()[0])
    energies = np.array(energies)  # eV, every 5 fs
    time_fs = np.arange(len(energies)) * 5.0
    slope = np.polyfit(time_fs, energies, 1)[0]  # eV/fs
    n = 21
    assert md.running.all() and md.steps[0] == 1001
    assert abs(slope * 500.0) < 1e-3 * n
    assert np.ptp(energies) < 2e-3 * n
    assert 100 < md.temperatures_K()[0] < 600  # it moved, it stayed together


def test_langevin_holds_500_K_within_5_percent(aspirin_model):
    cfg = MDConfig(temperature_K=500.0, timestep_fs=0.5, friction_per_fs=0.1)
    md = BatchedMD(cfg, [aspirin_model], [molecule("aspirin")] * 8)
    md.advance(100)  # equilibrate: potential energy takes its share
    samples = []
    for _ in range(60):
        md.advance(5)
        samples.append(md.temperatures_K())
    assert md.running.all()
    mean = float(np.mean(samples))
    assert mean == pytest.approx(500.0, rel=0.05)
