"""Statistics of the label-efficiency benchmark: pure numpy, no pax.

Seeds are the unit of replication: every interval here is over independent
seeds of one arm (a pax run, a uniform draw, ...), never over frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats as sps


def t_interval(samples: Sequence[float], level: float = 0.95) -> dict:
    """Mean and Student-t interval of the mean over seeds.

    One sample gives a zero-width interval (no spread can be estimated).
    """
    x = np.asarray(samples, dtype=float)
    if x.size == 0:
        raise ValueError("t_interval needs at least one sample")
    mean = float(x.mean())
    if x.size == 1:
        return {"mean": mean, "lo": mean, "hi": mean, "seeds": 1}
    half = float(
        sps.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    )
    return {"mean": mean, "lo": mean - half, "hi": mean + half, "seeds": int(x.size)}


def labels_to_target(
    n_labels: Sequence[float], errors: Sequence[float], target: float
) -> float | None:
    """Labels at which a learning curve first reaches target, log-log interpolated.

    Between the last point above target and the next at or below it, log(error)
    is taken as linear in log(labels) (a power-law learning curve). A curve that
    starts at or below target gives its first label count (the instrument cannot
    resolve fewer); one that never gets there gives None (censored).
    """
    n = np.asarray(n_labels, dtype=float)
    e = np.asarray(errors, dtype=float)
    if n.size == 0 or n.size != e.size or np.any(np.diff(n) <= 0):
        raise ValueError("labels must be non-empty, increasing and match errors")
    if e[0] <= target:
        return float(n[0])
    for i in range(1, n.size):
        if e[i] <= target:
            x0, x1 = np.log(n[i - 1]), np.log(n[i])
            y0, y1 = np.log(e[i - 1]), np.log(e[i])
            frac = (np.log(target) - y0) / (y1 - y0)
            return float(np.exp(x0 + frac * (x1 - x0)))
    return None


def _quantiles(values: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval that keeps infinities (no interpolation across them)."""
    lo, hi = np.quantile(
        values, [0.5 - level / 2, 0.5 + level / 2], method="inverted_cdf"
    )
    return float(lo), float(hi)


def _bootstrap_labels(curves: np.ndarray, n_labels, target, rng, n_boot) -> np.ndarray:
    """Labels-to-target of the seed-mean curve over bootstrap resamples of seeds."""
    seeds = curves.shape[0]
    out = np.empty(n_boot)
    for b in range(n_boot):
        mean = curves[rng.integers(0, seeds, seeds)].mean(axis=0)
        hit = labels_to_target(n_labels, mean, target)
        out[b] = np.inf if hit is None else hit
    return out


def labels_interval(
    n_labels: Sequence[float],
    curves: Sequence[Sequence[float]],
    target: float,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict:
    """Labels to target of the seed-mean curve with a bootstrap interval over seeds.

    curves: (seeds, len(n_labels)) errors. `hi` is inf when more than the upper
    tail of resamples never reaches target; `reached` is that fraction.
    """
    c = np.asarray(curves, dtype=float)
    point = labels_to_target(n_labels, c.mean(axis=0), target)
    boot = _bootstrap_labels(c, n_labels, target, np.random.default_rng(seed), n_boot)
    lo, hi = _quantiles(boot, level)
    return {
        "labels": point,
        "lo": lo,
        "hi": hi,
        "reached": float(np.isfinite(boot).mean()),
    }


def ratio_interval(
    n_labels: Sequence[float],
    uniform: Sequence[Sequence[float]],
    pax: Sequence[Sequence[float]],
    target: float,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict:
    """Uniform/pax ratio of labels to target, seeds of each arm resampled apart.

    A resample where only pax reaches target counts as ratio inf, only uniform
    as 0; where neither does it is dropped (`usable` is the kept fraction).
    """
    u, p = np.asarray(uniform, dtype=float), np.asarray(pax, dtype=float)
    nu = labels_to_target(n_labels, u.mean(axis=0), target)
    npx = labels_to_target(n_labels, p.mean(axis=0), target)
    point = nu / npx if nu is not None and npx is not None else None
    rng = np.random.default_rng(seed)
    bu = _bootstrap_labels(u, n_labels, target, rng, n_boot)
    bp = _bootstrap_labels(p, n_labels, target, rng, n_boot)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = bu / bp
    r = r[~np.isnan(r)]
    if r.size == 0:
        return {"ratio": point, "lo": None, "hi": None, "usable": 0.0}
    lo, hi = _quantiles(r, level)
    return {"ratio": point, "lo": lo, "hi": hi, "usable": float(r.size / n_boot)}


def mean_ratio_interval(
    numerator: Sequence[float],
    denominator: Sequence[float],
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict:
    """Ratio of two arms' means over seeds, with a bootstrap interval.

    The seeds of each arm are resampled apart. A seed that never reached its
    target enters as inf (its mean is inf); resamples with inf/inf are dropped.
    """
    a, b = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    if a.size == 0 or b.size == 0:
        raise ValueError("mean_ratio_interval needs at least one seed per arm")
    rng = np.random.default_rng(seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        point = float(a.mean() / b.mean())
        r = np.array(
            [
                a[rng.integers(0, a.size, a.size)].mean()
                / b[rng.integers(0, b.size, b.size)].mean()
                for _ in range(n_boot)
            ]
        )
    r = r[~np.isnan(r)]
    lo, hi = _quantiles(r, level) if r.size else (None, None)
    return {"ratio": point, "lo": lo, "hi": hi, "usable": float(r.size / n_boot)}


def spread_order(n_items: int) -> list[int]:
    """0..n_items-1 ordered so every prefix of 2**m spreads evenly over the range.

    Position k of the base-2 van der Corput sequence maps to floor(vdc(k) * n);
    the first 2**m indices are then floor(j * n / 2**m), spaced n / 2**m apart.
    Duplicates (once 2**m exceeds n) are skipped.
    """
    order, seen, k = [], set(), 0
    while len(order) < n_items:
        vdc, denom, i = 0.0, 1.0, k
        while i:
            denom *= 2
            vdc += (i & 1) / denom
            i >>= 1
        idx = int(vdc * n_items)
        if idx not in seen:
            seen.add(idx)
            order.append(idx)
        k += 1
    return order


def quantile_abs(values: np.ndarray, q: float) -> float:
    """The q-quantile of |values| (e.g. 0.99 for the 99th-percentile force error)."""
    return float(np.quantile(np.abs(np.asarray(values, dtype=float)), q))
