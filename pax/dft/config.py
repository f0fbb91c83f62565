"""Schema of the `dft` group: what every reference method's settings share.

Each method's own schema subclasses DFTConfig in the method's module
(`pax/dft/xtb.py`: XTBConfig, ...); `pax.dft.METHODS` lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pax.errors import ConfigError


@dataclass
class DFTConfig:
    """Settings every reference method shares."""

    kind: ClassVar[str] = ""
    """The preset's name (conf/dft/<kind>.yaml) and the method's registry key."""
    periodic_ok: ClassVar[bool] = True
    """Whether the method labels periodic cells; if not, they are refused."""

    timeout_s: float = 600.0
    """Wall-clock limit of one calculation (s); past it the label is 'failed'."""
    charge: int | None = None
    """Total charge (e); None takes system.charge."""
    multiplicity: int | None = None
    """Spin multiplicity 2S+1; None takes system.multiplicity."""

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ConfigError("dft.timeout_s", self.timeout_s, "must be > 0")
        if self.multiplicity is not None and self.multiplicity < 1:
            raise ConfigError("dft.multiplicity", self.multiplicity, "must be >= 1")

    @classmethod
    def elements(cls) -> frozenset[int] | None:
        """Atomic numbers the method has parameters for; None: every element."""
        return None
