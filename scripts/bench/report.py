"""Tables, result.json and figures of the label-efficiency benchmark."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import stats
from common import events, machine, table

METRICS = ("f_mae", "f_rmse", "e_mae_per_atom", "f_p99")


def curves(scored: dict, metric: str, temp: float) -> tuple[list[int], np.ndarray]:
    """N values and a (seeds, len(N)) array of one metric on one test set."""
    per_seed = [
        {row["n"]: row[metric] for row in res["rows"] if row["test_K"] == temp}
        for res in scored.values()
    ]
    ns = sorted(set.intersection(*(set(p) for p in per_seed)))
    return ns, np.array([[p[n] for n in ns] for p in per_seed])


def summarise(scored: dict, costs: dict, run_K: float, targets) -> dict:
    """Intervals over seeds of every metric, labels to target, ratios, stability."""
    out: dict = {"arms": {}, "ratios": {}}
    temps = sorted(
        {
            row["test_K"]
            for a in scored.values()
            for r in a.values()
            for row in r["rows"]
        }
    )
    for arm, by_seed in scored.items():
        entry = {"curves": {}, "labels_to_target": {}}
        for temp in temps:
            for metric in METRICS:
                ns, c = curves(by_seed, metric, temp)
                entry["curves"][f"{metric}@{temp:.0f}K"] = [
                    {"n": n, **stats.t_interval(c[:, j])} for j, n in enumerate(ns)
                ]
        ns, c = curves(by_seed, "f_mae", run_K)
        for t in targets:
            entry["labels_to_target"][str(t)] = stats.labels_interval(ns, c, t)
        runs = [r["stability"] for r in by_seed.values() if r["stability"]]
        entry["stability"] = (
            stats.t_interval([r["fraction_physical"] for r in runs]) if runs else None
        )
        entry["stability_runs"] = len(runs)
        entry["stability_steps"] = runs[0]["steps"] if runs else 0
        entry["cost"] = cost_summary(costs.get(arm, {}), by_seed)
        alone = [
            r["pretrained_only"] for r in by_seed.values() if r.get("pretrained_only")
        ]
        if alone:
            entry["pretrained_only"] = {
                f"f_mae@{temp:.0f}K": stats.t_interval(
                    [
                        row["f_mae"]
                        for rows in alone
                        for row in rows
                        if row["test_K"] == temp
                    ]
                )
                for temp in temps
            }
        out["arms"][arm] = entry
    ablations = [a for a in scored if a.startswith("ablation_")]
    pairs = [("uniform", "pax"), ("equal_cost", "pax")]
    pairs += [("uniform", a) for a in ablations]
    pretrained = [a for a in ablations if "pretrained_only" in out["arms"][a]]
    pairs += [("uniform_pretrained", a) for a in pretrained]
    pairs += [("uniform", "uniform_pretrained")]
    for arm, ours in pairs:
        if arm in scored and ours in scored:
            _, mine = curves(scored[ours], "f_mae", run_K)
            ns, other = curves(scored[arm], "f_mae", run_K)
            k = min(mine.shape[1], other.shape[1])
            out["ratios"][f"{arm}/{ours}"] = {
                str(t): stats.ratio_interval(ns[:k], other[:, :k], mine[:, :k], t)
                for t in targets
            }
    return out


def in_run_curve(run_dir: Path, ns) -> dict[int, float]:
    """A pax run's own learning curve: at each N, the members' mean validation
    F-MAE of the last epoch trained with at most N labels back, for the N the
    run reached (its own validation set, so not comparable across arms)."""
    back = [
        (e["time_s"], e["labels"])
        for e in events(run_dir, "sampling")
        if e.get("labels") is not None
    ]
    epochs: dict[int, tuple[int, list[float]]] = {}
    for e in events(run_dir, "train"):
        if e.get("valid_f_mae") is None:
            continue
        labels = max((n for t, n in back if t <= e["time_s"]), default=0)
        _, maes = epochs.setdefault(e["epoch_total"], (labels, []))
        maes.append(e["valid_f_mae"])
    curve = {}
    for n in (n for n in ns if n <= max((b for _, b in back), default=0)):
        fitting = [float(np.mean(m)) for labels, m in epochs.values() if labels <= n]
        if fitting:
            curve[n] = fitting[-1]
    return curve


def in_run_summary(out: Path, arms, ns) -> dict:
    """In-run curves of the arms that are pax runs: intervals over seeds per N."""
    result = {}
    for arm in arms:
        runs = sorted((out / "runs").glob(f"{arm}_s*"))
        curves_ = [in_run_curve(r, ns) for r in runs if (r / "metrics.jsonl").exists()]
        common_ns = [n for n in ns if curves_ and all(n in c for c in curves_)]
        if common_ns:
            result[arm] = [
                {"n": n, **stats.t_interval([c[n] for c in curves_])} for n in common_ns
            ]
    return result


def cost_summary(costs: dict, scored: dict) -> dict:
    """Means over seeds of the arm's cost, with the 1 min/call projection (h) of
    the expensive calls (not the xTB sampler's steps nor the cheap pretraining
    labels)."""

    def mean(key):
        vals = [c[key] for c in costs.values() if c.get(key) is not None]
        return float(np.mean(vals)) if vals else None

    calls, sampler = mean("reference_calls") or 0.0, mean("idg_sampler_steps") or 0.0
    cheap = mean("pretrain_labels") or 0.0
    return {
        "labels": mean("labels"),
        "idg_labels": mean("idg_labels_in_budget"),
        "reference_calls": calls,
        "idg_sampler_steps": sampler,
        "pretrain_labels": cheap,
        "mlff_md_steps": mean("mlff_md_steps"),
        "arm_wall_s": mean("wall_s"),
        "retrain_wall_s": float(np.mean([r["train_wall_s"] for r in scored.values()])),
        "projected_h_at_1min_per_call": (calls - sampler - cheap) / 60.0,
    }


def fmt_iv(iv: dict, key: str = "mean", spec: str = ".3f") -> str:
    """'x [lo, hi]', inf and None spelled out."""

    def f(v):
        if v is None:
            return "not reached"
        return "inf" if math.isinf(v) else format(v, spec)

    return f"{f(iv[key])} [{f(iv['lo'])}, {f(iv['hi'])}]"


def markdown(summary: dict, s: dict, args, wall_s: float, targets) -> str:
    """result.md: setting line, error, labels-to-target, ratio, stability, cost tables."""
    arms = summary["arms"]
    first = next(iter(arms.values()))
    keys = [k for k in first["curves"] if k.startswith("f_mae@")]
    parts = [
        f"label efficiency ({args.mode}): {s['system']}, reference {args.reference}, "
        f"runs at {args.temperature_K:.0f} K, {s['seeds']} seeds per arm"
        + (
            f" (held out: seeds from {s['first_seed']}, test trajectories from "
            f"{s['test']['first_trajectory']}), "
            if s.get("first_seed")
            else ", "
        )
        + f"each model ({s['score_members']} members) trained for {s['epochs']} "
        f"epochs or at least {s['min_grad_steps']} gradient steps; machine: "
        f"{machine()}; total {wall_s:.0f} s. Intervals: 95% over seeds."
    ]
    for metric in METRICS:
        for key in [k.replace("f_mae", metric) for k in keys]:
            ns = [p["n"] for p in first["curves"][key]]
            rows = [
                [arm, *[fmt_iv(p, spec=".4f") for p in e["curves"][key]]]
                for arm, e in arms.items()
            ]
            parts += [
                f"Test {key} (eV/Å or eV/atom) against labels:",
                table(["arm", *[f"N={n}" for n in ns]], rows),
            ]
    rows = [
        [
            arm,
            *[fmt_iv(e["labels_to_target"][str(t)], "labels", ".0f") for t in targets],
        ]
        for arm, e in arms.items()
    ]
    parts += [
        f"Labels to reach the test F-MAE target at {args.temperature_K:.0f} K "
        "(log-log interpolation; bootstrap over seeds):",
        table(["arm", *[f"{t} eV/Å" for t in targets]], rows),
    ]
    rows = [
        [name, *[fmt_iv(r[str(t)], "ratio", ".2f") for t in targets]]
        for name, r in summary["ratios"].items()
    ]
    if rows:
        parts += [
            "Ratio of labels to target (goal for pax: uniform/pax >= 2):",
            table(["ratio", *[f"{t} eV/Å" for t in targets]], rows),
        ]
    rows = [
        [arm, *[fmt_iv(e["pretrained_only"][k], spec=".4f") for k in keys]]
        for arm, e in arms.items()
        if "pretrained_only" in e
    ]
    if rows:
        parts += [
            "Pretrained arms: the ensemble pretrained on the cheap labels alone "
            "(0 expensive labels), test F-MAE (eV/Å):",
            table(["arm", *keys], rows),
        ]
    in_run = summary.get("in_run", {})
    if in_run:
        ns = sorted({p["n"] for c in in_run.values() for p in c})
        rows = [
            [
                arm,
                *[
                    next((fmt_iv(p, spec=".4f") for p in c if p["n"] == n), "–")
                    for n in ns
                ],
            ]
            for arm, c in in_run.items()
        ]
        parts += [
            "In-run learning curves: the pax runs' own ensembles, members' mean "
            "validation F-MAE (eV/Å) on each run's own validation set at the last "
            "epoch with at most N labels back (not comparable across arms):",
            table(["arm", *[f"N={n}" for n in ns]], rows),
        ]
    rows = [
        [
            arm,
            fmt_iv(e["stability"], spec=".2f"),
            e["stability_steps"] * 0.5 / 1000,
            e["stability_runs"],
        ]
        for arm, e in arms.items()
        if e["stability"]
    ]
    if rows:
        parts += [
            "Fraction of 8 MLFF Langevin runs from the start geometry that stay "
            "physical (final model of the first seeds; interval over those seeds):",
            table(["arm", "fraction physical", "length (ps)", "seeds"], rows),
        ]
    rows = [
        [
            arm,
            *[
                _num(e["cost"][k])
                for k in (
                    "labels",
                    "idg_labels",
                    "reference_calls",
                    "pretrain_labels",
                    "mlff_md_steps",
                    "retrain_wall_s",
                    "arm_wall_s",
                    "projected_h_at_1min_per_call",
                )
            ],
        ]
        for arm, e in arms.items()
    ]
    parts += [
        "Cost per arm (means over seeds; reference calls include every reference "
        "MD step, pax's xTB IDG sampler steps and the cheap pretraining labels; "
        "projection: the other reference calls at 1 min each):",
        table(
            [
                "arm",
                "labels",
                "of them IDG",
                "reference calls",
                "of them cheap pretraining",
                "MLFF MD steps",
                "retraining wall (s)",
                "arm wall (s)",
                "projected (h)",
            ],
            rows,
        ),
    ]
    return "\n\n".join(parts) + "\n"


def _num(v) -> str:
    return "–" if v is None else f"{v:.0f}" if abs(v) >= 10 else f"{v:.2f}"


def figures(summary: dict, out: Path, targets) -> list[Path]:
    """test F-MAE vs labels with bands (one panel per test temperature); target bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = summary["arms"]
    keys = [k for k in next(iter(arms.values()))["curves"] if k.startswith("f_mae@")]
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 4), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for arm, e in arms.items():
            c = e["curves"][key]
            n = [p["n"] for p in c]
            ax.plot(n, [p["mean"] for p in c], marker="o", label=arm)
            # a t-interval can reach below 0 with few seeds; the band stops at mean/10
            ax.fill_between(
                n,
                [max(p["lo"], p["mean"] / 10) for p in c],
                [p["hi"] for p in c],
                alpha=0.2,
            )
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="labels",
            ylabel="test F-MAE (eV/Å)",
            title=key.split("@")[1],
            xticks=n,
            xticklabels=[str(v) for v in n],
        )
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    paths = [out / "mae_vs_labels.png"]
    fig.savefig(paths[0], dpi=120)
    fig, ax = plt.subplots(figsize=(6, 4))
    width = 0.8 / len(arms)
    for i, (arm, e) in enumerate(arms.items()):
        for j, t in enumerate(targets):
            iv = e["labels_to_target"][str(t)]
            if iv["labels"] is None:
                continue
            hi = iv["hi"] if math.isfinite(iv["hi"]) else iv["labels"] * 2
            ax.bar(
                j + i * width,
                iv["labels"],
                width,
                color=f"C{i}",
                label=arm if arm not in ax.get_legend_handles_labels()[1] else None,
                yerr=[[iv["labels"] - iv["lo"]], [hi - iv["labels"]]],
                capsize=3,
            )
    ax.set(
        xticks=[j + 0.4 - width / 2 for j in range(len(targets))],
        xticklabels=[f"{t} eV/Å" for t in targets],
        ylabel="labels to target",
    )
    if ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(out / "labels_to_target.png")
    fig.savefig(paths[1], dpi=120)
    plt.close("all")
    return paths


def write(out: Path, s: dict, args, costs: dict, scored: dict, targets, wall_s) -> None:
    """result.json, result.md and the figures under out; print the tables.

    result.json gets the scores first, so a failing summary or figure loses none.
    """
    record = {
        "mode": args.mode,
        "setting": s,
        "reference": args.reference,
        "temperature_K": args.temperature_K,
        "machine": machine(),
        "wall_s": wall_s,
        "costs": costs,
        "scored": scored,
    }
    path = out / "result.json"
    path.write_text(json.dumps(record, indent=1, default=str))
    summary = summarise(scored, costs, args.temperature_K, targets)
    summary["in_run"] = in_run_summary(out, costs, s["ns"])
    text = markdown(summary, s, args, wall_s, targets)
    (out / "result.md").write_text(text)
    figs = figures(summary, out, targets)
    record.update(summary=summary, figures=[p.name for p in figs])
    path.write_text(json.dumps(record, indent=1, default=str))
    print(text)
