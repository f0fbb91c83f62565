import pytest

from pax.tracking import Tracker, read_metrics
from tests.conftest import build
from tests.unit.tracking.synthetic import feed


@pytest.fixture
def files_only_cfg():
    """A real PaxConfig with W&B disabled (files only)."""
    return build(["wandb.mode=disabled"])


@pytest.fixture
def synthetic_records(tmp_path, files_only_cfg):
    """The metrics records of a synthetic IDG + AL run (W&B off)."""
    with Tracker(tmp_path / "run", cfg=files_only_cfg) as tracker:
        feed(tracker)
    return read_metrics(tmp_path / "run")
