"""`pax --version` names pax's commit and the science libraries' versions."""

import subprocess
import sys
from importlib.metadata import version


def test_pax_version_names_commit_and_libraries():
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.argv=['pax','--version']; "
            "from pax.cli import main; main()",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert out.startswith("pax ")
    for name in ("torch", "mace-torch", "e3nn", "ase", "parsl", "pyscf", "tblite"):
        assert f"{name} {version(name)}" in out
    assert "unknown commit" not in out  # the tests run from a git checkout
