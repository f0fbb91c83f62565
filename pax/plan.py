"""The plan of a run: what will be computed where, built without computing."""

from __future__ import annotations

from dataclasses import dataclass

from ase.data import chemical_symbols

from pax.config import PaxConfig
from pax.dft.xtb import XTBConfig
from pax.errors import ConfigError
from pax.system.geometry import load_systems
from pax.threads import ThreadPolicy


@dataclass
class Plan:
    """A human-readable summary of a validated run."""

    sections: dict[str, list[str]]

    def __str__(self) -> str:
        lines = []
        for title, items in self.sections.items():
            lines.append(f"{title}:")
            lines.extend(f"  {item}" for item in items)
        return "\n".join(lines)


def check_elements(cfg: PaxConfig, numbers: set[int]) -> None:
    """Refuse elements the reference method or the xTB sampler has no parameters for.

    Raises:
        ConfigError: naming `dft` or `al.idg.sampler` and the unknown elements.
    """
    checks = [("dft", cfg.dft.kind, cfg.dft.elements())]
    if cfg.al.idg.sampler.value == "xtb":
        checks.append(("al.idg.sampler", "xtb", XTBConfig.elements()))
    for key, value, known in checks:
        if known is None:
            continue
        unknown = sorted(numbers - known)
        if unknown:
            names = ", ".join(chemical_symbols[z] for z in unknown)
            raise ConfigError(key, value, f"has no parameters for {names}")


def build_plan(cfg: PaxConfig, stage: str) -> Plan:
    """Describe systems, reference, cluster, ensemble, MD and stop rules."""
    systems = load_systems(cfg.system)
    check_elements(cfg, {int(z) for a in systems for z in a.numbers})
    al, idg, ml, md, cl = cfg.al, cfg.al.idg, cfg.mlff, cfg.md, cfg.cluster
    equilibrate, interval = idg.sampler_steps(md.timestep_fs)
    system_lines = [
        f"{a.info.get('system', cfg.system.name)}: {a.get_chemical_formula()}, "
        f"{len(a)} atoms, {'periodic' if a.pbc.any() else 'molecule'}"
        for a in systems
    ]
    dft_settings = {
        k: v for k, v in vars(cfg.dft).items() if k not in ("charge", "multiplicity")
    }
    if cl.kind == "local":
        where = f"local: {cl.max_workers} worker(s) x {cl.cores_per_worker} core(s)"
    else:
        where = (
            f"slurm: partition={cl.partition}, blocks {cl.min_blocks}..{cl.max_blocks} "
            f"(init {cl.init_blocks}) x {cl.nodes_per_block} node(s), "
            f"walltime {cl.walltime}"
        )
    sections = {
        "stage": [stage],
        "systems": system_lines,
        "reference": [f"{cfg.dft.kind}: {_fmt(dft_settings)}"],
        "cluster": [
            where,
            ThreadPolicy(cfg).describe(),
        ],
        "ensemble": [
            f"{ml.ensemble_size} x MACE(channels={ml.num_channels}, max_L={ml.max_L}, "
            f"r_max={ml.r_max} Å, interactions={ml.num_interactions}), "
            f"{ml.default_dtype.value}, device={ml.device.value}, "
            f"seeds {ml.seed}..{ml.seed + ml.ensemble_size - 1}"
        ]
        + (
            [
                f"fine-tuned ({ml.finetune.method.value}) from {ml.foundation_model}: "
                "its architecture and cutoff replace the ones above"
            ]
            if ml.init.value == "finetune"
            else []
        ),
        "md": [
            f"{md.integrator.value} at {md.temperature_K} K, dt {md.timestep_fs} fs, "
            f"friction {md.friction_per_fs}/fs"
        ],
        "initial dataset": [
            f"sampler {idg.sampler.value}, friction "
            f"{idg.friction_per_fs or md.friction_per_fs}/fs, {equilibrate} steps "
            f"before the first frame, a frame every {interval} steps, "
            f"{idg.n_points_per_sampling_step} per member per round",
            f"stop at valid F-MAE <= "
            f"{al.desired_acc * idg.desired_acc_scale_idg:.4g} eV/Å, "
            f"{idg.max_initial_set_size} points or {idg.max_initial_epochs} epochs",
        ]
        + (
            [
                f"pretrain first on {al.pretrain.n_frames} sampler frames labelled by "
                f"{al.pretrain.xtb_method.value}, {al.pretrain.epochs} epochs"
            ]
            if al.pretrain.enabled
            else []
        ),
        "active learning": [
            f"{al.num_trajectories} trajectories from {al.start_from.value} at "
            f"{al.temperatures_K or md.temperature_K} K, "
            f"check every {al.skip_step_mlff} steps, "
            f"threshold (1 + {al.c_x}) x mean of last {al.threshold_window}",
            f"stop at valid F-MAE < {al.desired_acc} eV/Å, {al.max_train_set_size} "
            f"training points or {al.max_MD_steps} MD steps per trajectory",
        ],
        "tracking": [f"W&B {cfg.wandb.mode.value}, project {cfg.wandb.project}"],
    }
    return Plan(sections)


def _fmt(settings: dict) -> str:
    return ", ".join(
        f"{k}={getattr(v, 'value', v)}"
        for k, v in settings.items()
        if v not in (None, [], "")
    )
