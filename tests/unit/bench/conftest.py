"""Make scripts/bench importable as top-level modules (the scripts import each other so)."""

import sys

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts" / "bench"))
