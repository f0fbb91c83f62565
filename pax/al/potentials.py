"""Pretrained potentials as ASE calculators, by name (al.idg.foundation_model).

- a MACE model file, or mace-mp-*|mace-off-* whose weights are in the local cache;
- `chgnet`: CHGNet 0.3.0, whose weights ship in the chgnet wheel (pip install
  'pax[foundation]'); a molecule is put in a periodic box, since CHGNet needs a cell;
- `ani-1x`: the ANI-1x ensemble (H, C, N, O; organic molecules), whose weights
  ship in the torchani 2.2.4 wheel (pax[foundation]);
- `module:function`: any function that returns an ASE calculator.
"""

from __future__ import annotations

import contextlib
import importlib
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from pax.errors import ConfigError

KEY = "al.idg.foundation_model"

BOX_PADDING = 20.0
"""Vacuum (Å) around a molecule in the periodic box a crystal model needs:
more than twice CHGNet's 5 Å cutoff, so no atom sees an image."""


def calculator(name: str) -> Calculator:
    """The ASE calculator named `name` (see the module docstring)."""
    if name == "chgnet":
        return _chgnet()
    if name == "ani-1x":
        return _ani1x()
    if not is_mace(name):
        return _from_function(name)
    return _mace(name)


def is_mace(name: str) -> bool:
    """Whether `name` is a MACE file or cached MACE model (not chgnet, ani-1x, m:f)."""
    function = ":" in name and not name.startswith(("/", ".", "~"))
    return name not in ("chgnet", "ani-1x") and not function


def mace_model(name: str):
    """The MACE model `name` (a file, or mace-mp-*|mace-off-* cached), in float64."""
    import torch

    from pax.dft.teacher import resolve_model

    path = resolve_model(name, key=KEY)
    return torch.load(path, map_location="cpu", weights_only=False).double()


def _mace(name: str) -> Calculator:
    from mace.calculators import MACECalculator

    from pax.mlff.fast_product import for_inference

    return MACECalculator(
        models=[for_inference(mace_model(name))], device="cpu", default_dtype="float64"
    )


def _chgnet() -> Calculator:
    try:
        from chgnet.model.dynamics import CHGNetCalculator
    except ImportError:
        raise ConfigError(
            KEY, "chgnet", "needs the chgnet package: pip install 'pax[foundation]'"
        ) from None
    return InBox(CHGNetCalculator(use_device="cpu", verbose=False))


ANI1X_INFO = "\n".join(
    [
        "ani-1x_8x/rHCNO-5.2R_16-3.5A_a4-8.params",
        "ani-1x_8x/sae_linfit.dat",
        "ani-1x_8x/train",
        "8",
    ]
)
"""What torchani 2.2.4's empty ani-1x_8x.info should hold: constants, self
energies, network prefix and ensemble size, relative to its resources folder
(the wheel carries those files; with the empty info file it downloads them)."""


def _ani1x() -> Calculator:
    import sys
    import tempfile
    import types
    from importlib.metadata import PackageNotFoundError, version

    # torchani 2.2.4 imports pkg_resources (gone from recent setuptools) for its version
    shim = types.ModuleType("pkg_resources")
    shim.DistributionNotFound = PackageNotFoundError
    shim.get_distribution = lambda name: types.SimpleNamespace(version=version(name))
    sys.modules.setdefault("pkg_resources", shim)
    try:
        import torchani
    except ImportError as exc:
        raise ConfigError(
            KEY,
            "ani-1x",
            f"needs torchani 2.2.4: pip install 'pax[foundation]' ({exc})",
        ) from None
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(None):
        info = Path(folder) / "ani-1x_8x.info"
        info.write_text(ANI1X_INFO)
        model = torchani.models.BuiltinEnsemble._from_neurochem_resources(
            str(info), periodic_table_index=True
        )
    return model.double().ase()


def _from_function(name: str) -> Calculator:
    module_name, _, attr = name.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(KEY, name, f"cannot be imported ({exc})") from None
    calc = factory()
    if not isinstance(calc, Calculator):
        raise ConfigError(
            KEY, name, f"returned {type(calc).__name__}, not an ASE calculator"
        )
    return calc


class InBox(Calculator):
    """A periodic-only calculator applied to a molecule in a large box.

    Periodic structures pass through unchanged.
    """

    implemented_properties = ["energy", "forces"]

    def __init__(self, inner: Calculator) -> None:
        super().__init__()
        self.inner = inner

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        """Energy (eV) and forces (eV/Å) of the atoms, boxed when not periodic."""
        super().calculate(atoms, properties, system_changes)
        boxed = Atoms(self.atoms.numbers, self.atoms.positions, cell=self.atoms.cell)
        boxed.pbc = self.atoms.pbc
        if not self.atoms.pbc.any():
            extent = np.ptp(self.atoms.positions, axis=0)
            boxed.set_cell(extent + BOX_PADDING)
            boxed.center()
            boxed.pbc = True
        boxed.calc = self.inner
        self.results = {
            "energy": float(boxed.get_potential_energy()),
            "forces": boxed.get_forces(),
        }


def with_dispersion(calc: Calculator, xc: str, damping: str) -> Calculator:
    """The calculator plus DFT-D3 dispersion (the dftd3 package of simple-dftd3)."""
    from ase.calculators.mixing import SumCalculator

    try:
        from dftd3.ase import DFTD3
    except ImportError:
        raise ConfigError(
            "al.idg.dispersion",
            True,
            "needs the dftd3 package: pip install 'pax[foundation]'",
        ) from None
    d3 = DFTD3(method=xc, damping=damping)
    try:  # its parameters are looked up at the first calculation
        d3.get_potential_energy(Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]]))
    except Exception as exc:  # noqa: BLE001 - dftd3 knows no parameters for this pair
        raise ConfigError(
            "al.idg.dispersion_xc", xc, f"no D3 ({damping}) parameters ({exc})"
        ) from None
    return SumCalculator([calc, d3])


def foundation_driver(cfg) -> Calculator | None:
    """The calculator AL trajectories move on (md.driving_force=foundation), or None."""
    if cfg.md.driving_force.value != "foundation":
        return None
    return calculator(cfg.al.idg.foundation_model)
