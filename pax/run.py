"""The orchestrator: initial dataset generation, active learning, finalize."""

from __future__ import annotations

import logging
from pathlib import Path

from pax.config import PaxConfig
from pax.errors import NotImplementedYet
from pax.plan import build_plan

log = logging.getLogger(__name__)

STAGES = ("all", "idg", "al")


def run(
    cfg: PaxConfig,
    run_dir: Path,
    stage: str = "all",
    resolved_config: str = "",
    sweep_group: str | None = None,
) -> float | None:
    """Run (or resume) the workflow in run_dir; return the final validation F-MAE."""
    run_dir.mkdir(parents=True, exist_ok=True)
    plan = build_plan(cfg, stage)
    if resolved_config:
        (run_dir / "config.yaml").write_text(resolved_config)
    if cfg.run.dry:
        text = f"pax plan (dry run) for {run_dir}\n{plan}"
        print(text, flush=True)
        (run_dir / "plan.txt").write_text(text + "\n")
        return None
    raise NotImplementedYet(f"the workflow (stage {stage!r})")
