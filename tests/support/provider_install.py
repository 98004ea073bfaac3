"""Install this checkout's provider for tests and benchmarks without touching the real ``HOME``.

The launcher finds its interpreter through a per-user pointer file under ``$XDG_CONFIG_HOME``
(see ``tfprovider.installer``). Tests and benchmarks point ``XDG_CONFIG_HOME`` at a private
directory once per process, so every launch they make (which inherits the environment) finds the
pointer there, exactly as a user's launches find theirs.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

from tfprovider.installer import Installation, install

_MARK = "TFPROVIDER_TEST_CONFIG_HOME"


def private_config_home() -> Path:
    """This process's private ``XDG_CONFIG_HOME`` (created and exported on first use)."""
    existing = os.environ.get(_MARK)
    if existing and os.environ.get("XDG_CONFIG_HOME") == existing:
        return Path(existing)
    path = Path(tempfile.mkdtemp(prefix="tfprovider-config-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    os.environ["XDG_CONFIG_HOME"] = os.environ[_MARK] = str(path)
    return path


def install_provider(plugins_dir: Path) -> Installation:
    """The launcher in ``plugins_dir``, run by this interpreter (the project venv's under `make`)."""
    private_config_home()
    return install(plugins_dir, python=sys.executable)
