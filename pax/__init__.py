"""pax: machine-learning force fields by parallel active exploration."""

import os as _os

# e3nn 0.4 calls torch.load without weights_only; torch >= 2.6 refuses that unless
# this is set before e3nn is first imported (mace sets it too, on its own import).
_os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")

__version__ = "0.1.0"
