"""aims-PAX settings (aimsPAX.yaml, model.yaml) translated into pax settings.

Every setting with a pax equivalent lands in its group's preset values; every
other one is recorded with the reason it was not carried over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pax.aimspax_keys import (
    AL,
    DIRECT,
    HANDLED_ELSEWHERE,
    IDG,
    NOT_NEEDED,
    SBATCH,
    SECTIONS,
    SHARED,
)


@dataclass
class Translation:
    """pax settings by group, and the aims-PAX settings left behind with reasons."""

    presets: dict[str, dict] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    """Lines 'SECTION.key=value: reason'."""

    def set(self, group: str, key: str, value) -> None:
        """Set the pax setting group.key (dotted) to value."""
        node = self.presets.setdefault(group, {})
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value

    def skip(self, section: str, key: str, value, reason: str) -> None:
        """Record an aims-PAX setting pax does not carry over."""
        self.skipped.append(f"{section}.{key}={_short(value)}: {reason}")


def translate(project: dict, model: dict | None = None) -> Translation:
    """The pax presets of aims-PAX's project and (optionally) model settings."""
    t = Translation()
    settings = {**(project or {}), **(model or {})}
    if model and "MISC" in model and "MISC" in (project or {}):
        settings["MISC"] = {**project["MISC"], **model["MISC"]}
    for section in settings:
        if section not in SECTIONS:
            t.skip(section, "*", "...", "not an aims-PAX section")
    idg, al = settings.get(IDG) or {}, settings.get(AL) or {}
    for key, (group, pax_key) in SHARED.items():
        if key in al:
            t.set(group, pax_key, al[key])
            if key in idg and idg[key] != al[key]:
                t.skip(
                    IDG,
                    key,
                    idg[key],
                    f"pax has one {group}.{pax_key}; {AL}'s {al[key]} is used",
                )
        elif key in idg:
            t.set(group, pax_key, idg[key])
    _sampler(t, idg)
    _reference(t, idg, al)
    for section in (IDG, AL, "MD", "MISC", "GENERAL", "ARCHITECTURE", "TRAINING"):
        for key, value in (settings.get(section) or {}).items():
            _one(t, section, key, value, idg, al)
    _md(t, settings.get("MD") or {})
    _cluster(t, settings.get("CLUSTER") or {})
    return t


def _one(t: Translation, section: str, key: str, value, idg: dict, al: dict) -> None:
    if value is None:  # aims-PAX's null: its default
        return
    if (section, key) in DIRECT:
        group, pax_key = DIRECT[(section, key)]
        if group == "mlff" and key == "optimizer":
            value = str(value).lower()
        t.set(group, pax_key, value)
    elif key in HANDLED_ELSEWHERE:
        if key == "name_exp":
            t.set("run", "name", value)
    elif key in NOT_NEEDED:
        t.skip(section, key, value, NOT_NEEDED[key])
    elif key == "path_to_control":
        if t.presets.get("dft", {}).get("_base") == "aims":
            t.set("dft", "control_in", str(value))
        else:
            t.skip(
                section, key, value, "only the FHI-aims reference reads a control.in"
            )
    elif key == "path_to_geometry":
        if isinstance(value, (str, Path)):
            t.presets.setdefault("system", {})["_base"] = "system_schema"
            t.set("system", "geometry", str(value))
            t.set("system", "name", Path(str(value)).stem)
        else:
            t.skip(
                section,
                key,
                value,
                "give pax one geometry file per run (system.geometry)",
            )
    elif key == "mol_idxs":
        t.set("al", "uncertainty", "max_atomic_or_intermol_sd")
        if isinstance(value, list) and all(isinstance(m, list) for m in value):
            t.presets.setdefault("system", {})["_base"] = "system_schema"
            t.set("system", "molecules", value)
        else:
            t.skip(
                section,
                key,
                value,
                "per-system index lists: pax finds the molecules from the bond graph",
            )
    elif key == "converge_al":
        converge = (
            "none"
            if not value
            else ("best" if al.get("converge_best", True) else "all")
        )
        t.set("al", "converge", converge)
    elif key == "converge_best":
        pass  # read with converge_al
    elif key in ("save_trajectories", "save_trajectories_interval"):
        if key == "save_trajectories" and value:
            every = (al if section == AL else idg).get("save_trajectories_interval", 5)
            t.set("md", "save_every_steps", every)
    elif key == "uncertainty_type":
        measure = {"max_atomic_sd": "max_atomic_sd", "mean_atomic_sd": "mean_atomic_sd"}
        if value in measure:
            t.set("al", "uncertainty", measure[value])
        else:
            t.skip(
                section,
                key,
                value,
                "pax's al.uncertainty knows max_atomic_sd, "
                "mean_atomic_sd and energy_sd_per_atom",
            )
    elif key == "replay_strategy":
        if value in ("full_dataset", "random_subset"):
            t.set("al", "replay", value)
        else:
            t.skip(
                section, key, value, "pax's al.replay is full_dataset or random_subset"
            )
    else:
        t.skip(section, key, value, "no pax equivalent yet")


def _sampler(t: Translation, idg: dict) -> None:
    if idg.get("initial_sampling", "foundational") == "aimd":
        t.set("al", "idg.sampler", "aimd")
        return
    kind = idg.get("foundational_model", "mace-mp")
    fm = idg.get("foundational_model_settings") or {}
    if kind != "mace-mp":
        t.skip(
            IDG,
            "foundational_model",
            kind,
            "pax samples with MACE files, "
            "mace-mp/mace-off, chgnet, ani-1x or module:function, not so3lr",
        )
        return
    t.set("al", "idg.sampler", "foundation")
    t.set("al", "idg.foundation_model", f"mace-mp-{fm.get('mace_model', 'small')}")
    if fm.get("dispersion"):
        t.set("al", "idg.dispersion", True)
        t.set("al", "idg.dispersion_xc", str(fm.get("dispersion_xc", "pbe")).lower())
        t.set("al", "idg.dispersion_damping", f"d3{fm.get('damping', 'bj')}")
        if "dispersion_cutoff" in fm:
            t.skip(
                IDG,
                "foundational_model_settings.dispersion_cutoff",
                fm["dispersion_cutoff"],
                "dftd3's own cutoffs are used",
            )


def _reference(t: Translation, idg: dict, al: dict) -> None:
    """The dft preset: the MACE teacher, or FHI-aims with species_dir."""
    teacher = al.get("use_teacher_reference", idg.get("use_teacher_reference", False))
    if teacher:
        s = (
            al.get("teacher_reference_settings")
            or idg.get("teacher_reference_settings")
            or {}
        )
        t.presets.setdefault("dft", {})["_base"] = "teacher"
        if s.get("model_path"):
            t.set("dft", "model", str(s["model_path"]))
        elif s.get("model_type", "mace-mp") == "mace-mp":
            t.set("dft", "model", f"mace-mp-{s.get('mace_model', 'small')}")
        else:
            t.skip(
                AL,
                "teacher_reference_settings.model_type",
                s.get("model_type"),
                "pax's teacher is a MACE model",
            )
        return
    t.presets.setdefault("dft", {})["_base"] = "aims"
    species = al.get("species_dir") or idg.get("species_dir")
    if species:
        t.set("dft", "species_dir", str(species))
    if al.get("use_foundational"):
        t.set("md", "driving_force", "foundation")


def _md(t: Translation, md: dict) -> None:
    if any(isinstance(k, int) for k in md):
        t.skip(
            "MD",
            "<index>",
            "...",
            "per-trajectory MD settings: pax sets one MD "
            "protocol (al.temperatures_K varies the temperature)",
        )
        return
    ensemble = str(md.get("stat_ensemble", "nvt")).lower()
    if ensemble == "npt":
        barostat = str(md.get("barostat", "berendsen")).lower()
        if barostat in ("isomtk", "mtk"):
            t.set("md", "integrator", barostat)
            for key, pax_key in (
                ("tdamp", "thermostat_time_fs"),
                ("pdamp", "barostat_time_fs"),
            ):
                if key in md:
                    t.set("md", pax_key, md[key])
        else:
            t.presets.setdefault("md", {})["_base"] = "npt"
        if "pressure" in md:
            t.set("md", "pressure_GPa", float(md["pressure"]) * 1e-9)  # Pa
        for key, default in (("tchain", 3), ("pchain", 3), ("tloop", 1), ("ploop", 1)):
            if md.get(key, default) != default:
                t.skip("MD", key, md[key], f"pax's MTK chains are fixed at {default}")
    elif str(md.get("thermostat", "langevin")).lower() != "langevin":
        t.skip("MD", "thermostat", md.get("thermostat"), "pax's NVT is Langevin")


def _cluster(t: Translation, cluster: dict) -> None:
    if not cluster:
        return
    kind = cluster.get("type", "local")
    t.presets.setdefault("cluster", {})["_base"] = (
        "slurm" if kind == "slurm" else "local"
    )
    for key, value in cluster.items():
        if key == "type":
            continue
        if key in ("launch_str", "calc_dir", "clean_dirs"):
            if t.presets.get("dft", {}).get("_base") == "aims":
                t.set("dft", key, value)
            else:
                t.skip("CLUSTER", key, value, "only the FHI-aims reference takes it")
        elif key == "max_workers" and kind == "local":
            t.set("cluster", "max_workers", value)
        elif key == "parsl_options":
            for name, v in (value or {}).items():
                if name in (
                    "nodes_per_block",
                    "init_blocks",
                    "min_blocks",
                    "max_blocks",
                ):
                    t.set("cluster", name, v)
                else:
                    t.skip(
                        "CLUSTER",
                        f"parsl_options.{name}",
                        v,
                        NOT_NEEDED.get(
                            name, "pax keeps Parsl's files in the run directory"
                        ),
                    )
        elif key == "slurm_str":
            _sbatch(t, str(value))
        elif key == "worker_str":
            lines = [ln.strip() for ln in str(value).splitlines() if ln.strip()]
            t.set("cluster", "worker_init", "; ".join(lines))
        else:
            t.skip("CLUSTER", key, value, "no pax equivalent yet")


def _sbatch(t: Translation, text: str) -> None:
    extra = []
    for line in text.splitlines():
        m = re.match(r"\s*#SBATCH\s+--([\w-]+)(?:[= ](.*))?$", line)
        if not m:
            continue
        name, value = m.group(1), (m.group(2) or "").strip()
        if name in SBATCH:
            t.set("cluster", SBATCH[name], value)
        elif name in ("job-name", "nodes"):
            t.skip(
                "CLUSTER",
                f"slurm_str --{name}",
                value,
                "pax names its jobs; nodes per block is cluster.nodes_per_block",
            )
        else:
            extra.append(f"--{name}={value}" if value else f"--{name}")
    if extra:
        t.set("cluster", "scheduler_options", extra)


def _short(value) -> str:
    text = str(value).replace("\n", "\\n")
    return text if len(text) <= 60 else text[:57] + "..."
