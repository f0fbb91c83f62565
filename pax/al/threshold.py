"""The adaptive uncertainty threshold of active learning (aims-PAX's c_x rule)."""

from __future__ import annotations

from collections import deque

import numpy as np


class Threshold:
    """threshold = (1 + c_x) * mean of the last `window` uncertainties.

    One history per key (system name, or one shared key). Until the history
    holds more than `warmup` values the threshold is undefined (None) and nothing
    crosses. Optional floor and ceiling (0 disables each) bound it; `freeze()`
    stops updates.
    """

    def __init__(
        self,
        c_x: float,
        window: int = 400,
        warmup: int = 10,
        floor: float = 0.0,
        ceiling: float = 0.0,
    ) -> None:
        self.c_x, self.window, self.warmup = c_x, window, warmup
        self.floor, self.ceiling = floor, ceiling
        self.history: dict[str, deque[float]] = {}
        self.frozen: dict[str, float] = {}

    def value(self, key: str) -> float | None:
        """The current threshold for key (eV/Å), or None during warm-up."""
        if key in self.frozen:
            return self.frozen[key]
        hist = self.history.get(key)
        if hist is None or len(hist) <= self.warmup:
            return None
        value = (1.0 + self.c_x) * float(np.mean(hist))
        if self.floor > 0:
            value = max(value, self.floor)
        if self.ceiling > 0:
            value = min(value, self.ceiling)
        return value

    def observe(self, key: str, uncertainty: float) -> None:
        """Add one uncertainty (eV/Å) to key's history (ignored when frozen)."""
        if key in self.frozen or not np.isfinite(uncertainty):
            return
        self.history.setdefault(key, deque(maxlen=self.window)).append(
            float(uncertainty)
        )

    def crossed(self, key: str, uncertainty: float) -> bool:
        """True when uncertainty exceeds key's threshold (never during warm-up)."""
        value = self.value(key)
        return value is not None and uncertainty > value

    def freeze(self) -> None:
        """Keep every threshold at its current value from now on."""
        for key in self.history:
            value = self.value(key)
            if value is not None:
                self.frozen[key] = value

    def state_dict(self) -> dict:
        """Everything needed to continue exactly."""
        return {
            "history": {k: list(v) for k, v in self.history.items()},
            "frozen": dict(self.frozen),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore from state_dict()."""
        self.history = {
            k: deque(v, maxlen=self.window) for k, v in state["history"].items()
        }
        self.frozen = dict(state["frozen"])
