"""Trajectory-steps per second: pax BatchedMD against ASE MD one trajectory at a time.

K mace_small members (32 channels, max_L 1, r_max 5 Å, radial_MLP [16, 16, 16],
correlation 3, 2 interactions), N aspirin trajectories, Langevin at 500 K.
Baseline (the aims-PAX way): ase.md.langevin.Langevin driven by
mace.calculators.MACECalculator(models=...) (committee: mean forces, and the
member forces for the uncertainty come with every call), trajectories stepped
one after the other. Ours: BatchedMD, all N trajectories in one graph batch per
member (uncertainty is free: the member forces of the last step are reused).
"stock" columns evaluate mace-torch's product basis as it is (batching alone);
the others use pax's element-wise product basis (md.element_contraction, the
default; same forces), which the ASE baseline is also given in its own column.
Member-driven: one member propagates, all K are evaluated every --skip-step
steps for the uncertainty; its column includes that cost, amortised.

    python scripts/bench/md.py --threads 2 --steps 10 [--device cuda] [--ns 1 8 32]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from ase import units  # noqa: E402
from ase.io import read  # noqa: E402
from ase.md.langevin import Langevin  # noqa: E402
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution  # noqa: E402
from common import require_device  # noqa: E402

from pax.md import BatchedMD  # noqa: E402
from pax.md.config import DrivingForce, MDConfig  # noqa: E402
from pax.mlff.fast_product import for_inference  # noqa: E402
from pax.paths import resolve_path  # noqa: E402


def mace_small(seed: int, dtype: torch.dtype, device: str) -> torch.nn.Module:
    """A mace_small member with random weights (speed does not depend on them)."""
    from e3nn import o3
    from mace import modules

    torch.manual_seed(seed)
    block = modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
    model = modules.ScaleShiftMACE(
        atomic_inter_scale=1.0,
        atomic_inter_shift=0.0,
        r_max=5.0,
        num_bessel=8,
        num_polynomial_cutoff=5,
        max_ell=3,
        interaction_cls=block,
        interaction_cls_first=block,
        num_interactions=2,
        num_elements=3,
        hidden_irreps=o3.Irreps("32x0e + 32x1o"),
        MLP_irreps=o3.Irreps("16x0e"),
        gate=torch.nn.functional.silu,
        atomic_energies=np.zeros(3),
        avg_num_neighbors=12.0,
        atomic_numbers=[1, 6, 8],
        correlation=3,
        radial_type="bessel",
        radial_MLP=[16, 16, 16],
    )
    return model.to(dtype=dtype, device=device).eval()


def ase_rate(models, atoms, n: int, steps: int, device: str, dtype: str) -> float:
    """Trajectory-steps/s of ASE Langevin + MACECalculator, trajectories in turn."""
    from mace.calculators import MACECalculator

    calc = MACECalculator(models=models, device=device, default_dtype=dtype)
    trajs = []
    for i in range(n):
        a = atoms.copy()
        MaxwellBoltzmannDistribution(a, temperature_K=500, rng=np.random.default_rng(i))
        a.calc = calc
        dyn = Langevin(
            a,
            0.5 * units.fs,
            temperature_K=500,
            friction=0.001 / units.fs,
            rng=np.random.default_rng(100 + i),
        )
        trajs.append(dyn)
    for dyn in trajs:  # warm-up: first force call and one step each
        dyn.run(1)
    _sync(device)
    start = time.perf_counter()
    for dyn in trajs:
        dyn.run(steps)
    _sync(device)
    return n * steps / (time.perf_counter() - start)


def ours_rate(
    models, atoms, n: int, steps: int, device: str, cfg: MDConfig, skip: int
) -> float:
    """Trajectory-steps/s of BatchedMD (uncertainty every `skip` steps, amortised)."""
    md = BatchedMD(cfg, models, [atoms.copy() for _ in range(n)], device=device)
    md.advance(2)
    md.uncertainty()
    _sync(device)
    start = time.perf_counter()
    md.advance(steps)
    _sync(device)
    step_s = (time.perf_counter() - start) / steps
    md.advance(1)
    start = time.perf_counter()
    md.uncertainty()
    _sync(device)
    check_s = time.perf_counter() - start
    return n / (step_s + check_s / skip)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    """Print the side-by-side table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ns", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--members", type=int, default=4)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument(
        "--skip-step", type=int, default=25, help="steps between checks"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--system", default="data/systems/aspirin.xyz")
    args = parser.parse_args()
    require_device(args.device)

    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    models = [mace_small(k, dtype, args.device) for k in range(args.members)]
    atoms = read(resolve_path(args.system))
    mean = MDConfig(temperature_K=500, timestep_fs=0.5)
    stock = MDConfig(temperature_K=500, timestep_fs=0.5, element_contraction=False)
    member = MDConfig(
        temperature_K=500, timestep_fs=0.5, driving_force=DrivingForce.member
    )
    fast_models = [for_inference(m) for m in models]
    print(
        f"# {len(atoms)} atoms, K={args.members} mace_small ({args.dtype}), {args.device}, "
        f"{args.threads} threads, {args.steps} steps, checks every {args.skip_step}"
    )
    print(
        "| N | ASE traj-steps/s | ASE, element product | pax mean, stock product "
        "| pax mean | pax member |"
    )
    print("|---|---|---|---|---|---|")
    for n in args.ns:
        base = ase_rate(models, atoms, n, args.steps, args.device, args.dtype)
        rates = [
            ase_rate(fast_models, atoms, n, args.steps, args.device, args.dtype),
            *(
                ours_rate(
                    models, atoms, n, args.steps, args.device, cfg, args.skip_step
                )
                for cfg in (stock, mean, member)
            ),
        ]
        cells = " | ".join(f"{r:.2f} ({r / base:.2f}x)" for r in rates)
        print(f"| {n} | {base:.2f} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
