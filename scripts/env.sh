# Sourced by scripts/run and scripts/test: make .venv complete, then activate it.
# Installs torch first (2.13.0 when none is importable: a CPU wheel, no CUDA
# download), then pax with its test extras. A stamp of pyproject.toml skips the
# install when nothing changed, so re-running is quick.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"

if [ ! -f "$VENV/bin/activate" ]; then
    echo "[pax] creating $VENV" >&2
    "$PY" -m venv --clear "$VENV"  # --clear: a venv cut off while being made
fi
# shellcheck disable=SC1091
source "$VENV/bin/activate"

STAMP="$VENV/.pax-installed"
WANT="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]; then
    if ! python -c "import torch" 2>/dev/null; then
        echo "[pax] installing torch==2.13.0 (CPU wheel; GPU users install their CUDA torch first)" >&2
        python -m pip install -q --disable-pip-version-check "torch==2.13.0"
    fi
    echo "[pax] installing pax and its dependencies" >&2
    python -m pip install -q --disable-pip-version-check -e "$ROOT[test]"
    echo "$WANT" > "$STAMP"
fi
export TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1
