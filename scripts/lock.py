"""Write requirements.lock: the exact versions installed in this venv.

torch is left out (scripts/env.sh installs it first, CPU or the user's CUDA
build); so are pax itself and CUDA runtime wheels.
Usage: python scripts/lock.py requirements.lock
"""

import subprocess
import sys
from datetime import date

SKIP_NAMES = ("torch", "pax", "triton")
SKIP_PREFIXES = ("nvidia-",)


def main(path: str) -> None:
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    pins = sorted((line for line in frozen if _pinned(line)), key=str.lower)
    header = [
        "# Exact versions the test suite passed with; scripts/run and scripts/test",
        "# install with `pip install -c requirements.lock`. Refresh: scripts/test --latest",
        f"# Written {date.today().isoformat()} by scripts/lock.py (Python {sys.version.split()[0]}).",
    ]
    with open(path, "w") as out:
        out.write("\n".join(header + pins) + "\n")


def _pinned(line: str) -> bool:
    """A pin to keep: name==version, not torch, pax, triton or CUDA runtime wheels."""
    name = line.split("==")[0].lower()
    return (
        "==" in line and name not in SKIP_NAMES and not name.startswith(SKIP_PREFIXES)
    )


if __name__ == "__main__":
    main(sys.argv[1])
