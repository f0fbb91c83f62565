"""Run tracking: records, the W&B sink, plots, progress and pax-compare.

The only package that imports matplotlib or wandb.
"""

from pax.tracking.records import METRICS_FILE, read_metrics
from pax.tracking.tracker import Tracker

__all__ = ["METRICS_FILE", "Tracker", "read_metrics"]
