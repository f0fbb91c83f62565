from pax.system.config import SystemConfig
from pax.system.geometry import load_systems

__all__ = ["SystemConfig", "load_systems"]
