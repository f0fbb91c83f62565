"""The orchestrator: initial dataset generation, active learning, finalize, restart."""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml

from pax.config import PaxConfig
from pax.errors import PaxError
from pax.fileio import atomic_write, atomic_write_json, read_or_prev
from pax.plan import build_plan
from pax.provenance import environment, yaml_header
from pax.threads import ThreadPolicy
from pax.tracking.timing import TimeBudget, process_start, summary_line

IGNORED_ON_RESUME = (
    "run",
    "wandb",
    "md.save_every_steps",
    "md.trajectory_format",
    "mlff.parallel_members",
)
"""Config keys (groups or dotted keys) a resumed run may change (outputs and
execution only)."""


def run(
    cfg: PaxConfig,
    run_dir: Path,
    stage: str = "all",
    resolved_config: str = "",
    sweep_group: str | None = None,
) -> float | None:
    """Run (or resume) the workflow in run_dir; return the final validation F-MAE."""
    plan = build_plan(cfg, stage)
    if cfg.run.dry:
        _check_writable(run_dir)
        text = f"pax plan (dry run) for {run_dir}\n{plan}"
        print(text, flush=True)
        atomic_write(run_dir / "plan.txt", text + "\n")
        if not (run_dir / "config.yaml").exists():
            atomic_write(run_dir / "config.yaml", resolved_config)
        return None
    _check_writable(run_dir)
    _check_same_config(run_dir, resolved_config, cfg.run.force)
    phase = _read_phase(run_dir)
    if phase == "done":
        summary = json.loads((run_dir / "results" / "summary.json").read_text())
        print(
            f"pax: {run_dir} already finished ({summary.get('stop_reason')}); "
            f"results in {run_dir / 'results'}. Nothing to do."
        )
        return summary.get("final_mae")
    if stage == "al" and phase is None and not cfg.run.initial_dataset:
        raise PaxError(
            f"{run_dir} holds no initial dataset: run pax-idg (or pax) there first, "
            "or give run.initial_dataset=FILE (and run.initial_ensemble=CHECKPOINT)"
        )
    atomic_write(run_dir / "config.yaml", yaml_header() + resolved_config)
    return _execute(cfg, run_dir, stage, phase, resolved_config, sweep_group)


def _execute(cfg, run_dir, stage, phase, resolved_config, sweep_group) -> float | None:

    from pax.al.context import Context
    from pax.al.finalize import converge
    from pax.al.idg import InitialDataset
    from pax.cluster import ReferencePool
    from pax.data import DatasetStore
    from pax.mlff import Ensemble
    from pax.system.geometry import load_systems
    from pax.tracking import Tracker

    ThreadPolicy(cfg).update(0)
    budget = TimeBudget(process_start())
    systems = load_systems(cfg.system)
    t0 = time.time()
    summary = _read_json(run_dir / "state" / "summary.json")
    # a bad checkpoint stops the run before Parsl starts
    ensemble = _load_ensemble(Ensemble, run_dir / "state" / "ensemble.pt")
    with (
        Tracker(
            run_dir,
            cfg=cfg,
            job_type=stage,
            group=sweep_group,
            resolved_config=yaml.safe_load(resolved_config) if resolved_config else {},
            budget=budget,
        ) as tracker,
        ReferencePool(cfg.cluster, cfg.dft, run_dir) as pool,
    ):
        ctx = Context(
            cfg,
            run_dir,
            systems,
            DatasetStore(run_dir / "data"),
            pool,
            tracker,
            e0s=_e0s(cfg, systems, run_dir),
            test_frames=_test_frames(cfg),
            budget=budget,
        )
        budget.add("startup", time.time() - budget.start)
        ctx.ensemble = ensemble
        if phase is None and stage == "al":
            from pax.al.seed import seed_from_files

            seed_from_files(ctx)
            ctx.ensemble.save(ctx.ensemble_path)
            summary["idg_labels"] = len(ctx.store.label_ids())  # the given frames
            phase = "al"
            _write_phase(run_dir, phase)
        if phase in (None, "idg"):
            _write_phase(run_dir, "idg")
            if cfg.al.pretrain.enabled and ctx.ensemble is None:
                from pax.al.pretrain import pretrain

                pretrain(ctx)
            started = time.time()
            with budget.section("startup"):
                idg = InitialDataset(ctx)
            summary["idg_stop_reason"] = idg.run()
            summary["idg_wall_s"] = summary.get("idg_wall_s", 0) + time.time() - started
            summary["idg_labels"] = len(ctx.store.label_ids())
            atomic_write_json(run_dir / "state" / "summary.json", summary)
            _write_phase(run_dir, "al")
            tracker.plots("idg")
        if stage == "idg":
            return _finish(ctx, summary, t0, done=False)
        from pax.al.loop import ActiveLearning

        started = time.time()
        with budget.section("startup"):
            al = ActiveLearning(ctx)
        summary["stop_reason"] = al.run()
        summary["prospective_f_mae"] = al.prospective_mae()
        summary["al_wall_s"] = summary.get("al_wall_s", 0) + time.time() - started
        summary["al_labels"] = len(ctx.store.label_ids()) - summary.get("idg_labels", 0)
        converge(ctx)
        return _finish(ctx, summary, t0, done=True)


def _finish(ctx, summary: dict, t0: float, done: bool) -> float:
    """Write results/ (also after IDG alone) and mark the run done when it is."""
    from pax.al.finalize import write_results

    ledger = ctx.pool.ledger_counts() if hasattr(ctx.pool, "ledger_counts") else {}
    summary.update(
        {
            "failed_labels": ledger.get("failed", 0),
            "n_train": ctx.n_train(),
            "n_valid": ctx.store.size("valid"),
            "wall_s_this_session": time.time() - t0,
            "environment": environment(),
        }
    )
    with ctx.budget.section("evaluation"):
        metrics = ctx.ensemble.evaluate(ctx.store.get("valid"))
    summary["final_mae"] = float(metrics["mean"]["f_mae"])
    summary.setdefault("stop_reason", summary.get("idg_stop_reason"))
    with ctx.budget.section("results"):
        results = write_results(ctx, summary)
    ctx.tracker.plots("final")
    _write_phase(ctx.run_dir, "done" if done else "al")
    print(
        f"pax: finished ({summary['stop_reason']}); validation force MAE "
        f"{summary['final_mae']:.4f} eV/Å; results in {results}\n"
        f"pax: {summary_line(summary['time_budget'])}",
        flush=True,
    )
    return summary["final_mae"]


def _load_ensemble(cls, path: Path):
    """The saved ensemble, or its .prev when the last one is unreadable; None if none.

    PaxError naming the files when neither loads.
    """
    try:
        return read_or_prev(path, cls.load, "ensemble checkpoint")
    except PaxError as exc:
        raise PaxError(f"{exc}; restore one or start a new run directory") from None


def _e0s(cfg: PaxConfig, systems, run_dir: Path) -> dict[int, float] | None:
    if cfg.mlff.e0s.value != "reference":
        return None
    from pax.dft.e0s import isolated_atom_energies

    numbers = sorted({int(z) for a in systems for z in a.numbers})
    return isolated_atom_energies(numbers, cfg.dft, run_dir / "state")


def _test_frames(cfg: PaxConfig) -> list:
    if not cfg.run.test_set:
        return []
    from ase.io import read

    from pax.paths import resolve_path

    path = resolve_path(cfg.run.test_set)
    try:
        return read(str(path), index=":")
    except Exception as exc:
        raise PaxError(
            f"run.test_set={cfg.run.test_set!r}: cannot read ({exc})"
        ) from None


def _check_writable(run_dir: Path) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".pax-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise PaxError(
            f"run directory {run_dir} is not writable ({exc.strerror})"
        ) from None


def _check_same_config(run_dir: Path, resolved: str, force: bool) -> None:
    saved_path = run_dir / "config.yaml"
    if not resolved or not saved_path.exists() or not (run_dir / "state").exists():
        return
    saved, new = yaml.safe_load(saved_path.read_text()), yaml.safe_load(resolved)
    diff = sorted(_diff(saved, new))
    if diff and not force:
        raise PaxError(
            f"{run_dir} holds a run with a different config ({', '.join(diff[:5])}); "
            "use run.force=true to resume it anyway, or another run.name"
        )


def _diff(a: dict, b: dict, prefix: str = "") -> set[str]:
    """Keys whose values differ; keys only one side has (a newer pax) are skipped."""
    keys = set(a) & set(b)
    out = set()
    for key in keys:
        if f"{prefix}{key}" in IGNORED_ON_RESUME:
            continue
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out |= _diff(va, vb, f"{prefix}{key}.")
        elif va != vb:
            out.add(f"{prefix}{key}")
    return out


def _read_phase(run_dir: Path) -> str | None:
    return _read_json(run_dir / "state" / "phase.json").get("phase")


def _write_phase(run_dir: Path, phase: str) -> None:
    atomic_write_json(run_dir / "state" / "phase.json", {"phase": phase})


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}
