# Sourced by scripts/run and scripts/test: make the venv complete, then activate it.
# Installs torch first (2.13.0 when none is importable: a CPU wheel, no CUDA
# download), then pax with its test extras at the exact versions of
# requirements.lock (the versions the suite last passed with). A stamp of
# pyproject.toml and the lock skips the install when nothing changed.
# PAX_LATEST=1 (scripts/test --latest) uses .venv-latest instead, made anew
# with the newest versions pyproject.toml allows, no lock.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCK="$ROOT/requirements.lock"
PY="${PYTHON:-python3}"
if [ "${PAX_LATEST:-0}" = 1 ]; then
    VENV="$ROOT/.venv-latest"
    echo "[pax] creating $VENV with the newest allowed versions (no lock)" >&2
    "$PY" -m venv --clear "$VENV"
    CONSTRAINT=()
else
    VENV="$ROOT/.venv"
    CONSTRAINT=(-c "$LOCK")
fi

if [ ! -f "$VENV/bin/activate" ]; then
    echo "[pax] creating $VENV" >&2
    "$PY" -m venv --clear "$VENV"  # --clear: a venv cut off while being made
fi
# shellcheck disable=SC1091
source "$VENV/bin/activate"

STAMP="$VENV/.pax-installed"
WANT="$(cat "$ROOT/pyproject.toml" "$LOCK" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]; then
    if ! python -c "import torch" 2>/dev/null; then
        echo "[pax] installing torch==2.13.0 (CPU wheel; GPU users install their CUDA torch first)" >&2
        python -m pip install -q --disable-pip-version-check "torch==2.13.0"
    fi
    echo "[pax] installing pax and its dependencies${CONSTRAINT:+ (pinned by requirements.lock)}" >&2
    python -m pip install -q --disable-pip-version-check "${CONSTRAINT[@]}" -e "$ROOT[test]"
    echo "$WANT" > "$STAMP"
fi
export TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1
