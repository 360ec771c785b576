"""Node tools of the tests (tests/js): installed with `npm ci` on first use, skipped without node."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).parent / "js"


def node_modules() -> Path:
    """tests/js/node_modules, installed from package-lock.json if missing (one installer at a time)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed (apt-get install nodejs npm; .ci/run installs them)")
    return install()


def install() -> Path:
    """`npm ci` unless tests/js/node_modules is complete; a test that needs it meanwhile waits."""
    modules = JS / "node_modules"
    with (JS / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (modules / ".package-lock.json").exists():
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund"], cwd=JS, check=True, capture_output=True, timeout=600
            )
    return modules


if __name__ == "__main__":  # `make test` installs them beside the first tests instead of in one of them
    if shutil.which("npm") is not None:
        install()
